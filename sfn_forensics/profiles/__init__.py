"""Declarative workflow profiles: state roles, counts and expected values as data."""
