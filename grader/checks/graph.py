"""Checks for chapter module graph (being written)."""
