"""Checks for chapter module optim (being written)."""
