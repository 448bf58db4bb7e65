"""Tie Lambda log lines to the state visits (Map iterations included) that produced them.

Lines are tied per invocation: every line with the same log group and request id belongs to one
Lambda invocation, and the invocation is tied once. Methods, strongest first:

* "request_id": the invocation's request id is one of a visit's `lambda_request_ids`. AWS's
  `lambda:invoke` result carries the id; a plain function ARN resource or an emulator may not.
* "execution_name_and_window": a line of the invocation contains the execution name, and the
  invocation started inside the window of one visit of a state that calls this function.
* "window": as above, but no line contains the execution name, so a concurrent execution of the
  same state machine could have written the lines.
* "execution_name_state_only": a line contains the execution name, but several visits of one
  state overlap (concurrent Map iterations) and no value distinguishes them, so the line is tied
  to this execution's state but to no visit.
* "window_state_only": the same without the execution name in any line.

When several visits overlap, the visit whose input or output contains a value that also appears
in the invocation's lines (a batch id, an S3 key, `chunk_index=3`) is chosen, provided exactly
one visit has the most such values.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sfn_forensics.history.model import StateVisit
from sfn_forensics.logs.model import LogLine, TiedLine, TieMethod

_FOREVER = datetime.max.replace(tzinfo=UTC)
# Bounds on the values read from one visit's input and output, so a visit whose payload is a
# list of thousands of items adds at most a few hundred values to compare per invocation.
_MAX_VALUES_PER_VISIT = 200
_MAX_DEPTH = 6
_MAX_TEXT_VALUE = 300
# Text values of at least this length are matched anywhere in the lines. Shorter text values and
# numbers are matched only next to their key ("chunk_index=3", "chunk 3"), because "3" or "ok"
# appear in almost any line.
_MIN_DISTINCT_TEXT = 6
# Values that begin and end with a word character and contain no token separator are looked up
# in the set of word spans of the invocation's text (see `_word_spans`).
_TOKEN = re.compile(r"[^\s\"',()\[\]{}<>]+")
_SPAN_SHAPE = re.compile(r"\w(?:[^\s\"',()\[\]{}<>]*\w)?")
_WORD_RUN = re.compile(r"\w+")
_WORD_CHAR = re.compile(r"\w")
# Characters allowed between a key and its value in text: "chunk_index=3", "chunk #3", "id: 'x'".
_KEY_SEPARATORS = frozenset(" \t\r\n\"':=#_-")
_MAX_KEY_SEPARATORS = 3
_MAX_SPAN_WORDS = 64


class _Value(NamedTuple):
    """A leaf value of a visit's input or output, with the key of the object containing it."""

    key: str | None
    text: str
    is_number: bool


@dataclass(frozen=True)
class _Tie:
    state: str | None
    visit_entered_event_id: int | None
    method: TieMethod | None
    matched_value: str | None = None


_UNTIED = _Tie(None, None, None)


class _StateTimeline:
    """The visits of one state sorted by entry time, for finding those open at a given time."""

    def __init__(self, visits: Iterable[StateVisit]) -> None:
        timed: list[tuple[datetime, StateVisit]] = []
        for visit in visits:
            entered = _aware(visit.entered_at)
            if entered is not None:
                timed.append((entered, visit))
        timed.sort(key=lambda pair: (pair[0], pair[1].entered_event_id))
        self.visits = [visit for _, visit in timed]
        self.entered = [entered for entered, _ in timed]
        self.exited = [_aware(visit.exited_at) or _FOREVER for visit in self.visits]
        # Latest exit among visits[0..i]: the backward scan stops once no earlier visit can
        # still be open at the time asked for.
        self.max_exited: list[datetime] = []
        latest: datetime | None = None
        for exited in self.exited:
            latest = exited if latest is None or exited > latest else latest
            self.max_exited.append(latest)

    def open_at(self, moment: datetime) -> Iterator[StateVisit]:
        """Yield the visits with entered_at <= moment <= exited_at (open-ended when not exited)."""
        index = bisect_right(self.entered, moment) - 1
        while index >= 0 and self.max_exited[index] >= moment:
            if self.exited[index] >= moment:
                yield self.visits[index]
            index -= 1


class _VisitIndex:
    def __init__(self, visits: Sequence[StateVisit], function_states: Mapping[str, list[str]]):
        self.by_request_id: dict[str, StateVisit] = {}
        for visit in visits:
            for request_id in visit.lambda_request_ids:
                self.by_request_id.setdefault(request_id, visit)
        called_states = {state for states in function_states.values() for state in states}
        by_state: dict[str, list[StateVisit]] = {state: [] for state in called_states}
        for visit in visits:
            if visit.name in by_state:
                by_state[visit.name].append(visit)
        self.timelines = {state: _StateTimeline(found) for state, found in by_state.items()}
        self.function_states = function_states
        self._values: dict[int, _VisitValues] = {}

    def open_visits(self, log_group: str, moment: datetime) -> list[StateVisit]:
        found: list[StateVisit] = []
        for state in dict.fromkeys(self.function_states.get(log_group, [])):
            timeline = self.timelines.get(state)
            if timeline is not None:
                found.extend(timeline.open_at(moment))
        return found

    def values_of(self, visit: StateVisit) -> _VisitValues:
        key = id(visit)
        if key not in self._values:
            self._values[key] = _VisitValues(_visit_values(visit))
        return self._values[key]


# TODO: value matching dominates and is not yet optimised. Without request ids it took about
# 90 µs per line at 57,000 lines (bench/bench_history_parse.py).
def correlate(
    lines: list[LogLine],
    visits: list[StateVisit],
    execution_name: str | None,
    function_states: dict[str, list[str]],
) -> list[TiedLine]:
    """Tie each line to the state visit that produced it, and return the ties in input order.

    `function_states` maps a log group name to the names of the states whose Task calls the
    function writing to that group. Lines should have their request ids attached
    (`parse.attach_request_ids`) so that application lines join their invocation.
    """
    index = _VisitIndex(visits, function_states)
    ties: list[_Tie] = [_UNTIED] * len(lines)
    for members in _invocations(lines):
        tie = _tie_invocation([lines[position] for position in members], index, execution_name)
        for position in members:
            ties[position] = tie
    return [
        TiedLine(
            line=line,
            state=tie.state,
            visit_entered_event_id=tie.visit_entered_event_id,
            method=tie.method,
            matched_value=tie.matched_value,
        )
        for line, tie in zip(lines, ties, strict=True)
    ]


def _invocations(lines: Sequence[LogLine]) -> list[list[int]]:
    """Group line positions by (log group, request id). A line without a request id is alone."""
    groups: dict[tuple[str, str], list[int]] = {}
    result: list[list[int]] = []
    for position, line in enumerate(lines):
        if line.request_id is None:
            result.append([position])
            continue
        key = (line.log_group, line.request_id)
        if key not in groups:
            groups[key] = []
            result.append(groups[key])
        groups[key].append(position)
    return result


def _tie_invocation(
    invocation: Sequence[LogLine], index: _VisitIndex, execution_name: str | None
) -> _Tie:
    request_id = invocation[0].request_id
    if request_id is not None and request_id in index.by_request_id:
        visit = index.by_request_id[request_id]
        return _Tie(visit.name, visit.entered_event_id, "request_id")

    # NOTE: the invocation's first line is compared with windows from the execution history
    # without any allowance for clock skew between Lambda and Step Functions.
    started = min(_aware(line.timestamp) or _FOREVER for line in invocation)
    candidates = index.open_visits(invocation[0].log_group, started)
    if not candidates:
        return _UNTIED

    mentions_execution = False
    if execution_name:
        mentions_execution = any(execution_name in line.raw for line in invocation)
    method: TieMethod = "execution_name_and_window" if mentions_execution else "window"
    if len(candidates) == 1:
        return _Tie(candidates[0].name, candidates[0].entered_event_id, method)

    chosen, matched = _choose_by_values(candidates, invocation, index)
    if chosen is not None:
        return _Tie(chosen.name, chosen.entered_event_id, method, matched)
    states = {visit.name for visit in candidates}
    if len(states) == 1:
        state_only: TieMethod = (
            "execution_name_state_only" if mentions_execution else "window_state_only"
        )
        return _Tie(states.pop(), None, state_only)
    return _UNTIED


def _choose_by_values(
    candidates: Sequence[StateVisit], invocation: Sequence[LogLine], index: _VisitIndex
) -> tuple[StateVisit | None, str | None]:
    """Pick the one candidate with the most input/output values found in the invocation."""
    values_by_visit = [index.values_of(visit) for visit in candidates]
    shared_spans = frozenset.intersection(*(values.span_texts for values in values_by_visit))
    shared_pairs = frozenset.intersection(*(values.pairs for values in values_by_visit))
    shared_others = frozenset.intersection(*(values.others for values in values_by_visit))
    searched = _InvocationText(invocation)
    # Each distinct value is searched for once, however many candidates contain it.
    other_found: dict[_Value, bool] = {}

    scores: list[tuple[int, str | None]] = []
    for values in values_by_visit:
        found = set((values.span_texts - shared_spans) & searched.spans)
        found.update(text for _, text in (values.pairs - shared_pairs) & searched.field_pairs)
        for value in values.others - shared_others:
            if value not in other_found:
                other_found[value] = searched.contains(value)
            if other_found[value]:
                found.add(value.text)
        best_text = min(found, key=lambda text: (-len(text), text)) if found else None
        scores.append((len(found), None if best_text is None else values.describe(best_text)))

    best = max(score for score, _ in scores)
    winners = [position for position, (score, _) in enumerate(scores) if score == best]
    if best == 0 or len(winners) != 1:
        return None, None
    return candidates[winners[0]], scores[winners[0]][1]


class _VisitValues:
    """The values of one visit's input and output, grouped by how they are searched for.

    `span_texts` contains the long text values that are looked up in the invocation's word
    spans. `pairs` contains the (key, text) of every keyed value, compared with structured
    fields. `others` contains the values that need a regular expression: numbers and short texts
    next to their key, and long texts that contain token separators.
    """

    def __init__(self, values: Iterable[_Value]) -> None:
        span_texts: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        others: set[_Value] = set()
        self._by_text: dict[str, _Value] = {}
        for value in values:
            self._by_text.setdefault(value.text, value)
            if value.key is not None:
                pairs.add((value.key, value.text))
            long_text = not value.is_number and len(value.text) >= _MIN_DISTINCT_TEXT
            if long_text and _SPAN_SHAPE.fullmatch(value.text):
                span_texts.add(value.text)
            elif long_text or value.key is not None:
                others.add(value)
        self.span_texts = frozenset(span_texts)
        self.pairs = frozenset(pairs)
        self.others = frozenset(others)

    def describe(self, text: str) -> str:
        value = self._by_text.get(text)
        if value is None or value.key is None:
            return text
        return f"{value.key}={text}"


class _InvocationText:
    """The application lines of one invocation, searched for visit values.

    START, END and REPORT records are left out: they contain only the request id and numbers.
    """

    def __init__(self, invocation: Sequence[LogLine]) -> None:
        application = [line for line in invocation if line.kind in ("message", "metric")]
        self.text = "\n".join(line.raw for line in application)
        self.field_pairs = _field_pairs(application)
        self.spans = _word_spans(self.text)
        self._key_positions: dict[str, list[int]] = {}

    def contains(self, value: _Value) -> bool:
        if value.text not in self.text:
            return False
        if not value.is_number and len(value.text) >= _MIN_DISTINCT_TEXT:
            return any(True for _ in _standalone_positions(self.text, value.text))
        if value.key is None:
            return False
        return self._follows_key(value.key, value.text)

    def _follows_key(self, key: str, text: str) -> bool:
        """Return True when `text` follows the key or a word of it: `chunk_index=3`, `chunk 3`."""
        positions = self._key_positions.get(key)
        if positions is None:
            positions = _positions_after_key(self.text, key)
            self._key_positions[key] = positions
        return any(_is_standalone_at(self.text, text, position) for position in positions)


def _word_spans(text: str) -> set[str]:
    """Return every substring of a token that starts and ends on a word boundary.

    Tokens are separated by whitespace and quote, comma and bracket characters. A value shaped
    like `_SPAN_SHAPE`, of up to `_MAX_SPAN_WORDS` words, occurs in the text with no word
    character on either side exactly when it is in this set. The check is then one set lookup
    instead of a text scan.
    """
    spans: set[str] = set()
    for token in _TOKEN.finditer(text):
        runs = [(run.start(), run.end()) for run in _WORD_RUN.finditer(token.group())]
        word = token.group()
        for first, (start, _) in enumerate(runs):
            for _, end in runs[first : first + _MAX_SPAN_WORDS]:
                spans.add(word[start:end])
    return spans


def _standalone_positions(text: str, value: str) -> Iterator[int]:
    """Yield the positions where `value` occurs in `text` with no word character on either side."""
    position = text.find(value)
    while position != -1:
        before_ok = position == 0 or not _WORD_CHAR.match(text, position - 1)
        if before_ok and _is_standalone_at(text, value, position):
            yield position
        position = text.find(value, position + 1)


def _is_standalone_at(text: str, value: str, position: int) -> bool:
    """Return True when `value` starts at `position` and no word character follows it."""
    end = position + len(value)
    return text.startswith(value, position) and not _WORD_CHAR.match(text, end)


def _positions_after_key(text: str, key: str) -> list[int]:
    """Return the positions right after each occurrence of the key or one of its words.

    Up to three separator characters may follow the key, so every position after zero to three
    of them is returned.
    """
    positions: list[int] = []
    for match in _key_pattern(key).finditer(text):
        position = match.end()
        positions.append(position)
        for _ in range(_MAX_KEY_SEPARATORS):
            if position >= len(text) or text[position] not in _KEY_SEPARATORS:
                break
            position += 1
            positions.append(position)
    return positions


@functools.lru_cache(maxsize=1024)
def _key_pattern(key: str) -> re.Pattern[str]:
    names = [key, *(word for word in _key_words(key) if len(word) >= 3)]
    alternatives = "|".join(re.escape(name) for name in dict.fromkeys(names))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})", re.IGNORECASE)


def _key_words(key: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)
    return [word for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if word]


def _field_pairs(invocation: Sequence[LogLine]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for line in invocation:
        for document in (line.fields, line.metrics):
            for value in _leaf_values(document, key=None, depth=0):
                if value.key is not None:
                    pairs.add((value.key, value.text))
    return pairs


def _visit_values(visit: StateVisit) -> list[_Value]:
    values: dict[_Value, None] = {}
    for document in (visit.input_json(), visit.output_json()):
        for value in _leaf_values(document, key=None, depth=0):
            values.setdefault(value)
            if len(values) >= _MAX_VALUES_PER_VISIT:
                return list(values)
    return list(values)


def _leaf_values(document: Any, key: str | None, depth: int) -> Iterator[_Value]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(document, Mapping):
        for child_key, child in document.items():
            yield from _leaf_values(child, str(child_key), depth + 1)
    elif isinstance(document, list):
        for child in document:
            yield from _leaf_values(child, key, depth + 1)
    elif isinstance(document, bool) or document is None:
        return
    elif isinstance(document, int) or (isinstance(document, float) and document.is_integer()):
        yield _Value(key, str(int(document)), is_number=True)
    elif isinstance(document, str) and 0 < len(document) <= _MAX_TEXT_VALUE:
        yield _Value(key, document, is_number=False)


def _aware(moment: datetime | None) -> datetime | None:
    """Treat a naive datetime as UTC so that it compares with the aware line timestamps."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
