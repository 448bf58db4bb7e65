"""The list of check modules, in the order their findings are reported."""

from __future__ import annotations

import importlib
from types import ModuleType

CHECK_MODULES = (
    "execution_status",
    "state_failures",
    "map_iterations",
    "output_dropped",
    "stage_counts",
    "group_merge_errors",
    "final_merge",
    "log_signals",
    "embeddings_lost",
    "batch_trail",
    "snapshot_integrity",
)


def load_checks() -> list[ModuleType]:
    return [importlib.import_module(f"sfn_forensics.checks.{name}") for name in CHECK_MODULES]
