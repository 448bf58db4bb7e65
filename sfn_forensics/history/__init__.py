"""Reconstruction of an execution from its history events."""
