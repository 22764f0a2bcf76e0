"""Checks for chapter module network (being written)."""
