"""Checks turn a run, a definition and profile facts into findings; the verdict follows."""
