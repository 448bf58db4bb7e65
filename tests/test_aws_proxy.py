"""AwsLikeProxy: loopback only, unchanged forwarding, and AWS-shaped injected faults."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.proxy import AwsLikeProxy
from sfn_forensics.sandbox.server import LOOPBACK_HOST, MotoServer
from tests.test_aws_stepfunctions import REGION, sfn_client, staged_pass_execution, unique_name

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.sandbox

# No retries, so each call is exactly one request through the proxy.
SINGLE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


def s3_client(endpoint_url: str) -> S3Client:
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=REGION, config=SINGLE_ATTEMPT)


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[AwsLikeProxy]:
    with AwsLikeProxy(moto_server.endpoint_url) as running:
        yield running


@pytest.fixture
def bucket(moto_server: MotoServer) -> str:
    name = unique_name("proxied")
    s3_client(moto_server.endpoint_url).create_bucket(Bucket=name)
    return name


def test_proxy_rejects_non_loopback_host(moto_server: MotoServer) -> None:
    with pytest.raises(SandboxError, match="loopback"):
        AwsLikeProxy(moto_server.endpoint_url, host="0.0.0.0")


def test_proxy_rejects_non_loopback_upstream() -> None:
    with pytest.raises(SandboxError, match="loopback"):
        AwsLikeProxy("http://192.0.2.10:5000")


def test_proxy_endpoint_url_requires_start(moto_server: MotoServer) -> None:
    with pytest.raises(SandboxError, match="start"):
        _ = AwsLikeProxy(moto_server.endpoint_url).endpoint_url


def test_proxy_forwards_s3_body_unchanged(
    moto_server: MotoServer, proxy: AwsLikeProxy, bucket: str
) -> None:
    body = bytes(range(256)) * 64
    s3_client(proxy.endpoint_url).put_object(
        Bucket=bucket, Key="data/blob.bin", Body=body, Metadata={"stage": "split"}
    )

    direct = s3_client(moto_server.endpoint_url).get_object(Bucket=bucket, Key="data/blob.bin")
    proxied = s3_client(proxy.endpoint_url).get_object(Bucket=bucket, Key="data/blob.bin")

    assert direct["Body"].read() == body
    assert proxied["Body"].read() == body
    assert proxied["Metadata"] == {"stage": "split"}
    assert proxied["ETag"] == direct["ETag"]


def test_proxy_s3_deny_returns_access_denied(
    moto_server: MotoServer, proxy: AwsLikeProxy, bucket: str
) -> None:
    direct = s3_client(moto_server.endpoint_url)
    direct.put_object(Bucket=bucket, Key="secret/a.json", Body=b"{}")
    direct.put_object(Bucket=bucket, Key="public/a.json", Body=b"{}")
    proxy.deny_s3("GET", bucket, "secret/")
    client = s3_client(proxy.endpoint_url)

    with pytest.raises(ClientError) as caught:
        client.get_object(Bucket=bucket, Key="secret/a.json")

    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert client.get_object(Bucket=bucket, Key="public/a.json")["Body"].read() == b"{}"


def test_proxy_s3_deny_head_has_status_only(
    moto_server: MotoServer, proxy: AwsLikeProxy, bucket: str
) -> None:
    s3_client(moto_server.endpoint_url).put_object(Bucket=bucket, Key="k", Body=b"x")
    proxy.deny_s3("HEAD", bucket)

    with pytest.raises(ClientError) as caught:
        s3_client(proxy.endpoint_url).head_object(Bucket=bucket, Key="k")

    assert caught.value.response["Error"]["Code"] == "403"


def test_proxy_json_deny_shape(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    proxy.deny("DescribeExecution")

    with pytest.raises(ClientError) as caught:
        sfn_client(proxy.endpoint_url).describe_execution(executionArn=execution_arn)

    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "not authorized to perform: states:DescribeExecution" in error["Message"]
    assert execution_arn in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_proxy_fault_times_then_forwards(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    proxy.fail("DescribeExecution", "InternalFailure", 500, "boom", times=1)
    client = boto3.client(
        "stepfunctions", endpoint_url=proxy.endpoint_url, region_name=REGION, config=SINGLE_ATTEMPT
    )

    with pytest.raises(ClientError) as caught:
        client.describe_execution(executionArn=execution_arn)
    described = client.describe_execution(executionArn=execution_arn)

    assert caught.value.response["Error"]["Code"] == "InternalFailure"
    assert described["status"] == "SUCCEEDED"


def test_proxy_clear_faults(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    proxy.deny("DescribeExecution")
    proxy.clear_faults()

    described = sfn_client(proxy.endpoint_url).describe_execution(executionArn=execution_arn)

    assert described["status"] == "SUCCEEDED"


def test_proxy_history_max_results_over_limit(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)

    with pytest.raises(ClientError) as caught:
        sfn_client(proxy.endpoint_url).get_execution_history(
            executionArn=execution_arn, maxResults=1001
        )

    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_proxy_history_passes_upstream_errors(proxy: AwsLikeProxy) -> None:
    missing = "arn:aws:states:us-east-1:123456789012:execution:nowhere:missing"

    with pytest.raises(ClientError) as caught:
        sfn_client(proxy.endpoint_url).get_execution_history(executionArn=missing)

    assert caught.value.response["Error"]["Code"] == "ExecutionDoesNotExist"


def test_proxy_stop_closes_port(moto_server: MotoServer) -> None:
    proxy = AwsLikeProxy(moto_server.endpoint_url).start()
    port = proxy.port
    sfn_client(proxy.endpoint_url).list_state_machines()

    proxy.stop()

    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(ConnectionRefusedError),
    ):
        sock.connect((LOOPBACK_HOST, port))
