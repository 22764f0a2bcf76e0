"""Checks for chapter module functions (being written)."""
