"""Load evidence from a saved execution history, optionally with a separate definition file.

Accepted history files:
- the output of `aws stepfunctions get-execution-history` (`{"events": [...]}`, maybe with
  `nextToken` when only one page was saved);
- a bare JSON list of events;
- an object that also carries `definition` (a JSON string or an object) and
  `describe_execution` (the DescribeExecution response).

Timestamps are converted to timezone-aware datetimes, as boto3 returns them from a live account.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sfn_forensics.aws.stepfunctions import execution_name_from_arn
from sfn_forensics.errors import InvalidInputError
from sfn_forensics.evidence.live import parse_definition
from sfn_forensics.evidence.model import (
    SOURCE_DEFINITION,
    SOURCE_DESCRIBE,
    SOURCE_HISTORY,
    Evidence,
    SourceStatus,
)

log = logging.getLogger(__name__)

HISTORY_HINT = (
    "Save a history with `aws stepfunctions get-execution-history --execution-arn ARN "
    "--output json > history.json`."
)
DEFINITION_HINT = (
    "Pass the definition JSON, or save it with `aws stepfunctions "
    "describe-state-machine-for-execution --execution-arn ARN --output json > definition.json`."
)

# Top-level timestamp fields of DescribeExecution and DescribeStateMachineForExecution.
RESPONSE_TIMESTAMP_FIELDS = ("startDate", "stopDate", "redriveDate", "updateDate", "creationDate")


def load_history_file(path: Path, definition_file: Path | None = None) -> Evidence:
    """Read a saved history (and definition) into an Evidence with origin `history-file`.

    Sources the files do not contain are recorded as unavailable. Raises InvalidInputError,
    naming the path and the expected content, for a missing file, invalid JSON or a file
    without a list of events.
    """
    document = _read_json(path, "history file", HISTORY_HINT)
    if isinstance(document, list):
        raw_events: object = document
        extras: dict[str, Any] = {}
    elif isinstance(document, dict):
        if "events" not in document:
            raise InvalidInputError(
                f"history file {path} has no `events` field: expected the JSON that "
                "`aws stepfunctions get-execution-history` prints",
                hint=HISTORY_HINT,
            )
        raw_events = document["events"]
        extras = document
    else:
        raise InvalidInputError(
            f"history file {path} contains a JSON {type(document).__name__}: expected an object "
            "with an `events` list, or a list of events",
            hint=HISTORY_HINT,
        )

    events = _validate_events(raw_events, path)
    sources: dict[str, SourceStatus] = {}
    history_complete, history_detail = _check_completeness(events, extras, path)
    sources[SOURCE_HISTORY] = SourceStatus.available(history_detail)

    describe = _describe_execution(extras, path)
    if describe is not None:
        sources[SOURCE_DESCRIBE] = SourceStatus.available(describe.get("status"))
    else:
        sources[SOURCE_DESCRIBE] = SourceStatus.unavailable("not in the history file")

    definition: dict[str, Any] | None
    describe_state_machine: dict[str, Any] | None = None
    if definition_file is not None:
        definition, describe_state_machine = _load_definition_file(definition_file)
        if extras.get("definition") is not None:
            log.info("using the definition in %s, not the one in %s", definition_file, path)
        sources[SOURCE_DEFINITION] = SourceStatus.available(f"from {definition_file.name}")
    else:
        definition, reason = _embedded_definition(extras.get("definition"))
        if definition is not None:
            sources[SOURCE_DEFINITION] = SourceStatus.available("from the history file")
        else:
            sources[SOURCE_DEFINITION] = SourceStatus.unavailable(reason)

    execution_arn = _text(describe, "executionArn")
    state_machine_arn = _text(describe, "stateMachineArn") or _text(
        describe_state_machine, "stateMachineArn"
    )
    execution_name = _text(describe, "name") or (
        execution_name_from_arn(execution_arn) if execution_arn else None
    )
    return Evidence(
        execution_arn=execution_arn,
        execution_name=execution_name,
        describe_execution=describe,
        events=events,
        definition=definition,
        state_machine_arn=state_machine_arn,
        sources=sources,
        origin="history-file",
        describe_state_machine=describe_state_machine,
        history_complete=history_complete,
    )


def _read_json(path: Path, kind: str, hint: str) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"{kind} not found: {path}", hint=hint) from None
    except OSError as error:
        raise InvalidInputError(
            f"cannot read {kind} {path}: {error.strerror or error}", hint=hint
        ) from error
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidInputError(f"{kind} {path} is not valid JSON: {error}", hint=hint) from None


def _validate_events(raw_events: object, path: Path) -> list[dict[str, Any]]:
    if not isinstance(raw_events, list):
        raise InvalidInputError(
            f"`events` in history file {path} is a JSON {type(raw_events).__name__}: "
            "expected a list of history events",
            hint=HISTORY_HINT,
        )
    events: list[dict[str, Any]] = []
    for index, event in enumerate(raw_events):
        if not isinstance(event, dict):
            raise InvalidInputError(
                f"event {index} in history file {path} is a JSON {type(event).__name__}: "
                "expected an object"
            )
        event_id = event.get("id")
        if not isinstance(event_id, int) or isinstance(event_id, bool):
            raise InvalidInputError(
                f"event {index} in history file {path} has no integer `id`: {event_id!r}"
            )
        if not isinstance(event.get("type"), str):
            raise InvalidInputError(f"event {event_id} in history file {path} has no `type`")
        normalized = dict(event)
        if "timestamp" in normalized:
            normalized["timestamp"] = _parse_timestamp(
                normalized["timestamp"], f"event {event_id} in history file {path}"
            )
        events.append(normalized)

    ids = [event["id"] for event in events]
    seen: set[int] = set()
    for event_id in ids:
        if event_id in seen:
            raise InvalidInputError(f"event id {event_id} appears twice in history file {path}")
        seen.add(event_id)
    if ids != sorted(ids):
        # `get-execution-history --reverse-order` saves the newest event first.
        log.info("sorting the events of %s oldest first", path)
        events.sort(key=lambda event: int(event["id"]))
    return events


def _check_completeness(
    events: list[dict[str, Any]], document: dict[str, Any], path: Path
) -> tuple[bool, str]:
    """Return whether the history is complete, and the detail for its source status."""
    detail = f"{len(events)} events from {path.name}"
    if document.get("nextToken"):
        log.warning("history file %s ends with a nextToken: later events are missing", path)
        return False, f"{detail}; incomplete: the file has a nextToken, so later pages are missing"
    # AWS numbers history events 1, 2, 3, ... without gaps.
    if [event["id"] for event in events] != list(range(1, len(events) + 1)):
        log.warning("history file %s has gaps in its event ids", path)
        return False, f"{detail}; incomplete: the event ids are not 1 to {len(events)}"
    return True, detail


def _describe_execution(document: dict[str, Any], path: Path) -> dict[str, Any] | None:
    describe = document.get("describe_execution")
    if describe is None:
        return None
    if not isinstance(describe, dict):
        raise InvalidInputError(
            f"`describe_execution` in history file {path} is a JSON {type(describe).__name__}: "
            "expected the DescribeExecution response object"
        )
    return _with_parsed_dates(describe, f"describe_execution in {path}")


def _embedded_definition(value: object) -> tuple[dict[str, Any] | None, str]:
    if value is None:
        return None, "not in the history file; pass --definition-file"
    if isinstance(value, str):
        definition, reason = parse_definition(value)
        if definition is None:
            return None, f"in the history file: {reason}"
    elif isinstance(value, dict):
        definition = value
    else:
        return None, (
            f"the definition in the history file is a JSON {type(value).__name__}: expected an "
            "object or a JSON string"
        )
    if "States" not in definition:
        return None, "the definition in the history file has no `States`"
    return definition, ""


def _load_definition_file(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Return the definition and, for DescribeStateMachine* output, the whole response."""
    document = _read_json(path, "definition file", DEFINITION_HINT)
    describe_state_machine: dict[str, Any] | None = None
    if isinstance(document, dict) and "definition" in document and "States" not in document:
        describe_state_machine = _with_parsed_dates(document, f"definition file {path}")
        document = document["definition"]
        if isinstance(document, dict):
            describe_state_machine["definition"] = orjson.dumps(document).decode()
    if isinstance(document, str):
        try:
            document = orjson.loads(document)
        except orjson.JSONDecodeError as error:
            raise InvalidInputError(
                f"the definition string in {path} is not valid JSON: {error}",
                hint=DEFINITION_HINT,
            ) from None
    if not isinstance(document, dict) or "States" not in document:
        raise InvalidInputError(
            f"definition file {path} does not contain a state machine definition: expected an "
            "object with `StartAt` and `States`, a JSON string of one, or an object with a "
            "`definition` field",
            hint=DEFINITION_HINT,
        )
    return document, describe_state_machine


def _with_parsed_dates(response: dict[str, Any], where: str) -> dict[str, Any]:
    parsed = dict(response)
    for field_name in RESPONSE_TIMESTAMP_FIELDS:
        if parsed.get(field_name) is not None:
            parsed[field_name] = _parse_timestamp(parsed[field_name], f"{field_name} of {where}")
    return parsed


def _parse_timestamp(value: object, where: str) -> datetime:
    """Parse an ISO 8601 string or epoch seconds, the two forms the AWS CLI prints."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            # The AWS CLI always prints an offset; a time without one is read as UTC.
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    raise InvalidInputError(
        f"invalid timestamp in {where}: {value!r}",
        hint="Timestamps must be ISO 8601 strings or epoch seconds, as the AWS CLI prints them.",
    )


def _text(response: dict[str, Any] | None, key: str) -> str | None:
    if response is None:
        return None
    value = response.get(key)
    return value if isinstance(value, str) and value else None
