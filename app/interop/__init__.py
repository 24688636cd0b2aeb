"""Files in and out: CSV/XLSX, vCard and iCalendar, defended against hostile input."""
