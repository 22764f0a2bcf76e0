"""Runnable demos of the kit, e.g. `python -m examples.digits_cnn` from the repository root."""
