"""Fetching logs and S3 evidence over HTTP: each source ends ok or unavailable with a reason."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sfn_forensics.aws.session import AwsOptions, ClientFactory
from sfn_forensics.evidence.artifacts import collect_artifacts
from sfn_forensics.evidence.model import ArtifactPlan, Evidence, LogGroupPlan
from sfn_forensics.sandbox.proxy import AwsLikeProxy
from sfn_forensics.sandbox.server import MotoServer

pytestmark = pytest.mark.sandbox


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[AwsLikeProxy]:
    with AwsLikeProxy(moto_server.endpoint_url) as running:
        yield running


def client(moto_server: MotoServer, service: str) -> Any:
    return boto3.client(service, endpoint_url=moto_server.endpoint_url, region_name="us-east-1")


def empty_evidence() -> Evidence:
    return Evidence(None, "run-1", None, [], None)


def stage_objects(moto_server: MotoServer) -> tuple[str, str]:
    """Create a log group with two lines and a bucket with poll results and a snapshot."""
    suffix = uuid.uuid4().hex[:8]
    group = f"/aws/lambda/fn-{suffix}"
    logs = client(moto_server, "logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    now_ms = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[
            {"timestamp": now_ms - 2000, "message": "START RequestId: r1 Version: $LATEST"},
            {"timestamp": now_ms - 1000, "message": "END RequestId: r1"},
        ],
    )
    bucket = f"bucket-{suffix}"
    s3 = client(moto_server, "s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="poll_results/run-1/poll_results.json", Body=b"[]")
    s3.put_object(
        Bucket=bucket,
        Key="words/snapshot/timestamped/v1/chroma.sqlite3",
        Body=b"x" * 10,
        Metadata={"total_embeddings": "5"},
    )
    s3.put_object(Bucket=bucket, Key="words/snapshot/latest-pointer.txt", Body=b"v1\n")
    return group, bucket


def plan_for(group: str, bucket: str) -> ArtifactPlan:
    now = datetime.now(tz=UTC)
    return ArtifactPlan(
        execution_name="run-1",
        execution_start=now - timedelta(minutes=1),
        execution_stop=now,
        log_groups=[
            LogGroupPlan(group, "fn", ("Task",)),
            LogGroupPlan("/aws/lambda/missing-fn", "missing-fn", ("Other",)),
        ],
        poll_results_bucket=bucket,
        poll_results_key="poll_results/run-1/poll_results.json",
        poll_results_origin="test",
        snapshot_bucket=bucket,
        snapshot_pointer_key="words/snapshot/latest-pointer.txt",
        snapshot_prefix_template="words/snapshot/timestamped/{version}/",
        applicable={"logs", "poll_results", "snapshot"},
    )


def test_artifacts_all_sources_read(moto_server: MotoServer) -> None:
    group, bucket = stage_objects(moto_server)
    evidence = empty_evidence()
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))
    collect_artifacts(factory, evidence, plan_for(group, bucket))
    assert evidence.sources["logs"].ok
    assert len(evidence.log_events[group]) == 2
    assert not evidence.log_group_status["/aws/lambda/missing-fn"].ok
    assert evidence.sources["poll_results"].ok
    body = evidence.s3_objects["poll_results"].body_file
    assert body is not None
    assert json.loads(body.read()) == []
    assert evidence.sources["snapshot"].ok
    assert evidence.snapshot is not None
    assert evidence.snapshot.prefix == "words/snapshot/timestamped/v1/"
    assert "may have moved" in evidence.snapshot.origin
    assert evidence.snapshot.metadata["words/snapshot/timestamped/v1/chroma.sqlite3"] == {
        "total_embeddings": "5"
    }


def test_artifacts_denied_reads_unavailable(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    group, bucket = stage_objects(moto_server)
    proxy.deny_s3("GET", bucket, "poll_results/")
    proxy.deny_s3("GET", bucket, "words/")
    proxy.deny("FilterLogEvents")
    evidence = empty_evidence()
    factory = ClientFactory(AwsOptions(endpoint_url=proxy.endpoint_url))
    collect_artifacts(factory, evidence, plan_for(group, bucket))
    assert not evidence.sources["logs"].ok
    assert "access denied" in (evidence.sources["logs"].reason or "").lower()
    assert not evidence.sources["poll_results"].ok
    assert "denied" in (evidence.sources["poll_results"].reason or "").lower()
    assert not evidence.sources["snapshot"].ok


def test_artifacts_only_limits_sources(moto_server: MotoServer) -> None:
    group, bucket = stage_objects(moto_server)
    evidence = empty_evidence()
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))
    collect_artifacts(factory, evidence, plan_for(group, bucket), only={"poll_results"})
    assert set(evidence.sources) == {"poll_results"}


def test_artifacts_not_applicable_left_unset(moto_server: MotoServer) -> None:
    evidence = empty_evidence()
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))
    plan = ArtifactPlan(execution_name="run-1", execution_start=None, execution_stop=None)
    collect_artifacts(factory, evidence, plan)
    assert evidence.sources == {}


def test_local_endpoint_needs_no_credentials(
    moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url, region="us-east-1"))
    assert "stateMachines" in factory.stepfunctions().list_state_machines()
