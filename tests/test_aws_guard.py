"""The read-only guard: write calls never leave the process, and product calls are all reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sfn_forensics.aws.guard import is_read_only_operation
from sfn_forensics.aws.session import AwsOptions, ClientFactory
from sfn_forensics.aws.stepfunctions import resolve_execution_arn
from sfn_forensics.errors import ReadOnlyViolationError
from sfn_forensics.evidence.live import collect_live
from sfn_forensics.sandbox.proxy import AwsLikeProxy
from sfn_forensics.sandbox.server import MotoServer
from tests.test_aws_stepfunctions import (
    PASS_DEFINITION,
    REGION,
    create_state_machine,
    run_execution,
    sfn_client,
    unique_name,
)

pytestmark = pytest.mark.sandbox


class RecordingFactory(ClientFactory):
    """A ClientFactory that records the name of every operation its clients are about to send."""

    def __init__(self, options: AwsOptions) -> None:
        super().__init__(options)
        self.operations: list[str] = []

    def _create_client(self, service: str, region: str | None) -> Any:
        client = super()._create_client(service, region)
        client.meta.events.register("before-parameter-build.*.*", self._record)
        return client

    def _record(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[AwsLikeProxy]:
    with AwsLikeProxy(moto_server.endpoint_url) as running:
        yield running


@pytest.mark.parametrize(
    "operation",
    [
        "DescribeExecution",
        "DescribeStateMachineForExecution",
        "GetExecutionHistory",
        "ListStateMachines",
        "FilterLogEvents",
        "GetObject",
        "HeadObject",
        "ListObjectsV2",
        "GetQueryResults",
    ],
)
def test_guard_allows_read(operation: str) -> None:
    assert is_read_only_operation(operation)


@pytest.mark.parametrize(
    "operation",
    [
        "StartExecution",
        "StopExecution",
        "RedriveExecution",
        "DeleteStateMachine",
        "PutObject",
        "StartQuery",
        "GetActivityTask",
        "SendTaskSuccess",
        "TestState",
        "PutLogEvents",
    ],
)
def test_guard_rejects_write(operation: str) -> None:
    assert not is_read_only_operation(operation)


def test_guard_blocks_start_execution(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    state_machine_arn = create_state_machine(moto_server.endpoint_url, PASS_DEFINITION)
    factory = ClientFactory(AwsOptions(endpoint_url=proxy.endpoint_url))

    with pytest.raises(ReadOnlyViolationError):
        factory.stepfunctions().start_execution(stateMachineArn=state_machine_arn)

    executions = sfn_client(moto_server.endpoint_url).list_executions(
        stateMachineArn=state_machine_arn
    )
    assert executions["executions"] == []
    assert "StartExecution" not in proxy.calls


def test_guard_blocks_delete_state_machine(moto_server: MotoServer) -> None:
    state_machine_arn = create_state_machine(moto_server.endpoint_url, PASS_DEFINITION)
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))

    with pytest.raises(ReadOnlyViolationError):
        factory.stepfunctions().delete_state_machine(stateMachineArn=state_machine_arn)

    described = sfn_client(moto_server.endpoint_url).describe_state_machine(
        stateMachineArn=state_machine_arn
    )
    assert described["status"] == "ACTIVE"


def test_guard_blocks_put_object(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    bucket = unique_name("guarded")
    s3 = boto3.client("s3", endpoint_url=moto_server.endpoint_url, region_name=REGION)
    s3.create_bucket(Bucket=bucket)
    factory = ClientFactory(AwsOptions(endpoint_url=proxy.endpoint_url))

    with pytest.raises(ReadOnlyViolationError):
        factory.s3().put_object(Bucket=bucket, Key="written.txt", Body=b"data")

    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert proxy.calls == []


def test_guard_blocks_start_query(moto_server: MotoServer) -> None:
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))

    with pytest.raises(ReadOnlyViolationError):
        factory.logs().start_query(
            logGroupName="/aws/lambda/any", startTime=0, endTime=1, queryString="fields @message"
        )


def test_guard_allows_every_collection_call(moto_server: MotoServer) -> None:
    name = unique_name("recorded")
    state_machine_name = unique_name("recorded-sm")
    state_machine_arn = create_state_machine(
        moto_server.endpoint_url, PASS_DEFINITION, state_machine_name
    )
    run_execution(moto_server.endpoint_url, state_machine_arn, {"n": 1}, name=name)
    factory = RecordingFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))

    by_search = resolve_execution_arn(factory, name)
    by_name = resolve_execution_arn(factory, name, state_machine=state_machine_name)
    evidence = collect_live(factory, by_search)

    assert by_search == by_name
    assert evidence.events
    assert set(factory.operations) >= {
        "ListStateMachines",
        "DescribeExecution",
        "GetExecutionHistory",
        "DescribeStateMachineForExecution",
    }
    rejected = sorted({op for op in factory.operations if not is_read_only_operation(op)})
    assert rejected == []
