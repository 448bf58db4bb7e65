"""The one exception hierarchy. The CLI maps `exit_code` to the process exit status."""

from __future__ import annotations

# Exit codes, documented in docs/exit-codes.md.
EXIT_HEALTHY = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_CANNOT_INSPECT = 3
EXIT_INCONCLUSIVE = 4


class SfnForensicsError(Exception):
    """Base error: a plain message plus a hint saying what to do next."""

    exit_code = EXIT_CANNOT_INSPECT

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(SfnForensicsError):
    """Invalid arguments or input files."""

    exit_code = EXIT_USAGE


class InvalidInputError(UsageError):
    """An input file (history, definition, bundle) that cannot be read as expected."""


class NotFoundError(SfnForensicsError):
    """The execution, state machine or object does not exist."""


class AmbiguousTargetError(UsageError):
    """A bare execution name matches executions of several state machines."""


class AccessDeniedError(SfnForensicsError):
    """AWS rejected the call for lack of permission."""


class CredentialsError(SfnForensicsError):
    """No usable AWS credentials were found or they have expired."""


class EndpointError(SfnForensicsError):
    """The endpoint could not be reached, or the request to it timed out."""


class ThrottledError(SfnForensicsError):
    """AWS kept throttling the call after botocore's retries."""


class AwsCallError(SfnForensicsError):
    """Any other error returned by an AWS API."""


class ReadOnlyViolationError(SfnForensicsError):
    """An operation outside the read-only allow-list was about to be sent."""


class SandboxError(SfnForensicsError):
    """The local sandbox could not be started or staged."""
