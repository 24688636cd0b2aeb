"""The sales use cases: forecast roll-ups, periods, quotas and rates, quick add, recognition."""
