"""Forensics for AWS Step Functions executions: what ran, what was lost, and why."""

__version__ = "0.1.0"
