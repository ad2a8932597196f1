"""The queue engine: plain Python rules for tickets, counters and calls (standard library only)."""
