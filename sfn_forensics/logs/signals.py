"""Find log lines that point at a problem: lost data, errors, timeouts and memory exhaustion.

Data loss is the case that matters most. A step that processes part of its input and reports it
only in a WARNING line ("Group has 20 chunks, processing first 10") still succeeds in the
execution history. The patterns that recognise such lines are in `LOSS_PATTERNS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sfn_forensics.logs.model import LogLine, LogSignal

ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})


@dataclass(frozen=True)
class LossPattern:
    """A case-insensitive pattern for a line saying that data was not processed.

    Named groups `kept`, `total` and `lost` in `regex` give the counts directly.
    """

    name: str
    regex: re.Pattern[str]
    reason: str


def _pattern(name: str, regex: str, reason: str) -> LossPattern:
    return LossPattern(name, re.compile(regex, re.IGNORECASE), reason)


_COUNT_VERBS = (
    r"(?:process(?:es|ed|ing)?|us(?:es|ed|ing)|keep(?:s|ing)?|kept|tak(?:es|en|ing)|took"
    r"|read(?:s|ing)?|handl(?:es|ed|ing)|merg(?:es|ed|ing)|return(?:s|ed|ing)?)"
)

LOSS_PATTERNS: tuple[LossPattern, ...] = (
    # "processing first 10", "processed only the first 10", "merging the first 10 chunks".
    # A verb must come first, so "the first 10 chunks are ready" does not match.
    _pattern(
        "first_n",
        rf"\b{_COUNT_VERBS}\s+(?:only\s+)?(?:the\s+)?first\s+(?P<kept>\d+)\b",
        "processed only the first items",
    ),
    # "only 10 of 20", "only 10 chunks out of 20".
    _pattern(
        "only_n_of_m",
        r"\bonly\s+(?P<kept>\d+)\s+(?:\w+\s+)?(?:of|out\s+of)\s+(?P<total>\d+)\b",
        "processed only part of the items",
    ),
    # "limited to 10", "limiting to the first 10", "limit to 10". A bare "rate limit" or
    # "limit exceeded" has no count after "to" and does not match.
    _pattern(
        "limited_to_n",
        r"\blimit(?:s|ed|ing)?\s+to\s+(?:the\s+)?(?:first\s+)?(?P<kept>\d+)\b",
        "limited the number of items",
    ),
    # "capped at 10", "capping to 10".
    _pattern(
        "capped_at_n",
        r"\bcapp(?:ed|ing)\s+(?:at|to)\s+(?P<kept>\d+)\b",
        "capped the number of items",
    ),
    # "Skipping invalid S3 reference", "skipped 3 records". "skip" alone (an option name such as
    # skip_empty) does not match.
    _pattern("skipped", r"\bskipp(?:ed|ing)\b", "skipped items"),
    # "truncated", "truncating", "truncation". "truncated: false" is rejected by the check for
    # a following negative value.
    _pattern("truncated", r"\btruncat(?:e|es|ed|ing|ion)\b", "truncated data"),
    # "Filtering out error response", "filtered out 3". "Applying filter" and "filter
    # expression" do not match because "out" must follow.
    _pattern("filtered_out", r"\bfilter(?:s|ed|ing)?\s+out\b", "filtered out items"),
    # "dropped 3 records", "dropping duplicates". A dropped connection or socket loses no data.
    _pattern(
        "dropped",
        r"\bdropp(?:ed|ing)\b(?!\s+(?:the\s+|a\s+)?(?:connection|socket|session|lock)s?\b)",
        "dropped items",
    ),
    # "ignored 3", "ignoring 2 records". "ignoring" without a count is too common to count as loss.
    _pattern("ignored_n", r"\bignor(?:ed|ing)\s+(?P<lost>\d+)\b", "ignored items"),
    # "discarded", "discarding".
    _pattern("discarded", r"\bdiscard(?:ed|ing)\b", "discarded items"),
)

# A negation earlier in the same clause: "No records were skipped", "nothing truncated",
# "0 records dropped".
_NEGATION_BEFORE = re.compile(
    r"(?:\b(?:no|not|never|none|nothing|zero|without)\b[^.;,:!?\n]{0,40}|\b0\s+(?:\w+\s+){0,2})$",
    re.IGNORECASE,
)
# A negative value right after the match: "truncated: false", "skipped=0", "Skipped 0 items".
_NEGATION_AFTER = re.compile(
    r"^\s*(?:[:=]\s*)?[\"']?(?:false|no|none|0)\b(?![.,]\d)", re.IGNORECASE
)
_CLAUSE_END = re.compile(r"[.;,:!?\n]")

_LOSS_VERB = (
    r"(?:skipp(?:ed|ing)|dropp(?:ed|ing)|ignor(?:ed|ing)|discard(?:ed|ing)"
    r"|filter(?:ed|ing)\s+out|truncat(?:ed|ing))"
)
_LOST_AFTER_VERB = re.compile(rf"\b{_LOSS_VERB}\s+(?P<lost>\d+)\b", re.IGNORECASE)
_LOST_BEFORE_VERB = re.compile(
    r"\b(?P<lost>\d+)\s+(?:\w+\s+){0,2}(?:were\s+|was\s+)?"
    r"(?:skipped|dropped|ignored|discarded|filtered\s+out|truncated)\b",
    re.IGNORECASE,
)
_TOTAL = (
    re.compile(r"\b(?:has|have|had|contains|received)\s+(?P<total>\d+)\b", re.IGNORECASE),
    re.compile(r"\b(?P<total>\d+)\s+(?:\w+\s+)?(?:in\s+)?total\b", re.IGNORECASE),
    re.compile(r"\btotal(?:\s+of)?\s*[:=]?\s*(?P<total>\d+)\b", re.IGNORECASE),
)
# "of 20" right after a count: "first 10 of 20", "skipped 3 out of 20".
_TOTAL_AFTER_COUNT = re.compile(
    r"\b\d+\s+(?:\w+\s+)?(?:of|out\s+of)\s+(?P<total>\d+)\b", re.IGNORECASE
)

# Words that mark a structured field or metric as a count or flag of lost items, matched against
# the key split into lower-case words: skipped_count, droppedRecords, is_truncated, SkippedChunks.
_LOSS_FIELD_WORDS = frozenset(
    {"skipped", "dropped", "truncated", "ignored", "discarded", "omitted"}
)


def find_signals(lines: Iterable[LogLine]) -> list[LogSignal]:
    """Return the signals found in the lines, in line order.

    A line can give several signals of different kinds (an ERROR line that also reports skipped
    items gives "error" and "data_loss"), but at most one of each kind.
    """
    line_list = list(lines)
    timed_out = {
        line.request_id for line in line_list if line.kind == "timeout" and line.request_id
    }
    signals: list[LogSignal] = []
    for line in line_list:
        signals.extend(_signals_of(line, timed_out))
    return signals


def find_data_loss(line: LogLine) -> LogSignal | None:
    """Return the data-loss signal of one line, from its message text or its structured fields."""
    if line.kind == "metric":
        return _loss_from_fields(line, line.metrics, source="metric")
    if line.kind != "message":
        return None
    return _loss_from_text(line) or _loss_from_fields(line, line.fields, source="field")


def _signals_of(line: LogLine, timed_out: set[str]) -> list[LogSignal]:
    signals: list[LogSignal] = []
    loss = find_data_loss(line)
    if loss is not None:
        signals.append(loss)
    if line.kind == "message" and line.level in ERROR_LEVELS:
        signals.append(LogSignal(kind="error", line=line, reason=f"{line.level} line"))
    if line.kind == "timeout":
        seconds = line.fields.get("timeout_seconds")
        reason = "Lambda invocation timed out"
        if isinstance(seconds, float):
            reason = f"Lambda invocation timed out after {seconds:.2f} seconds"
        signals.append(LogSignal(kind="timeout", line=line, reason=reason))
    if line.kind == "report":
        signals.extend(_report_signals(line, timed_out))
    return signals


def _report_signals(line: LogLine, timed_out: set[str]) -> list[LogSignal]:
    signals: list[LogSignal] = []
    status = line.fields.get("status")
    # Newer REPORT records state `Status: timeout`. The "Task timed out" line already gives the
    # signal when it is present, so the REPORT record gives one only without it.
    if status == "timeout" and line.request_id not in timed_out:
        signals.append(
            LogSignal(kind="timeout", line=line, reason="REPORT record has status timeout")
        )
    memory_full = (
        line.max_memory_mb is not None
        and line.memory_size_mb is not None
        and line.max_memory_mb >= line.memory_size_mb
    )
    if memory_full:
        signals.append(
            LogSignal(
                kind="memory",
                line=line,
                reason=f"max memory used {line.max_memory_mb} MB reached the memory size",
                numbers={
                    "max_memory_mb": line.max_memory_mb or 0,
                    "memory_size_mb": line.memory_size_mb or 0,
                },
            )
        )
    elif line.fields.get("error_type") == "Runtime.OutOfMemory":
        signals.append(
            LogSignal(
                kind="memory", line=line, reason="REPORT record has error type Runtime.OutOfMemory"
            )
        )
    return signals


def _loss_from_text(line: LogLine) -> LogSignal | None:
    text = line.message
    for pattern in LOSS_PATTERNS:
        for match in pattern.regex.finditer(text):
            if _negated(text, match):
                continue
            numbers = _numbers(text, match)
            if not _numbers_show_loss(numbers):
                continue
            return LogSignal(
                kind="data_loss",
                line=line,
                reason=pattern.reason,
                numbers=numbers,
                pattern=pattern.name,
            )
    return None


def _negated(text: str, match: re.Match[str]) -> bool:
    before = text[: match.start()]
    clause_ends = list(_CLAUSE_END.finditer(before))
    clause = before[clause_ends[-1].end() :] if clause_ends else before
    if _NEGATION_BEFORE.search(clause):
        return True
    return _NEGATION_AFTER.match(text[match.end() :]) is not None


def _numbers(text: str, match: re.Match[str]) -> dict[str, int]:
    numbers = {key: int(value) for key, value in match.groupdict().items() if value is not None}
    if "lost" not in numbers:
        lost = _LOST_AFTER_VERB.search(text) or _LOST_BEFORE_VERB.search(text)
        if lost:
            numbers["lost"] = int(lost["lost"])
    # A total is read only next to a kept or lost count: in "Found 3 invalid references,
    # skipping" the 3 is not a total.
    if "total" not in numbers and ("kept" in numbers or "lost" in numbers):
        total = _first_match(_TOTAL, text)
        if total is None:
            total = _TOTAL_AFTER_COUNT.search(text)
        if total:
            numbers["total"] = int(total["total"])
    kept = numbers.get("kept")
    total_count = numbers.get("total")
    if "lost" not in numbers and kept is not None and total_count is not None:
        numbers["lost"] = max(total_count - kept, 0)
    return numbers


def _first_match(patterns: Sequence[re.Pattern[str]], text: str) -> re.Match[str] | None:
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return found
    return None


def _numbers_show_loss(numbers: Mapping[str, int]) -> bool:
    """Return False for counts that show nothing was lost: 0 lost, or all items kept."""
    if numbers.get("lost") == 0:
        return False
    kept = numbers.get("kept")
    total = numbers.get("total")
    return not (kept is not None and total is not None and kept >= total)


def _loss_from_fields(line: LogLine, values: Mapping[str, Any], source: str) -> LogSignal | None:
    for key, value in values.items():
        if not _is_loss_key(key):
            continue
        numbers: dict[str, int] = {}
        if isinstance(value, bool):
            if not value:
                continue
        elif isinstance(value, int | float):
            if value <= 0:
                continue
            if isinstance(value, int) or value.is_integer():
                numbers["lost"] = int(value)
        elif isinstance(value, list | tuple):
            if source == "metric":
                # An EMF metric value may be an array of samples: the loss is their sum.
                total = sum(item for item in value if _positive(item))
                if total <= 0:
                    continue
                if float(total).is_integer():
                    numbers["lost"] = int(total)
            elif value:
                numbers["lost"] = len(value)
            else:
                continue
        else:
            continue
        return LogSignal(
            kind="data_loss",
            line=line,
            reason=f"{source} {key} is {_short(value)}",
            numbers=numbers,
            pattern=f"{source}:{key}",
        )
    return None


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _is_loss_key(key: str) -> bool:
    words = _key_words(key)
    if _LOSS_FIELD_WORDS.intersection(words):
        return True
    return any(first == "filtered" and second == "out" for first, second in pairwise(words))


def _key_words(key: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)
    return [word for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if word]


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    return str(value).lower() if isinstance(value, bool) else str(value)
