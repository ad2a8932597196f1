"""counter_display/ — see README.md."""
