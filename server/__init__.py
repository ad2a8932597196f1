"""Luot: the central server."""
