"""Checks for chapter module regularization (being written)."""
