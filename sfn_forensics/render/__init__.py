"""Output formats. Each module renders a `Report` and never judges it."""
