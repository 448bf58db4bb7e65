"""One-pass summary of poll_results entries, and the batch trail across pipeline steps."""

from __future__ import annotations

import heapq
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sfn_forensics.pollresults.reader import PollResultsReader

log = logging.getLogger(__name__)

# Actions after which the poll Lambda downloaded the batch output and wrote a delta.
PROCESSED_ACTIONS = frozenset({"process_results", "process_partial"})

# Actions the poll Lambda writes. Other values are still counted and listed in unknown_actions.
KNOWN_ACTIONS = frozenset(
    {"process_results", "process_partial", "handle_failure", "wait", "handle_cancellation", "error"}
)

# How many ids a report lists before it gives only the count.
MAX_LISTED_IDS = 20

# Count keys for entries whose batch_status or action is absent or not a string.
MISSING_VALUE = "(missing)"
INVALID_VALUE = "(not a string)"

UNKNOWN_STEP_REASON = "batch ids not available for this step"


@dataclass
class PollResultsSummary:
    """Counts over one poll_results file.

    `entries` counts JSON objects. `invalid_entries` counts array elements that are not objects.
    `duplicate_batch_ids` lists the first 20 repeated ids in file order, and
    `duplicate_batch_id_count` counts every distinct id that appears more than once.
    Sums of embedding_count and results_count cover processed entries only (action
    process_results or process_partial). A processed entry whose value is missing, not an integer
    or negative is left out of the sum and counted in `embedding_count_missing` or
    `results_count_missing`.
    """

    entries: int = 0
    invalid_entries: int = 0
    entries_without_batch_id: int = 0
    unique_batch_ids: int = 0
    duplicate_batch_ids: list[str] = field(default_factory=list)
    duplicate_batch_id_count: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)
    unknown_actions: list[str] = field(default_factory=list)
    processed_entries: int = 0
    embedding_count: int = 0
    embedding_count_missing: int = 0
    results_count: int = 0
    results_count_missing: int = 0
    processed_batch_ids: set[str] = field(default_factory=set)
    batch_ids: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        """Return the counts as JSON-ready data.

        The full id sets are left out because they can contain hundreds of thousands of ids.
        `reconcile_trail` reports the ids that differ between steps.
        """
        return {
            "entries": self.entries,
            "invalid_entries": self.invalid_entries,
            "entries_without_batch_id": self.entries_without_batch_id,
            "unique_batch_ids": self.unique_batch_ids,
            "duplicate_batch_ids": list(self.duplicate_batch_ids),
            "duplicate_batch_id_count": self.duplicate_batch_id_count,
            "by_status": dict(sorted(self.by_status.items())),
            "by_action": dict(sorted(self.by_action.items())),
            "unknown_actions": list(self.unknown_actions),
            "processed_entries": self.processed_entries,
            "processed_batch_ids": len(self.processed_batch_ids),
            "embedding_count": self.embedding_count,
            "embedding_count_missing": self.embedding_count_missing,
            "results_count": self.results_count,
            "results_count_missing": self.results_count_missing,
        }


def _count_key(entry: Mapping[str, Any], name: str) -> str:
    value = entry.get(name)
    if name not in entry or value is None:
        return MISSING_VALUE
    if not isinstance(value, str):
        return INVALID_VALUE
    return value


def _count_value(value: Any) -> int | None:
    """Return `value` when it is a non-negative JSON integer (bool excluded), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def summarize(entries: Iterable[Any]) -> PollResultsSummary:
    """Summarize poll_results entries in one pass.

    Memory grows with the number of distinct batch ids, not with the number of entries. Elements
    that are not dicts count as invalid. When `entries` is the reader from `iter_poll_results`,
    the elements that it skipped as non-objects are added to `invalid_entries` after the pass.
    """
    summary = PollResultsSummary()
    status_counts: Counter[str] = Counter()
    action_counts: Counter[str] = Counter()
    duplicates: set[str] = set()

    for entry in entries:
        if not isinstance(entry, dict):
            summary.invalid_entries += 1
            continue
        summary.entries += 1
        status_counts[_count_key(entry, "batch_status")] += 1
        action = _count_key(entry, "action")
        action_counts[action] += 1

        batch_id = entry.get("batch_id")
        if isinstance(batch_id, str) and batch_id:
            if batch_id in summary.batch_ids:
                if batch_id not in duplicates:
                    duplicates.add(batch_id)
                    if len(summary.duplicate_batch_ids) < MAX_LISTED_IDS:
                        summary.duplicate_batch_ids.append(batch_id)
            else:
                summary.batch_ids.add(batch_id)
        else:
            batch_id = None
            summary.entries_without_batch_id += 1

        if action not in PROCESSED_ACTIONS:
            continue
        summary.processed_entries += 1
        if batch_id is not None:
            summary.processed_batch_ids.add(batch_id)
        embedding_count = _count_value(entry.get("embedding_count"))
        if embedding_count is None:
            summary.embedding_count_missing += 1
        else:
            summary.embedding_count += embedding_count
        results_count = _count_value(entry.get("results_count"))
        if results_count is None:
            summary.results_count_missing += 1
        else:
            summary.results_count += results_count

    if isinstance(entries, PollResultsReader):
        summary.invalid_entries += entries.invalid_entries

    summary.unique_batch_ids = len(summary.batch_ids)
    summary.duplicate_batch_id_count = len(duplicates)
    summary.by_status = dict(status_counts)
    summary.by_action = dict(action_counts)
    expected_actions = KNOWN_ACTIONS | {MISSING_VALUE, INVALID_VALUE}
    summary.unknown_actions = sorted(name for name in action_counts if name not in expected_actions)
    log.debug(
        "summarized %d poll_results entries: %d batch ids, %d duplicated, %d processed",
        summary.entries,
        summary.unique_batch_ids,
        summary.duplicate_batch_id_count,
        summary.processed_entries,
    )
    return summary


@dataclass
class TrailStep:
    """One step of the batch trail, compared with the closest earlier step whose ids are known.

    `missing_ids` are ids of that earlier step absent here, `extra_ids` ids present here only.
    Both list at most 20 sorted ids, and the counts cover all of them. An unknown step has
    `count` None and a `reason`, and is compared with nothing.
    """

    name: str
    count: int | None
    reason: str | None = None
    compared_with: str | None = None
    missing_ids: list[str] = field(default_factory=list)
    missing_count: int = 0
    extra_ids: list[str] = field(default_factory=list)
    extra_count: int = 0

    @property
    def known(self) -> bool:
        return self.count is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "reason": self.reason,
            "compared_with": self.compared_with,
            "missing_ids": list(self.missing_ids),
            "missing_count": self.missing_count,
            "extra_ids": list(self.extra_ids),
            "extra_count": self.extra_count,
        }


@dataclass
class BatchTrail:
    """The batch ids seen at each pipeline step, in pipeline order."""

    steps: list[TrailStep]

    def step(self, name: str) -> TrailStep | None:
        """Return the step called `name`, or None."""
        for step in self.steps:
            if step.name == name:
                return step
        return None

    def first_loss(self) -> TrailStep | None:
        """Return the first step that is missing ids of the step before it, or None."""
        for step in self.steps:
            if step.missing_count:
                return step
        return None

    def to_json(self) -> dict[str, Any]:
        return {"steps": [step.to_json() for step in self.steps]}


def reconcile_trail(
    steps: list[tuple[str, set[str] | None]],
    reasons: Mapping[str, str] | None = None,
) -> BatchTrail:
    """Compare the batch ids of consecutive pipeline steps, e.g. listed, polled, processed.

    A step whose ids are None is unknown: it gets `reasons[name]` (or a generic reason) and the
    next known step is compared with the last known step before it.
    """
    reasons = reasons or {}
    trail: list[TrailStep] = []
    previous: tuple[str, set[str]] | None = None

    for name, ids in steps:
        if ids is None:
            trail.append(
                TrailStep(name=name, count=None, reason=reasons.get(name, UNKNOWN_STEP_REASON))
            )
            continue

        step = TrailStep(name=name, count=len(ids))
        if previous is not None:
            previous_name, previous_ids = previous
            missing = previous_ids - ids
            extra = ids - previous_ids
            step.compared_with = previous_name
            step.missing_ids = heapq.nsmallest(MAX_LISTED_IDS, missing)
            step.missing_count = len(missing)
            step.extra_ids = heapq.nsmallest(MAX_LISTED_IDS, extra)
            step.extra_count = len(extra)
        trail.append(step)
        previous = (name, ids)

    return BatchTrail(steps=trail)
