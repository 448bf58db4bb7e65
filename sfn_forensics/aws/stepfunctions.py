"""Step Functions reads: execution, full history, definition, and execution target resolution."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sfn_forensics.aws.errors import aws_error_code, aws_errors
from sfn_forensics.errors import (
    AmbiguousTargetError,
    NotFoundError,
    SfnForensicsError,
    UsageError,
)

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    from sfn_forensics.aws.session import ClientFactory

log = logging.getLogger(__name__)

IAM_SERVICE = "states"

# GetExecutionHistory returns at most 1,000 events per page.
HISTORY_PAGE_SIZE = 1000
# Parallel DescribeExecution calls when a bare execution name is searched in every state machine.
SEARCH_WORKERS = 8

PageCallback = Callable[[int, int], None]

_PARTITION = r"aws[a-z-]*"
_REGION = r"[a-z0-9-]+"
_ACCOUNT = r"\d{12}"
# Names of Distributed Map child executions contain `/`, so only `:` and whitespace end a part.
_PART = r"[^:\s]+"
STANDARD_EXECUTION_ARN = re.compile(
    rf"^arn:(?P<partition>{_PARTITION}):states:(?P<region>{_REGION}):(?P<account>{_ACCOUNT})"
    rf":execution:(?P<state_machine>{_PART}):(?P<name>{_PART})$"
)
# Express execution ARNs carry the execution name and an execution id.
EXPRESS_EXECUTION_ARN = re.compile(
    rf"^arn:(?P<partition>{_PARTITION}):states:(?P<region>{_REGION}):(?P<account>{_ACCOUNT})"
    rf":express:(?P<state_machine>{_PART}):(?P<name>{_PART}):(?P<execution_id>{_PART})$"
)
# A version or alias ARN has one more part (`:1`, `:prod`) after the state machine name.
STATE_MACHINE_ARN = re.compile(
    rf"^arn:(?P<partition>{_PARTITION}):states:(?P<region>{_REGION}):(?P<account>{_ACCOUNT})"
    rf":stateMachine:(?P<name>{_PART})(?::(?P<qualifier>{_PART}))?$"
)
# Execution and state machine names: 1-80 characters without whitespace, brackets, wildcards
# or the punctuation AWS rejects in names.
_NAME_FORBIDDEN = re.compile(r"""[\s<>{}\[\]?*"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]""")
NAME_MAX_LENGTH = 80

EXECUTION_ARN_SHAPE = "arn:<partition>:states:<region>:<account>:execution:<state machine>:<name>"


def is_execution_arn(value: str) -> bool:
    """Return True for a standard or express execution ARN."""
    return bool(STANDARD_EXECUTION_ARN.match(value) or EXPRESS_EXECUTION_ARN.match(value))


def execution_name_from_arn(arn: str) -> str | None:
    """Return the execution name in a standard or express execution ARN, or None."""
    match = STANDARD_EXECUTION_ARN.match(arn) or EXPRESS_EXECUTION_ARN.match(arn)
    return match.group("name") if match else None


def arn_region(arn: str) -> str | None:
    """Return the region part of a Step Functions ARN, or None when it is not one."""
    for pattern in (STANDARD_EXECUTION_ARN, EXPRESS_EXECUTION_ARN, STATE_MACHINE_ARN):
        match = pattern.match(arn)
        if match:
            return match.group("region")
    return None


def describe_execution(factory: ClientFactory, execution_arn: str) -> dict[str, Any]:
    """Return the DescribeExecution response, without ResponseMetadata."""
    client = _client_for(factory, execution_arn)
    with aws_errors(IAM_SERVICE, f"execution {execution_arn}"):
        response = client.describe_execution(executionArn=execution_arn)
    return _without_metadata(response)


def describe_state_machine_for_execution(
    factory: ClientFactory, execution_arn: str
) -> dict[str, Any]:
    """Return the definition that the execution ran (DescribeStateMachineForExecution).

    The `definition` field stays the JSON string AWS returns.
    """
    client = _client_for(factory, execution_arn)
    with aws_errors(IAM_SERVICE, f"execution {execution_arn}"):
        response = client.describe_state_machine_for_execution(executionArn=execution_arn)
    return _without_metadata(response)


def get_full_history(
    factory: ClientFactory, execution_arn: str, on_page: PageCallback | None = None
) -> list[dict[str, Any]]:
    """Fetch every history event of an execution, oldest first, with inputs and outputs.

    Follows `nextToken` until the last page. `on_page(pages, events)` is called after each page
    with the running totals.
    """
    client = _client_for(factory, execution_arn)
    events: list[dict[str, Any]] = []
    pages = 0
    next_token: str | None = None
    while True:
        with aws_errors(IAM_SERVICE, f"execution {execution_arn}"):
            if next_token is None:
                page = client.get_execution_history(
                    executionArn=execution_arn,
                    maxResults=HISTORY_PAGE_SIZE,
                    reverseOrder=False,
                    includeExecutionData=True,
                )
            else:
                page = client.get_execution_history(
                    executionArn=execution_arn,
                    maxResults=HISTORY_PAGE_SIZE,
                    reverseOrder=False,
                    includeExecutionData=True,
                    nextToken=next_token,
                )
        events.extend(_without_metadata(event) for event in page["events"])
        pages += 1
        log.debug("history page %d of %s: %d events", pages, execution_arn, len(page["events"]))
        if on_page is not None:
            on_page(pages, len(events))
        next_token = page.get("nextToken")
        if not next_token:
            break
    log.info("fetched %d history events in %d pages for %s", len(events), pages, execution_arn)
    return events


def resolve_execution_arn(
    factory: ClientFactory, target: str, state_machine: str | None = None
) -> str:
    """Turn a command-line target into an execution ARN.

    A full execution ARN is returned unchanged. A bare execution name is joined with
    `state_machine` (a name or ARN) when given, and otherwise searched in every standard state
    machine of the region.

    Raises UsageError for a malformed target, NotFoundError when nothing matches and
    AmbiguousTargetError when executions of several state machines have that name.
    """
    target = target.strip()
    if target.startswith("arn:"):
        if state_machine is not None:
            log.info("ignoring --state-machine %s because the target is an ARN", state_machine)
        return _validate_execution_arn(target)

    _validate_name(target, "execution name")
    if state_machine is not None:
        state_machine_arn = _resolve_state_machine_arn(factory, state_machine.strip())
        return execution_arn_for(state_machine_arn, target)
    return _search_execution(factory, target)


def execution_arn_for(state_machine_arn: str, execution_name: str) -> str:
    """Build the ARN of a standard execution from its state machine ARN and its name."""
    match = STATE_MACHINE_ARN.match(state_machine_arn)
    if match is None:
        raise UsageError(f"not a state machine ARN: {state_machine_arn}")
    prefix = (
        f"arn:{match.group('partition')}:states:{match.group('region')}:{match.group('account')}"
    )
    return f"{prefix}:execution:{match.group('name')}:{execution_name}"


def _validate_execution_arn(arn: str) -> str:
    if is_execution_arn(arn):
        return arn
    hint = f"An execution ARN looks like {EXECUTION_ARN_SHAPE}."
    if STATE_MACHINE_ARN.match(arn):
        hint = "Pass the execution name as the target and this ARN as --state-machine."
    raise UsageError(f"not an execution ARN: {arn}", hint=hint)


def _validate_name(name: str, kind: str) -> None:
    if not name:
        raise UsageError(f"the {kind} is empty")
    if len(name) > NAME_MAX_LENGTH:
        raise UsageError(
            f"invalid {kind} {name!r}: {len(name)} characters, the maximum is {NAME_MAX_LENGTH}"
        )
    forbidden = _NAME_FORBIDDEN.search(name)
    if forbidden:
        raise UsageError(
            f"invalid {kind} {name!r}: it contains {forbidden.group()!r}",
            hint=f"Pass a full ARN ({EXECUTION_ARN_SHAPE}) or a bare name without whitespace, "
            "colons or slashes.",
        )


def _resolve_state_machine_arn(factory: ClientFactory, state_machine: str) -> str:
    if state_machine.startswith("arn:"):
        if STATE_MACHINE_ARN.match(state_machine) is None:
            raise UsageError(
                f"not a state machine ARN: {state_machine}",
                hint="A state machine ARN looks like "
                "arn:<partition>:states:<region>:<account>:stateMachine:<name>.",
            )
        return state_machine

    _validate_name(state_machine, "state machine name")
    machines = _list_state_machines(factory)
    for machine in machines:
        if machine["name"] == state_machine:
            return str(machine["stateMachineArn"])
    raise NotFoundError(
        f"state machine not found: {state_machine} "
        f"(searched {len(machines)} state machines in {factory.region})",
        hint="Check the name and the region (--region), or pass the state machine ARN.",
    )


def _list_state_machines(factory: ClientFactory) -> list[dict[str, Any]]:
    client = factory.stepfunctions()
    machines: list[dict[str, Any]] = []
    with aws_errors(IAM_SERVICE, "the state machines of the region"):
        for page in client.get_paginator("list_state_machines").paginate(
            PaginationConfig={"PageSize": 1000}
        ):
            machines.extend(dict(machine) for machine in page["stateMachines"])
    return machines


def _search_execution(factory: ClientFactory, execution_name: str) -> str:
    machines = _list_state_machines(factory)
    # Express executions cannot be described by ARN, so only standard state machines are searched.
    candidates = [
        execution_arn_for(str(machine["stateMachineArn"]), execution_name)
        for machine in machines
        if machine.get("type", "STANDARD") == "STANDARD"
    ]
    log.info(
        "searching %d standard state machines for an execution named %s",
        len(candidates),
        execution_name,
    )

    def probe(execution_arn: str) -> str | None:
        try:
            describe_execution(factory, execution_arn)
        except NotFoundError as error:
            if aws_error_code(error) == "ExecutionDoesNotExist":
                return None
            raise
        return execution_arn

    matches: list[str] = []
    if candidates:
        with ThreadPoolExecutor(
            max_workers=min(SEARCH_WORKERS, len(candidates)),
            thread_name_prefix="sfn-search",
        ) as pool:
            futures = [pool.submit(probe, arn) for arn in candidates]
            errors: list[SfnForensicsError] = []
            for future in futures:
                try:
                    found = future.result()
                except SfnForensicsError as error:
                    errors.append(error)
                    continue
                if found is not None:
                    matches.append(found)
        if errors:
            # A state machine that could not be checked might hold the execution too.
            log.error(
                "%d of %d state machines could not be searched for %s",
                len(errors),
                len(candidates),
                execution_name,
            )
            raise errors[0]

    region = factory.region
    if not matches:
        raise NotFoundError(
            f"no execution named {execution_name} in any of the {len(candidates)} standard "
            f"state machines in {region}",
            hint="Pass --state-machine NAME|ARN or the full execution ARN, "
            "and check the region (--region).",
        )
    if len(matches) > 1:
        raise AmbiguousTargetError(
            f"the execution name {execution_name} matches {len(matches)} executions: "
            + ", ".join(sorted(matches)),
            hint="Pass --state-machine NAME|ARN or one of the execution ARNs listed.",
        )
    return matches[0]


def _client_for(factory: ClientFactory, arn: str) -> SFNClient:
    # Calls about an ARN go to the ARN's region, which may differ from the configured one.
    return factory.stepfunctions(arn_region(arn))


def _without_metadata(response: Any) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}
