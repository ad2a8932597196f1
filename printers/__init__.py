"""printers/ — see README.md."""
