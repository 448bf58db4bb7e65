"""Reading and summarizing `poll_results.json`, the per-batch trail of one ingest execution."""

from sfn_forensics.pollresults.reader import (
    PollResultsFormatError,
    PollResultsReader,
    iter_poll_results,
)
from sfn_forensics.pollresults.summary import (
    BatchTrail,
    PollResultsSummary,
    TrailStep,
    reconcile_trail,
    summarize,
)

__all__ = [
    "BatchTrail",
    "PollResultsFormatError",
    "PollResultsReader",
    "PollResultsSummary",
    "TrailStep",
    "iter_poll_results",
    "reconcile_trail",
    "summarize",
]
