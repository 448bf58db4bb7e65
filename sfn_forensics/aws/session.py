"""One boto3 session per run and cached, read-only clients built from it.

boto3 is imported on first use, so importing this module (and `forensics --help`) stays fast.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

from sfn_forensics import __version__
from sfn_forensics.aws.errors import aws_errors
from sfn_forensics.aws.guard import install_read_only_guard
from sfn_forensics.errors import UsageError

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger(__name__)

LOCAL_DEFAULT_REGION = "us-east-1"

# botocore's adaptive mode adds client-side rate limiting to the standard retry backoff.
# In client Config, `max_attempts` counts retries after the first call (botocore 1.44 turns it into
# total_max_attempts = max_attempts + 1), so 8 means up to 9 calls.
DEFAULT_MAX_RETRIES = 8
CONNECT_TIMEOUT_SECONDS = 10.0
# A history page holds up to 1,000 events, each with up to 256 KiB of input or output.
READ_TIMEOUT_SECONDS = 60.0
# Enough for the thread pools in `aws/` and `evidence/` to share one client.
MAX_POOL_CONNECTIONS = 16


@dataclass(frozen=True)
class AwsOptions:
    """Connection options from the command line. None leaves the choice to boto3's own chain."""

    profile: str | None = None
    region: str | None = None
    # Overrides AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> for every client.
    endpoint_url: str | None = None


class ClientFactory:
    """Build one boto3 session and one cached client per service and region.

    Every client gets the adaptive retry configuration and the read-only guard. A lock serialises
    client creation because boto3 sessions are not thread-safe. The clients themselves are
    thread-safe and shared between threads.
    """

    def __init__(
        self, options: AwsOptions | None = None, *, max_retries: int = DEFAULT_MAX_RETRIES
    ) -> None:
        self.options = options or AwsOptions()
        if self.options.endpoint_url is not None:
            _validate_endpoint_url(self.options.endpoint_url)
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self.max_retries = max_retries
        self._lock = threading.Lock()
        self._session: boto3.Session | None = None
        self._clients: dict[tuple[str, str | None], Any] = {}

    @property
    def region(self) -> str | None:
        """The region clients use when none is given: `--region`, else the profile's."""
        with self._lock:
            return self._get_session().region_name

    def client(self, service: str, region: str | None = None) -> Any:
        """Return the guarded client for `service` in `region` (default: the session's)."""
        with self._lock:
            if region is not None and region == self._get_session().region_name:
                region = None
            key = (service, region)
            cached = self._clients.get(key)
            if cached is not None:
                return cached
            client = self._create_client(service, region)
            self._clients[key] = client
            return client

    def stepfunctions(self, region: str | None = None) -> SFNClient:
        return cast("SFNClient", self.client("stepfunctions", region))

    def logs(self, region: str | None = None) -> CloudWatchLogsClient:
        return cast("CloudWatchLogsClient", self.client("logs", region))

    def s3(self, region: str | None = None) -> S3Client:
        return cast("S3Client", self.client("s3", region))

    def _get_session(self) -> boto3.Session:
        if self._session is None:
            import boto3

            with aws_errors("sts"):
                self._session = boto3.Session(
                    profile_name=self.options.profile, region_name=self.options.region
                )
        return self._session

    def _create_client(self, service: str, region: str | None) -> Any:
        from botocore.config import Config

        session = self._get_session()
        config = Config(
            retries={"mode": "adaptive", "max_attempts": self.max_retries},
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            max_pool_connections=MAX_POOL_CONNECTIONS,
            user_agent_extra=f"sfn-forensics/{__version__}",
        )
        # endpoint_url=None lets botocore apply AWS_ENDPOINT_URL_<SERVICE> and AWS_ENDPOINT_URL.
        with aws_errors(service):
            client = session.client(
                service,  # type: ignore[call-overload]
                region_name=region or self.options.region or self._local_region(session),
                endpoint_url=self.options.endpoint_url,
                config=config,
                **self._local_credentials(),
            )
        install_read_only_guard(client)
        log.debug(
            "created %s client for region %s at %s",
            service,
            client.meta.region_name,
            client.meta.endpoint_url,
        )
        return client

    def _local_region(self, session: Any) -> str | None:
        """Return us-east-1 for a loopback endpoint when no region is configured at all.

        The sandbox stages everything in us-east-1; against AWS a missing region stays an error.
        """
        if session.region_name:
            return None
        endpoint = self.options.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint is None or not is_loopback_endpoint(endpoint):
            return None
        log.info("no region configured; using us-east-1 for the local endpoint %s", endpoint)
        return LOCAL_DEFAULT_REGION

    def _local_credentials(self) -> dict[str, str]:
        """Return placeholder keys for a loopback endpoint when no credentials are configured.

        A local emulator does not check keys, and skipping the credential chain keeps botocore
        from probing the instance metadata address on a laptop.
        """
        endpoint = self.options.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint is None or not is_loopback_endpoint(endpoint):
            return {}
        if self.options.profile or os.environ.get("AWS_PROFILE"):
            return {}
        if os.environ.get("AWS_ACCESS_KEY_ID"):
            return {}
        return {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def is_loopback_endpoint(endpoint_url: str) -> bool:
    """Return True when the URL's host is a loopback address or `localhost`."""
    host = urlparse(endpoint_url).hostname
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _validate_endpoint_url(endpoint_url: str) -> None:
    parsed = urlparse(endpoint_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(
            f"invalid endpoint URL: {endpoint_url!r}",
            hint="Pass a full URL such as http://127.0.0.1:5055 to --endpoint-url.",
        )
