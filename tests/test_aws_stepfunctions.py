"""Step Functions reads against moto, paged like AWS by the loopback proxy.

The helpers at the top stage state machines and executions with a plain boto3 client; other
test modules import them.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sfn_forensics.aws.session import AwsOptions, ClientFactory
from sfn_forensics.aws.stepfunctions import (
    describe_execution,
    describe_state_machine_for_execution,
    execution_arn_for,
    get_full_history,
    resolve_execution_arn,
)
from sfn_forensics.errors import AmbiguousTargetError, NotFoundError, UsageError
from sfn_forensics.sandbox.proxy import AwsLikeProxy
from sfn_forensics.sandbox.server import MotoServer

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

pytestmark = pytest.mark.sandbox

ROLE_ARN = "arn:aws:iam::123456789012:role/sandbox"
REGION = "us-east-1"
# 300 iterations of one Pass state give 1,206 events: more than one 1,000-event page.
MAP_ITEMS = 300
MAP_EVENTS = 4 * MAP_ITEMS + 6

PASS_DEFINITION: dict[str, Any] = {
    "StartAt": "First",
    "States": {
        "First": {"Type": "Pass", "Result": {"stage": 1}, "Next": "Second"},
        "Second": {"Type": "Pass", "End": True},
    },
}
MAP_DEFINITION: dict[str, Any] = {
    "StartAt": "EachItem",
    "States": {
        "EachItem": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Echo",
                "States": {"Echo": {"Type": "Pass", "End": True}},
            },
            "End": True,
        }
    },
}


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def sfn_client(endpoint_url: str) -> SFNClient:
    """A plain boto3 client, without the read-only guard, for staging."""
    return boto3.client("stepfunctions", endpoint_url=endpoint_url, region_name=REGION)


def create_state_machine(
    endpoint_url: str, definition: dict[str, Any], name: str | None = None
) -> str:
    response = sfn_client(endpoint_url).create_state_machine(
        name=name or unique_name("sm"), definition=json.dumps(definition), roleArn=ROLE_ARN
    )
    return response["stateMachineArn"]


def run_execution(
    endpoint_url: str,
    state_machine_arn: str,
    execution_input: dict[str, Any] | None = None,
    name: str | None = None,
    timeout: float = 60.0,
) -> str:
    """Start an execution and wait until it leaves RUNNING. Return its ARN."""
    client = sfn_client(endpoint_url)
    execution_arn = client.start_execution(
        stateMachineArn=state_machine_arn,
        name=name or unique_name("run"),
        input=json.dumps(execution_input or {}),
    )["executionArn"]
    deadline = time.monotonic() + timeout
    while client.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
        if time.monotonic() > deadline:
            pytest.fail(f"execution {execution_arn} still RUNNING after {timeout:.0f} s")
        time.sleep(0.05)
    return execution_arn


@functools.cache
def staged_map_execution(endpoint_url: str) -> str:
    """Run the 300-item Map once per moto server and return the execution ARN."""
    state_machine_arn = create_state_machine(endpoint_url, MAP_DEFINITION, unique_name("map"))
    return run_execution(endpoint_url, state_machine_arn, {"items": list(range(MAP_ITEMS))})


@functools.cache
def staged_pass_execution(endpoint_url: str) -> str:
    """Run the two-Pass state machine once per moto server and return the execution ARN."""
    state_machine_arn = create_state_machine(endpoint_url, PASS_DEFINITION, unique_name("pass"))
    return run_execution(endpoint_url, state_machine_arn, {"n": 1})


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[AwsLikeProxy]:
    with AwsLikeProxy(moto_server.endpoint_url) as running:
        yield running


@pytest.fixture
def factory(moto_server: MotoServer) -> ClientFactory:
    return ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))


@pytest.fixture
def proxied_factory(proxy: AwsLikeProxy) -> ClientFactory:
    return ClientFactory(AwsOptions(endpoint_url=proxy.endpoint_url))


def test_history_through_proxy_has_several_pages(
    moto_server: MotoServer, proxied_factory: ClientFactory, proxy: AwsLikeProxy
) -> None:
    execution_arn = staged_map_execution(moto_server.endpoint_url)
    pages: list[tuple[int, int]] = []

    events = get_full_history(proxied_factory, execution_arn, lambda p, e: pages.append((p, e)))

    assert pages == [(1, 1000), (2, MAP_EVENTS)]
    assert proxy.calls.count("GetExecutionHistory") == 2
    assert [event["id"] for event in events] == list(range(1, MAP_EVENTS + 1))


def test_history_through_proxy_equals_direct(
    moto_server: MotoServer, factory: ClientFactory, proxied_factory: ClientFactory
) -> None:
    execution_arn = staged_map_execution(moto_server.endpoint_url)

    paged = get_full_history(proxied_factory, execution_arn)
    direct = get_full_history(factory, execution_arn)

    assert paged == direct


def test_history_proxy_reverse_order(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    execution_arn = staged_map_execution(moto_server.endpoint_url)
    client = sfn_client(proxy.endpoint_url)

    first = client.get_execution_history(
        executionArn=execution_arn, reverseOrder=True, maxResults=1000
    )
    second = client.get_execution_history(
        executionArn=execution_arn,
        reverseOrder=True,
        maxResults=1000,
        nextToken=first["nextToken"],
    )

    ids = [event["id"] for event in first["events"] + second["events"]]
    assert ids == list(range(MAP_EVENTS, 0, -1))
    assert "nextToken" not in second


def test_history_proxy_default_page_size(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    execution_arn = staged_map_execution(moto_server.endpoint_url)

    page = sfn_client(proxy.endpoint_url).get_execution_history(executionArn=execution_arn)

    assert len(page["events"]) == 100
    assert page.get("nextToken")


def test_history_proxy_without_execution_data(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)

    page = sfn_client(proxy.endpoint_url).get_execution_history(
        executionArn=execution_arn, includeExecutionData=False
    )

    started = page["events"][0]["executionStartedEventDetails"]
    exited = next(e for e in page["events"] if e["type"] == "PassStateExited")
    assert "input" not in started
    assert started["roleArn"] == ROLE_ARN
    assert "output" not in exited["stateExitedEventDetails"]
    assert exited["stateExitedEventDetails"]["name"] == "First"


def test_history_proxy_rejects_invalid_token(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)

    with pytest.raises(ClientError) as caught:
        sfn_client(proxy.endpoint_url).get_execution_history(
            executionArn=execution_arn, nextToken="not-a-token"
        )

    assert caught.value.response["Error"]["Code"] == "InvalidToken"


def test_describe_execution_returns_status(moto_server: MotoServer, factory: ClientFactory) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)

    described = describe_execution(factory, execution_arn)

    assert described["status"] == "SUCCEEDED"
    assert "ResponseMetadata" not in described


def test_describe_execution_uses_arn_region(moto_server: MotoServer) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    other_region = ClientFactory(
        AwsOptions(region="eu-west-1", endpoint_url=moto_server.endpoint_url)
    )

    described = describe_execution(other_region, execution_arn)

    assert described["executionArn"] == execution_arn


def test_describe_state_machine_for_execution_definition(
    moto_server: MotoServer, factory: ClientFactory
) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)

    described = describe_state_machine_for_execution(factory, execution_arn)

    assert json.loads(described["definition"]) == PASS_DEFINITION


def test_resolve_full_arn_unchanged(factory: ClientFactory) -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"

    assert resolve_execution_arn(factory, arn) == arn


def test_resolve_express_arn_unchanged(factory: ClientFactory) -> None:
    arn = "arn:aws:states:us-east-1:123456789012:express:orders:run-1:0b3c1f3e-52a4"

    assert resolve_execution_arn(factory, arn) == arn


def test_resolve_map_run_child_arn_unchanged(factory: ClientFactory) -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:orders/EachItem:0b3c1f3e-52a4"

    assert resolve_execution_arn(factory, arn) == arn


@pytest.mark.parametrize(
    "target",
    [
        "arn:aws:states:us-east-1:123456789012:execution:orders",
        "arn:aws:states:us-east-1:12345:execution:orders:run-1",
        "arn:aws:lambda:us-east-1:123456789012:function:orders",
        "arn:aws:states:us-east-1:123456789012:execution:orders:run 1",
    ],
)
def test_resolve_malformed_arn_raises_usage_error(factory: ClientFactory, target: str) -> None:
    with pytest.raises(UsageError, match="not an execution ARN"):
        resolve_execution_arn(factory, target)


def test_resolve_state_machine_arn_as_target_hints(factory: ClientFactory) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_execution_arn(factory, "arn:aws:states:us-east-1:123456789012:stateMachine:x")

    assert "--state-machine" in (caught.value.hint or "")


@pytest.mark.parametrize("name", ["", "two words", "a:b", "a/b", "x" * 81, "tab\there"])
def test_resolve_invalid_bare_name_raises_usage_error(factory: ClientFactory, name: str) -> None:
    with pytest.raises(UsageError):
        resolve_execution_arn(factory, name, state_machine="orders")


def test_resolve_name_with_state_machine_arn(factory: ClientFactory) -> None:
    state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"

    resolved = resolve_execution_arn(factory, "run-1", state_machine=state_machine_arn)

    assert resolved == "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"


def test_resolve_name_with_version_arn(factory: ClientFactory) -> None:
    version_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:orders:3"

    resolved = resolve_execution_arn(factory, "run-1", state_machine=version_arn)

    assert resolved == "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"


def test_resolve_name_with_state_machine_name(
    moto_server: MotoServer, factory: ClientFactory
) -> None:
    name = unique_name("named")
    state_machine_arn = create_state_machine(moto_server.endpoint_url, PASS_DEFINITION, name)

    resolved = resolve_execution_arn(factory, "run-1", state_machine=name)

    assert resolved == execution_arn_for(state_machine_arn, "run-1")


def test_resolve_unknown_state_machine_name(factory: ClientFactory) -> None:
    with pytest.raises(NotFoundError, match="state machine not found"):
        resolve_execution_arn(factory, "run-1", state_machine=unique_name("missing"))


def test_resolve_bare_name_searches_state_machines(
    moto_server: MotoServer, factory: ClientFactory
) -> None:
    create_state_machine(moto_server.endpoint_url, PASS_DEFINITION)
    state_machine_arn = create_state_machine(moto_server.endpoint_url, PASS_DEFINITION)
    name = unique_name("only")
    execution_arn = run_execution(moto_server.endpoint_url, state_machine_arn, name=name)

    assert resolve_execution_arn(factory, name) == execution_arn


def test_resolve_bare_name_not_found(factory: ClientFactory) -> None:
    with pytest.raises(NotFoundError) as caught:
        resolve_execution_arn(factory, unique_name("nowhere"))

    assert "standard state machines" in caught.value.message
    assert "--state-machine" in (caught.value.hint or "")


def test_resolve_bare_name_ambiguous(moto_server: MotoServer, factory: ClientFactory) -> None:
    name = unique_name("twice")
    first = run_execution(
        moto_server.endpoint_url,
        create_state_machine(moto_server.endpoint_url, PASS_DEFINITION),
        name=name,
    )
    second = run_execution(
        moto_server.endpoint_url,
        create_state_machine(moto_server.endpoint_url, PASS_DEFINITION),
        name=name,
    )

    with pytest.raises(AmbiguousTargetError) as caught:
        resolve_execution_arn(factory, name)

    assert first in caught.value.message
    assert second in caught.value.message
