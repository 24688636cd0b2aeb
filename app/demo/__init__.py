"""The demo office: a realistic team and its simulated teammates."""
