"""Checks for chapter module losses (being written)."""
