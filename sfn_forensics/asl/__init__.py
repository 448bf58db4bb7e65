"""Amazon States Language definitions: parsing, data flow between states, and Lambda targets.

This package imports nothing else of sfn_forensics. It raises ValueError for invalid input,
and callers map that onto their own errors.
"""

from sfn_forensics.asl.dataflow import DropCause, explain_key_drop, state_reads_key
from sfn_forensics.asl.definition import (
    JSONATA,
    JSONPATH,
    ChoiceThreshold,
    Definition,
    StateDef,
    canonical_path,
    choice_threshold,
    parse_definition,
    value_at,
)
from sfn_forensics.asl.lambdas import LambdaRef, lambda_functions, log_group_for

__all__ = [
    "JSONATA",
    "JSONPATH",
    "ChoiceThreshold",
    "Definition",
    "DropCause",
    "LambdaRef",
    "StateDef",
    "canonical_path",
    "choice_threshold",
    "explain_key_drop",
    "lambda_functions",
    "log_group_for",
    "parse_definition",
    "state_reads_key",
    "value_at",
]
