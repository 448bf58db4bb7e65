"""Stage the sandbox scenarios on a loopback moto server.

Staging deploys the three ingest state machines and then runs the scenarios one after another.
For each scenario it queues the execution's Lambda return values, starts the execution and waits
until it stops. It then checks that the execution consumed exactly the queued values, and writes
the evidence the run leaves behind (poll_results.json, the ChromaDB snapshot and the Lambda
logs) from the execution's history. moto keeps one Lambda response queue per account and region,
so two executions running at once would take each other's values. Only one staging may run
against a server at a time.

A worker process builds the snapshots from the start of staging, while the executions run.
The evidence of an execution waits only for its own snapshot.

Re-staging on the same server is idempotent: a state machine that already exists with the same
definition is reused, and an execution that already exists under the scenario's name is not
started again (its status is checked against the scenario instead, and its evidence is written
only when an earlier staging did not finish writing it). Execution names are fixed, because the
incident has to keep its real name.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.evidence import (
    WrittenEvidence,
    ensure_bucket,
    evidence_written,
    snapshot_spec,
    write_evidence,
)
from sfn_forensics.sandbox.scenarios import SCENARIOS, Expected, Scenario
from sfn_forensics.sandbox.server import configure_moto, queue_lambda_results, require_loopback
from sfn_forensics.sandbox.snapshots import SnapshotBuilder
from sfn_forensics.sandbox.workflows import (
    DEFAULT_REGION,
    render_definition,
    state_machine_role_arn,
)

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_stepfunctions.client import SFNClient
    from mypy_boto3_sts.client import STSClient

log = logging.getLogger(__name__)

DEFAULT_EXECUTION_TIMEOUT_SECONDS = 120.0
_POLL_INTERVAL_SECONDS = 0.2
# No such function exists: moto's simple Lambda backend returns queued values for any name.
_QUEUE_PROBE_FUNCTION = "sandbox-queue-probe"
# Upper bound on leftover values drained by one probe.
_MAX_LEFTOVER_DRAIN = 10_000


@dataclass(frozen=True)
class StagedScenario:
    """A scenario whose execution exists on the sandbox server."""

    scenario: Scenario
    state_machine_arn: str
    execution_arn: str
    # Status from DescribeExecution after the execution stopped.
    status: str
    # False when an earlier staging on the same server had already run the execution.
    started_by_this_staging: bool
    # Events in the execution history; None when the execution was reused and not re-read.
    event_count: int | None
    # Seconds from StartExecution until DescribeExecution reported it stopped.
    run_seconds: float | None
    # What this staging wrote beside the history; None when an earlier staging had written it.
    evidence: WrittenEvidence | None = None

    @property
    def name(self) -> str:
        return self.scenario.execution_name

    @property
    def state_machine(self) -> str:
        return self.scenario.state_machine

    @property
    def expected(self) -> Expected:
        return self.scenario.expected

    @property
    def denied_reads(self) -> tuple[tuple[str, str], ...]:
        """(bucket, key prefix) pairs whose objects the sandbox endpoint must not serve."""
        return self.scenario.denied_reads()


@dataclass(frozen=True)
class StagedSandbox:
    """A staged sandbox: its endpoint, region and staged scenarios by execution name.

    `endpoint_url` is where clients connect (the proxy, when one serves the sandbox), and
    `moto_endpoint_url` the moto server itself, which serves every object.
    """

    endpoint_url: str
    region: str
    scenarios: dict[str, StagedScenario]
    moto_endpoint_url: str | None = None

    @classmethod
    def from_staged(
        cls,
        endpoint_url: str,
        region: str,
        staged: Sequence[StagedScenario],
        moto_endpoint_url: str | None = None,
    ) -> StagedSandbox:
        return cls(
            endpoint_url=endpoint_url,
            region=region,
            scenarios={item.name: item for item in staged},
            moto_endpoint_url=moto_endpoint_url,
        )

    @property
    def denied_reads(self) -> list[tuple[str, str]]:
        """(bucket, key prefix) pairs whose objects GET and HEAD must be denied for."""
        return [rule for item in self.scenarios.values() for rule in item.denied_reads]


@dataclass(frozen=True)
class _Clients:
    endpoint_url: str
    region: str
    sfn: SFNClient
    lambda_: LambdaClient
    sts: STSClient
    s3: S3Client
    logs: CloudWatchLogsClient
    account_id: str = ""


def stage_sandbox(
    endpoint_url: str,
    region: str = DEFAULT_REGION,
    *,
    scenarios: Sequence[Scenario] | None = None,
    execution_timeout: float = DEFAULT_EXECUTION_TIMEOUT_SECONDS,
) -> list[StagedScenario]:
    """Deploy the workflows, run every scenario (or the given ones) and write their evidence.

    Raises SandboxError before any network call when the endpoint is not a loopback address,
    and when an execution times out, ends in an unexpected status or leaves queued values, or
    its history disagrees with the evidence built for its scenario.
    """
    require_loopback(endpoint_url)
    selected = list(SCENARIOS if scenarios is None else scenarios)
    started = time.monotonic()
    configure_moto(endpoint_url)
    clients = _make_clients(endpoint_url, region)
    account_id = clients.sts.get_caller_identity()["Account"]
    clients = replace(clients, account_id=account_id)
    log.info(
        "staging %d scenarios at %s (account %s, region %s)",
        len(selected),
        endpoint_url,
        account_id,
        region,
    )

    state_machine_names = sorted({scenario.state_machine for scenario in selected})
    state_machine_arns = {
        name: _ensure_state_machine(clients.sfn, name, region, account_id)
        for name in state_machine_names
    }

    leftovers = _drain_lambda_queue(clients)
    if leftovers:
        raise SandboxError(
            f"moto's Lambda response queue at {endpoint_url} held {leftovers} values before "
            "staging (now drained)",
            hint="Another client is queueing Lambda results on this server; stage on a fresh one.",
        )

    ensure_bucket(clients.s3, region)
    with SnapshotBuilder() as builder:
        # Executions that do not exist yet need their snapshot: start building all of them now.
        for scenario in selected:
            spec = snapshot_spec(scenario)
            machine_arn = state_machine_arns[scenario.state_machine]
            arn = _execution_arn(machine_arn, scenario.execution_name)
            if spec is not None and _describe_if_exists(clients.sfn, arn) is None:
                builder.submit(scenario.execution_name, spec)
        staged = [
            _stage_scenario(
                clients,
                scenario,
                state_machine_arns[scenario.state_machine],
                execution_timeout,
                builder,
            )
            for scenario in selected
        ]
    log.info("staged %d scenarios in %.1f s", len(staged), time.monotonic() - started)
    return staged


def _make_clients(endpoint_url: str, region: str) -> _Clients:
    import os

    import boto3
    import botocore.session
    from botocore.config import Config

    # Fixed fake credentials, and no profile or config file of the user's: staging must never
    # pick up real credentials, fail on a missing AWS_PROFILE or ask the metadata service.
    core_session = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
        }
    )
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=region,
        botocore_session=core_session,
    )
    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=16,
        s3={"addressing_style": "path"},
    )
    return _Clients(
        endpoint_url=endpoint_url,
        region=region,
        sfn=session.client("stepfunctions", endpoint_url=endpoint_url, config=config),
        lambda_=session.client("lambda", endpoint_url=endpoint_url, config=config),
        sts=session.client("sts", endpoint_url=endpoint_url, config=config),
        s3=session.client("s3", endpoint_url=endpoint_url, config=config),
        logs=session.client("logs", endpoint_url=endpoint_url, config=config),
    )


def _ensure_state_machine(sfn: SFNClient, name: str, region: str, account_id: str) -> str:
    """Create the state machine, or reuse one that exists with the same definition."""
    definition = render_definition(name, region, account_id)
    arn = f"arn:aws:states:{region}:{account_id}:stateMachine:{name}"
    try:
        existing = sfn.describe_state_machine(stateMachineArn=arn)
    except sfn.exceptions.StateMachineDoesNotExist:
        created = sfn.create_state_machine(
            name=name,
            definition=definition,
            roleArn=state_machine_role_arn(account_id),
            type="STANDARD",
        )
        log.info("created state machine %s", name)
        return created["stateMachineArn"]
    if json.loads(existing["definition"]) != json.loads(definition):
        raise SandboxError(
            f"state machine {name} already exists at {arn} with a different definition",
            hint="Stage on a fresh sandbox server; executions on it ran the old definition.",
        )
    log.info("reusing state machine %s", name)
    return existing["stateMachineArn"]


def _execution_arn(state_machine_arn: str, execution_name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + execution_name


def _stage_scenario(
    clients: _Clients,
    scenario: Scenario,
    state_machine_arn: str,
    timeout: float,
    builder: SnapshotBuilder,
) -> StagedScenario:
    execution_arn = _execution_arn(state_machine_arn, scenario.execution_name)
    existing = _describe_if_exists(clients.sfn, execution_arn)
    if existing is not None:
        return _reuse_execution(clients, scenario, state_machine_arn, existing, timeout, builder)
    return _run_execution(clients, scenario, state_machine_arn, execution_arn, timeout, builder)


def _describe_if_exists(sfn: SFNClient, execution_arn: str) -> dict[str, Any] | None:
    try:
        return dict(sfn.describe_execution(executionArn=execution_arn))
    except sfn.exceptions.ExecutionDoesNotExist:
        return None


def _reuse_execution(
    clients: _Clients,
    scenario: Scenario,
    state_machine_arn: str,
    described: dict[str, Any],
    timeout: float,
    builder: SnapshotBuilder,
) -> StagedScenario:
    """Accept an execution an earlier staging started, once it has stopped as expected.

    Its evidence is written only when the earlier staging did not finish writing it.
    """
    execution_arn = described["executionArn"]
    log.info(
        "execution %s already exists (%s); not starting it again",
        scenario.execution_name,
        described["status"],
    )
    if described["status"] == "RUNNING":
        described = _wait_for_execution(clients.sfn, execution_arn, timeout)
    _check_status(scenario, described)
    evidence = None
    event_count = None
    if not evidence_written(clients.logs, scenario.execution_name, described["startDate"]):
        log.info("writing the missing evidence of %s", scenario.execution_name)
        events = _history_events(clients.sfn, execution_arn)
        event_count = len(events)
        evidence = _write_evidence(clients, scenario, events, builder)
    return StagedScenario(
        scenario=scenario,
        state_machine_arn=state_machine_arn,
        execution_arn=execution_arn,
        status=described["status"],
        started_by_this_staging=False,
        event_count=event_count,
        run_seconds=None,
        evidence=evidence,
    )


def _run_execution(
    clients: _Clients,
    scenario: Scenario,
    state_machine_arn: str,
    execution_arn: str,
    timeout: float,
    builder: SnapshotBuilder,
) -> StagedScenario:
    """Queue the scenario's Lambda results, run its execution, check it and write its evidence."""
    sfn = clients.sfn
    name = scenario.execution_name
    results = scenario.lambda_results()
    queue_lambda_results(clients.endpoint_url, results, clients.region)
    log.info(
        "starting %s on %s with %d queued Lambda results",
        name,
        scenario.state_machine,
        len(results),
    )
    started = time.monotonic()
    sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=scenario.execution_input
    )
    described = _wait_for_execution(sfn, execution_arn, timeout)
    run_seconds = time.monotonic() - started

    events = _history_events(sfn, execution_arn)
    invocations = sum(1 for event in events if _is_lambda_invocation(event))
    leftovers = _drain_lambda_queue(clients)
    log.info(
        "execution %s %s in %.1f s: %d events, %d Lambda invocations",
        name,
        described["status"],
        run_seconds,
        len(events),
        invocations,
    )
    if invocations != len(results) or leftovers:
        raise SandboxError(
            f"execution {name} made {invocations} Lambda invocations for {len(results)} queued "
            f"results ({leftovers} left in the queue)",
            hint="The scenario's Lambda results do not match its path; check scenarios.py.",
        )
    _check_status(scenario, described)
    evidence = _write_evidence(clients, scenario, events, builder)
    return StagedScenario(
        scenario=scenario,
        state_machine_arn=state_machine_arn,
        execution_arn=execution_arn,
        status=described["status"],
        started_by_this_staging=True,
        event_count=len(events),
        run_seconds=run_seconds,
        evidence=evidence,
    )


def _write_evidence(
    clients: _Clients,
    scenario: Scenario,
    events: list[dict[str, Any]],
    builder: SnapshotBuilder,
) -> WrittenEvidence:
    return write_evidence(
        s3=clients.s3,
        logs=clients.logs,
        scenario=scenario,
        events=events,
        builder=builder,
        region=clients.region,
        account_id=clients.account_id,
    )


def _wait_for_execution(sfn: SFNClient, execution_arn: str, timeout: float) -> dict[str, Any]:
    """Poll DescribeExecution until the execution stops; raise SandboxError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return dict(described)
        if time.monotonic() >= deadline:
            raise SandboxError(
                f"execution {execution_arn} still RUNNING after {timeout:.0f} s",
                hint="Its queued Lambda results may still be in moto's queue; restart the "
                "sandbox server before staging again.",
            )
        time.sleep(_POLL_INTERVAL_SECONDS)


def _check_status(scenario: Scenario, described: dict[str, Any]) -> None:
    expected = scenario.expected.execution_status
    if described["status"] != expected:
        detail = ""
        if described.get("error"):
            detail = f": {described['error']}: {str(described.get('cause'))[:300]}"
        raise SandboxError(
            f"execution {scenario.execution_name} ended {described['status']}, "
            f"expected {expected}{detail}"
        )


def _history_events(sfn: SFNClient, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    paginator = sfn.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=execution_arn):
        events.extend(dict(event) for event in page["events"])
    return events


def _is_lambda_invocation(event: dict[str, Any]) -> bool:
    if event["type"] == "LambdaFunctionScheduled":
        return True
    if event["type"] == "TaskScheduled":
        details = event.get("taskScheduledEventDetails", {})
        return bool(details.get("resourceType") == "lambda")
    return False


def _drain_lambda_queue(clients: _Clients) -> int:
    """Return how many values moto's Lambda response queue held, emptying it.

    moto's simple Lambda backend returns the next queued value, or echoes the request payload
    when the queue is empty, so an invoke that echoes a unique payload proves the queue empty.
    """
    probe = json.dumps({"sandbox_queue_probe": str(uuid.uuid4())})
    for drained in range(_MAX_LEFTOVER_DRAIN + 1):
        response = clients.lambda_.invoke(
            FunctionName=_QUEUE_PROBE_FUNCTION, Payload=probe.encode()
        )
        if response["Payload"].read().decode() == probe:
            if drained:
                log.warning("drained %d leftover Lambda results from moto's queue", drained)
            return drained
    raise SandboxError(
        f"moto's Lambda response queue at {clients.endpoint_url} still held values after "
        f"{_MAX_LEFTOVER_DRAIN} reads"
    )
