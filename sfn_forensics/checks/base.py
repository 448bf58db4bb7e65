"""The check interface: each check module declares a `SPEC` and a `run(context)` function."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sfn_forensics.checks.model import Severity

if TYPE_CHECKING:
    from sfn_forensics.asl.definition import Definition
    from sfn_forensics.evidence.model import Evidence
    from sfn_forensics.history.dataflow import KeyDrop
    from sfn_forensics.history.model import ExecutionRun
    from sfn_forensics.profiles.engine import ProfileFacts


class Inconclusive(Exception):
    """Raised by a check that cannot decide with the evidence at hand."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CodeSpec:
    """A finding code a check may emit, with its default severity and meaning."""

    code: str
    severity: Severity
    meaning: str


@dataclass(frozen=True)
class CheckSpec:
    name: str
    description: str
    codes: tuple[CodeSpec, ...]
    # Evidence sources (names from evidence.model) the check cannot run without.
    requires: tuple[str, ...] = ("history",)
    # True when the check only makes sense with a workflow profile.
    needs_profile: bool = False


@dataclass
class CheckContext:
    """Everything a check may read. Checks never fetch and never print."""

    evidence: Evidence
    run: ExecutionRun
    definition: Definition | None
    facts: ProfileFacts | None
    key_drops: list[KeyDrop]
    # Results of other analyses (logs, poll results, snapshot, embeddings) by name.
    extras: dict[str, Any] = field(default_factory=dict)
