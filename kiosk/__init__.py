"""kiosk/ — see README.md."""
