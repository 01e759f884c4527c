"""Helpers that test modules in more than one folder use (one module per subject)."""
