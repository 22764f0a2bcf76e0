"""Checks for chapter module perceptron (being written)."""
