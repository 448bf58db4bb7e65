"""Map botocore exceptions into the sfn-forensics exception hierarchy, each with a hint."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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

log = logging.getLogger(__name__)

NOT_FOUND_CODES = frozenset(
    {
        "ActivityDoesNotExist",
        "ExecutionDoesNotExist",
        "NoSuchBucket",
        "NoSuchKey",
        "NotFound",
        "ResourceNotFoundException",
        "StateMachineDoesNotExist",
        # S3 HEAD responses have no body, so botocore uses the HTTP status as the code.
        "404",
    }
)

ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation", "403"}
)

CREDENTIALS_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "MissingAuthenticationToken",
        "RequestExpired",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)

# The throttling codes of botocore 1.44's standard retry mode, except DynamoDB's
# TransactionInProgressException, plus HTTP 429 without a code.
THROTTLING_CODES = frozenset(
    {
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "LimitExceededException",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ThrottledException",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "429",
    }
)

INVALID_REQUEST_CODES = frozenset(
    {"InvalidArn", "InvalidName", "InvalidParameterException", "ValidationException"}
)

# IAM actions whose names differ from the API operation that needs them.
IAM_ACTION_OVERRIDES = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
}

CREDENTIALS_HINT = (
    "Run `aws configure` or `aws sso login`, pass --profile, or set AWS_PROFILE "
    "to a profile with valid credentials."
)
ENDPOINT_HINT = (
    "Check --endpoint-url, AWS_ENDPOINT_URL and the network. "
    "For the local sandbox, start it first with `forensics sandbox up`."
)
REGION_HINT = "Pass --region, or set AWS_REGION or the region of the profile."
NOT_FOUND_HINT = (
    "Check the name or ARN, the region (--region) and the account that the credentials belong to."
)
THROTTLED_HINT = "Wait a minute and run again, or reduce other API traffic in this account."


def iam_action(service: str, operation_name: str) -> str:
    """Return the IAM action that an operation needs, e.g. `states:GetExecutionHistory`."""
    return IAM_ACTION_OVERRIDES.get((service, operation_name), f"{service}:{operation_name}")


def map_aws_error(
    error: Exception, service: str, resource: str | None = None
) -> SfnForensicsError | None:
    """Return the sfn-forensics error for a botocore exception, or None for other exceptions.

    `service` is the IAM service prefix (`states`, `logs`, `s3`), used to name the IAM action in
    access-denied hints. `resource` names what the call was about, e.g. `execution <arn>`.
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        CredentialRetrievalError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
        ReadTimeoutError,
        SSOTokenLoadError,
        TokenRetrievalError,
        UnauthorizedSSOTokenError,
    )

    if isinstance(error, ClientError):
        return _map_client_error(error, service, resource)
    if isinstance(error, NoCredentialsError):
        return CredentialsError("no AWS credentials were found", hint=CREDENTIALS_HINT)
    if isinstance(
        error,
        PartialCredentialsError
        | CredentialRetrievalError
        | SSOTokenLoadError
        | TokenRetrievalError
        | UnauthorizedSSOTokenError,
    ):
        return CredentialsError(
            f"AWS credentials could not be loaded: {error}", hint=CREDENTIALS_HINT
        )
    if isinstance(error, ProfileNotFound):
        return UsageError(
            f"AWS profile not found: {error.kwargs.get('profile')}",
            hint="List the configured profiles with `aws configure list-profiles`.",
        )
    if isinstance(error, NoRegionError):
        return UsageError("no AWS region is configured", hint=REGION_HINT)
    if isinstance(
        error,
        EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError,
    ):
        return EndpointError(f"could not reach the AWS endpoint: {error}", hint=ENDPOINT_HINT)
    if isinstance(error, BotoCoreError):
        return AwsCallError(f"AWS call failed: {error}")
    return None


def _map_client_error(error: Any, service: str, resource: str | None) -> SfnForensicsError:
    response: dict[str, Any] = error.response
    details = response.get("Error", {})
    code = str(details.get("Code") or "Unknown")
    aws_message = str(details.get("Message") or "").strip()
    metadata = response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode")
    operation = str(error.operation_name)
    about = f" for {resource}" if resource else ""
    aws_detail = f": {aws_message}" if aws_message else ""

    if code in NOT_FOUND_CODES:
        subject = resource or f"the resource of {operation}"
        return NotFoundError(f"{subject} not found ({code}{aws_detail})", hint=NOT_FOUND_HINT)
    if code in CREDENTIALS_CODES:
        return CredentialsError(
            f"AWS rejected the credentials ({code}{aws_detail})", hint=CREDENTIALS_HINT
        )
    if code in ACCESS_DENIED_CODES or status == 403:
        action = iam_action(service, operation)
        return AccessDeniedError(
            f"access denied to {action}{about} ({code}{aws_detail})",
            hint=f"Grant {action} to the IAM role or user that the credentials belong to.",
        )
    if code in THROTTLING_CODES or status == 429:
        attempts = int(metadata.get("RetryAttempts", 0)) + 1
        return ThrottledError(
            f"{operation} was still throttled after {attempts} attempts ({code}{aws_detail})",
            hint=THROTTLED_HINT,
        )
    if code in INVALID_REQUEST_CODES:
        return UsageError(
            f"{operation} rejected the request{about} ({code}{aws_detail})",
            hint="Check the execution ARN or name, and the state machine given.",
        )
    return AwsCallError(f"{operation} failed{about} ({code}{aws_detail})")


@contextmanager
def aws_errors(service: str, resource: str | None = None) -> Iterator[None]:
    """Raise botocore exceptions from the block as sfn-forensics errors (see `map_aws_error`).

    The original exception stays available as `__cause__`.
    """
    try:
        yield
    except SfnForensicsError:
        raise
    except Exception as error:
        mapped = map_aws_error(error, service, resource)
        if mapped is None:
            raise
        log.debug("mapped %r to %s: %s", error, type(mapped).__name__, mapped.message)
        raise mapped from error


def aws_error_code(error: BaseException) -> str | None:
    """Return the AWS error code behind a mapped error or a ClientError, if there is one."""
    current: BaseException | None = error
    while current is not None:
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            return str(code) if code is not None else None
        current = current.__cause__
    return None
