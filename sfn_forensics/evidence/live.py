"""Collect the Step Functions evidence of one execution from a live account."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from sfn_forensics.aws.errors import aws_error_code
from sfn_forensics.aws.progress import history_progress
from sfn_forensics.aws.session import ClientFactory
from sfn_forensics.aws.stepfunctions import (
    describe_execution,
    describe_state_machine_for_execution,
    execution_name_from_arn,
    get_full_history,
)
from sfn_forensics.errors import SfnForensicsError
from sfn_forensics.evidence.model import (
    SOURCE_DEFINITION,
    SOURCE_DESCRIBE,
    SOURCE_HISTORY,
    Evidence,
    SourceStatus,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


def collect_live(factory: ClientFactory, execution_arn: str, progress: bool = True) -> Evidence:
    """Fetch DescribeExecution, the full history and the definition concurrently.

    Raises NotFoundError when the execution does not exist, and the mapped error when the
    history cannot be read, because nothing can be inspected without it. A failed
    DescribeExecution or definition is recorded as unavailable in `Evidence.sources`.
    `progress` shows a status line on stderr while the history is fetched, on a terminal only.
    """
    pages_fetched = 0

    with (
        history_progress(progress) as show_page,
        ThreadPoolExecutor(max_workers=3, thread_name_prefix="sfn-evidence") as pool,
    ):

        def on_page(pages: int, events: int) -> None:
            nonlocal pages_fetched
            pages_fetched = pages
            show_page(pages, events)

        describe_future = pool.submit(describe_execution, factory, execution_arn)
        history_future = pool.submit(get_full_history, factory, execution_arn, on_page)
        definition_future = pool.submit(
            describe_state_machine_for_execution, factory, execution_arn
        )
        describe_result = _result(describe_future)
        history_result = _result(history_future)
        state_machine_result = _result(definition_future)

    if (
        isinstance(describe_result, SfnForensicsError)
        and aws_error_code(describe_result) == "ExecutionDoesNotExist"
    ):
        raise describe_result
    if isinstance(history_result, SfnForensicsError):
        raise history_result
    events = history_result

    sources: dict[str, SourceStatus] = {
        SOURCE_HISTORY: SourceStatus.available(f"{len(events)} events in {pages_fetched} pages"),
    }
    describe: dict[str, Any] | None = None
    if isinstance(describe_result, SfnForensicsError):
        sources[SOURCE_DESCRIBE] = _unavailable(SOURCE_DESCRIBE, describe_result, execution_arn)
    else:
        describe = describe_result
        sources[SOURCE_DESCRIBE] = SourceStatus.available(describe.get("status"))

    definition: dict[str, Any] | None = None
    state_machine: dict[str, Any] | None = None
    if isinstance(state_machine_result, SfnForensicsError):
        sources[SOURCE_DEFINITION] = _unavailable(
            SOURCE_DEFINITION, state_machine_result, execution_arn
        )
    else:
        state_machine = state_machine_result
        definition, reason = parse_definition(state_machine.get("definition"))
        if definition is not None:
            sources[SOURCE_DEFINITION] = SourceStatus.available(state_machine.get("name"))
        else:
            log.warning("definition of %s unavailable: %s", execution_arn, reason)
            sources[SOURCE_DEFINITION] = SourceStatus.unavailable(reason)

    state_machine_arn = _first_text(
        describe and describe.get("stateMachineArn"),
        state_machine and state_machine.get("stateMachineArn"),
    )
    execution_name = _first_text(
        describe and describe.get("name"), execution_name_from_arn(execution_arn)
    )
    return Evidence(
        execution_arn=execution_arn,
        execution_name=execution_name,
        describe_execution=describe,
        events=events,
        definition=definition,
        state_machine_arn=state_machine_arn,
        sources=sources,
        origin="live",
        describe_state_machine=state_machine,
    )


def parse_definition(text: object) -> tuple[dict[str, Any] | None, str]:
    """Parse a definition JSON string. Return the object, or None and the reason it failed."""
    if not isinstance(text, str):
        return None, "the response has no definition string"
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return None, f"the definition is not valid JSON: {error}"
    if not isinstance(parsed, dict):
        return None, f"the definition is JSON of type {type(parsed).__name__}, not an object"
    return parsed, ""


def _result(future: Future[T]) -> T | SfnForensicsError:
    """Return the future's result, or the sfn-forensics error it raised."""
    try:
        return future.result()
    except SfnForensicsError as error:
        return error


def _unavailable(source: str, error: SfnForensicsError, execution_arn: str) -> SourceStatus:
    log.warning("%s of %s unavailable: %s", source, execution_arn, error.message)
    return SourceStatus.unavailable(error.message)


def _first_text(*values: object) -> str | None:
    for value in values:
        if isinstance(value, str) and value:
            return value
    return None
