"""collect_live against moto, with faults injected by the loopback proxy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from sfn_forensics.aws.session import AwsOptions, ClientFactory
from sfn_forensics.errors import AccessDeniedError, NotFoundError
from sfn_forensics.evidence.live import collect_live, parse_definition
from sfn_forensics.evidence.model import SOURCE_DEFINITION, SOURCE_DESCRIBE, SOURCE_HISTORY
from sfn_forensics.sandbox.proxy import AwsLikeProxy
from sfn_forensics.sandbox.server import MotoServer
from tests.test_aws_stepfunctions import (
    MAP_EVENTS,
    PASS_DEFINITION,
    staged_map_execution,
    staged_pass_execution,
)

MISSING_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:nowhere:missing"


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[AwsLikeProxy]:
    with AwsLikeProxy(moto_server.endpoint_url) as running:
        yield running


@pytest.fixture
def proxied_factory(proxy: AwsLikeProxy) -> ClientFactory:
    return ClientFactory(AwsOptions(endpoint_url=proxy.endpoint_url))


@pytest.mark.sandbox
def test_collect_live_fills_every_source(moto_server: MotoServer) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))

    evidence = collect_live(factory, execution_arn)

    assert evidence.origin == "live"
    assert evidence.execution_arn == execution_arn
    assert evidence.execution_name == execution_arn.rsplit(":", 1)[1]
    assert evidence.state_machine_arn is not None
    assert ":stateMachine:pass-" in evidence.state_machine_arn
    assert evidence.definition == PASS_DEFINITION
    assert evidence.describe_execution is not None
    assert evidence.describe_execution["status"] == "SUCCEEDED"
    assert evidence.describe_state_machine is not None
    assert isinstance(evidence.describe_state_machine["definition"], str)
    assert {name: status.ok for name, status in evidence.sources.items()} == {
        SOURCE_DESCRIBE: True,
        SOURCE_HISTORY: True,
        SOURCE_DEFINITION: True,
    }
    assert evidence.history_complete


@pytest.mark.sandbox
def test_collect_live_events_oldest_first(moto_server: MotoServer) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))

    evidence = collect_live(factory, execution_arn)

    assert evidence.events[0]["type"] == "ExecutionStarted"
    assert evidence.events[-1]["type"] == "ExecutionSucceeded"
    assert isinstance(evidence.events[0]["timestamp"], datetime)
    assert "ResponseMetadata" not in evidence.events[0]


@pytest.mark.sandbox
def test_collect_live_pages_history(
    moto_server: MotoServer, proxied_factory: ClientFactory
) -> None:
    execution_arn = staged_map_execution(moto_server.endpoint_url)

    evidence = collect_live(proxied_factory, execution_arn)

    assert len(evidence.events) == MAP_EVENTS
    assert evidence.sources[SOURCE_HISTORY].detail == f"{MAP_EVENTS} events in 2 pages"


@pytest.mark.sandbox
def test_collect_live_definition_denied(
    moto_server: MotoServer, proxy: AwsLikeProxy, proxied_factory: ClientFactory
) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    proxy.deny("DescribeStateMachineForExecution")

    evidence = collect_live(proxied_factory, execution_arn)

    status = evidence.sources[SOURCE_DEFINITION]
    assert not status.ok
    assert "access denied to states:DescribeStateMachineForExecution" in (status.reason or "")
    assert status.describe().startswith("unavailable: ")
    assert evidence.definition is None
    assert evidence.sources[SOURCE_HISTORY].ok
    assert evidence.events[-1]["type"] == "ExecutionSucceeded"


@pytest.mark.sandbox
def test_collect_live_describe_denied(
    moto_server: MotoServer, proxy: AwsLikeProxy, proxied_factory: ClientFactory
) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    proxy.deny("DescribeExecution")

    evidence = collect_live(proxied_factory, execution_arn)

    assert not evidence.sources[SOURCE_DESCRIBE].ok
    assert evidence.describe_execution is None
    assert evidence.execution_name == execution_arn.rsplit(":", 1)[1]
    assert evidence.state_machine_arn is not None
    assert evidence.sources[SOURCE_DEFINITION].ok


@pytest.mark.sandbox
def test_collect_live_history_denied_raises(
    moto_server: MotoServer, proxy: AwsLikeProxy, proxied_factory: ClientFactory
) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    proxy.deny("GetExecutionHistory")

    with pytest.raises(AccessDeniedError) as caught:
        collect_live(proxied_factory, execution_arn)

    assert "states:GetExecutionHistory" in (caught.value.hint or "")


@pytest.mark.sandbox
def test_collect_live_missing_execution_raises(moto_server: MotoServer) -> None:
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))

    with pytest.raises(NotFoundError) as caught:
        collect_live(factory, MISSING_EXECUTION)

    assert MISSING_EXECUTION in caught.value.message


def test_parse_definition_object() -> None:
    definition, reason = parse_definition('{"StartAt": "A", "States": {}}')

    assert definition == {"StartAt": "A", "States": {}}
    assert reason == ""


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not an object"),
        (None, "no definition string"),
    ],
)
def test_parse_definition_invalid(text: object, reason_part: str) -> None:
    definition, reason = parse_definition(text)

    assert definition is None
    assert reason_part in reason
