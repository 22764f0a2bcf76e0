"""Checks for chapter module conv (being written)."""
