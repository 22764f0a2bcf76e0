"""Checks for chapter module init (being written)."""
