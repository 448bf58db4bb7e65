"""Mapping of botocore errors into the sfn-forensics hierarchy, offline and over HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from sfn_forensics.aws.errors import aws_error_code, aws_errors, map_aws_error
from sfn_forensics.aws.session import AwsOptions, ClientFactory
from sfn_forensics.aws.stepfunctions import describe_execution, get_full_history
from sfn_forensics.errors import (
    AccessDeniedError,
    AwsCallError,
    CredentialsError,
    EndpointError,
    NotFoundError,
    SfnForensicsError,
    ThrottledError,
    UsageError,
)
from sfn_forensics.sandbox.proxy import AwsLikeProxy
from sfn_forensics.sandbox.server import LOOPBACK_HOST, MotoServer
from tests.test_aws_stepfunctions import staged_pass_execution

MISSING_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:nowhere:missing"


def client_error(
    code: str, status: int = 400, operation: str = "GetExecutionHistory"
) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": f"message for {code}"},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 7},
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


def closed_loopback_port() -> int:
    """Return a port on 127.0.0.1 that was bound and closed, so nothing listens on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK_HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[AwsLikeProxy]:
    with AwsLikeProxy(moto_server.endpoint_url) as running:
        yield running


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ExecutionDoesNotExist", 400, NotFoundError),
        ("StateMachineDoesNotExist", 400, NotFoundError),
        ("NoSuchKey", 404, NotFoundError),
        ("ResourceNotFoundException", 400, NotFoundError),
        ("404", 404, NotFoundError),
        ("AccessDeniedException", 400, AccessDeniedError),
        ("AccessDenied", 403, AccessDeniedError),
        ("UnauthorizedOperation", 403, AccessDeniedError),
        ("403", 403, AccessDeniedError),
        ("ExpiredTokenException", 400, CredentialsError),
        ("ExpiredToken", 400, CredentialsError),
        ("InvalidClientTokenId", 403, CredentialsError),
        ("UnrecognizedClientException", 400, CredentialsError),
        ("ThrottlingException", 400, ThrottledError),
        ("TooManyRequestsException", 429, ThrottledError),
        ("InvalidArn", 400, UsageError),
        ("ValidationException", 400, UsageError),
        ("InternalServerError", 500, AwsCallError),
    ],
)
def test_map_client_error(code: str, status: int, expected: type[SfnForensicsError]) -> None:
    mapped = map_aws_error(client_error(code, status), "states")

    assert type(mapped) is expected


def test_map_access_denied_names_iam_action() -> None:
    mapped = map_aws_error(client_error("AccessDeniedException"), "states", "execution x")

    assert mapped is not None
    assert "states:GetExecutionHistory" in (mapped.hint or "")
    assert "execution x" in mapped.message


def test_map_access_denied_s3_head_object_action() -> None:
    mapped = map_aws_error(client_error("403", 403, "HeadObject"), "s3")

    assert mapped is not None
    assert "s3:GetObject" in (mapped.hint or "")


def test_map_throttling_counts_attempts() -> None:
    mapped = map_aws_error(client_error("ThrottlingException"), "states")

    assert mapped is not None
    assert "8 attempts" in mapped.message


def test_map_credentials_hint_names_profile() -> None:
    mapped = map_aws_error(NoCredentialsError(), "states")

    assert isinstance(mapped, CredentialsError)
    assert "--profile" in (mapped.hint or "")
    assert "aws configure" in (mapped.hint or "")


def test_map_partial_credentials() -> None:
    error = PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY")

    assert isinstance(map_aws_error(error, "states"), CredentialsError)


def test_map_no_region_hints_region_option() -> None:
    mapped = map_aws_error(NoRegionError(), "states")

    assert isinstance(mapped, UsageError)
    assert "--region" in (mapped.hint or "")


def test_map_connection_errors_to_endpoint_error() -> None:
    connection_refused = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    timed_out = ReadTimeoutError(endpoint_url="http://127.0.0.1:1")

    assert isinstance(map_aws_error(connection_refused, "states"), EndpointError)
    assert isinstance(map_aws_error(timed_out, "states"), EndpointError)


def test_map_other_exception_returns_none() -> None:
    assert map_aws_error(KeyError("x"), "states") is None


def test_aws_errors_keeps_cause_and_code() -> None:
    with pytest.raises(NotFoundError) as caught, aws_errors("states"):
        raise client_error("ExecutionDoesNotExist")

    assert isinstance(caught.value.__cause__, ClientError)
    assert aws_error_code(caught.value) == "ExecutionDoesNotExist"


def test_aws_errors_passes_own_errors() -> None:
    with pytest.raises(UsageError, match="ours"), aws_errors("states"):
        raise UsageError("ours")


@pytest.mark.sandbox
def test_unreachable_endpoint_raises_endpoint_error() -> None:
    endpoint_url = f"http://{LOOPBACK_HOST}:{closed_loopback_port()}"
    factory = ClientFactory(AwsOptions(endpoint_url=endpoint_url), max_retries=1)

    with pytest.raises(EndpointError) as caught:
        describe_execution(factory, MISSING_EXECUTION)

    assert "--endpoint-url" in (caught.value.hint or "")


@pytest.mark.sandbox
def test_missing_execution_raises_not_found(moto_server: MotoServer) -> None:
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))

    with pytest.raises(NotFoundError) as caught:
        describe_execution(factory, MISSING_EXECUTION)

    assert MISSING_EXECUTION in caught.value.message


@pytest.mark.sandbox
def test_invalid_arn_raises_usage_error(moto_server: MotoServer) -> None:
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))

    with pytest.raises(UsageError):
        describe_execution(factory, "not-an-arn")


@pytest.mark.sandbox
def test_denied_history_raises_access_denied(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    proxy.deny("GetExecutionHistory")
    factory = ClientFactory(AwsOptions(endpoint_url=proxy.endpoint_url))

    with pytest.raises(AccessDeniedError) as caught:
        get_full_history(factory, execution_arn)

    assert "states:GetExecutionHistory" in (caught.value.hint or "")


@pytest.mark.sandbox
def test_throttled_history_raises_throttled(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    proxy.throttle("GetExecutionHistory")
    factory = ClientFactory(AwsOptions(endpoint_url=proxy.endpoint_url), max_retries=1)

    with pytest.raises(ThrottledError) as caught:
        get_full_history(factory, execution_arn)

    assert "2 attempts" in caught.value.message
    assert proxy.calls.count("GetExecutionHistory") == 2


@pytest.mark.sandbox
def test_throttled_history_retried(moto_server: MotoServer, proxy: AwsLikeProxy) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    proxy.throttle("GetExecutionHistory", times=1)
    factory = ClientFactory(AwsOptions(endpoint_url=proxy.endpoint_url))

    events = get_full_history(factory, execution_arn)

    assert events[0]["type"] == "ExecutionStarted"
    assert proxy.calls.count("GetExecutionHistory") == 2


@pytest.mark.sandbox
def test_expired_token_raises_credentials_error(
    moto_server: MotoServer, proxy: AwsLikeProxy
) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    proxy.fail("DescribeExecution", "ExpiredTokenException", 400, "The security token expired")
    factory = ClientFactory(AwsOptions(endpoint_url=proxy.endpoint_url))

    with pytest.raises(CredentialsError):
        describe_execution(factory, execution_arn)
