"""ClientFactory: configuration, endpoint precedence, caching and lazy imports."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from sfn_forensics.aws.session import (
    CONNECT_TIMEOUT_SECONDS,
    DEFAULT_MAX_RETRIES,
    READ_TIMEOUT_SECONDS,
    AwsOptions,
    ClientFactory,
)
from sfn_forensics.errors import UsageError

OPTION_ENDPOINT = "http://127.0.0.1:5999"
ENVIRONMENT_ENDPOINT = "http://127.0.0.1:5998"


def test_factory_caches_clients() -> None:
    factory = ClientFactory()

    assert factory.stepfunctions() is factory.stepfunctions()
    assert factory.stepfunctions() is factory.stepfunctions("us-east-1")
    assert factory.stepfunctions() is not factory.stepfunctions("eu-west-1")


def test_factory_retry_configuration() -> None:
    config: Any = ClientFactory().stepfunctions().meta.config

    assert config.retries["mode"] == "adaptive"
    # botocore stores the retries of client Config as total attempts: retries + 1.
    assert config.retries["total_max_attempts"] == DEFAULT_MAX_RETRIES + 1


def test_factory_timeouts() -> None:
    config: Any = ClientFactory().s3().meta.config

    assert config.connect_timeout == CONNECT_TIMEOUT_SECONDS
    assert config.read_timeout == READ_TIMEOUT_SECONDS


def test_factory_endpoint_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", ENVIRONMENT_ENDPOINT)

    client = ClientFactory(AwsOptions(endpoint_url=OPTION_ENDPOINT)).logs()

    assert client.meta.endpoint_url == OPTION_ENDPOINT


def test_factory_endpoint_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", ENVIRONMENT_ENDPOINT)

    client = ClientFactory().stepfunctions()

    assert client.meta.endpoint_url == ENVIRONMENT_ENDPOINT


def test_factory_service_endpoint_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", ENVIRONMENT_ENDPOINT)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SFN", OPTION_ENDPOINT)
    factory = ClientFactory()

    assert factory.stepfunctions().meta.endpoint_url == OPTION_ENDPOINT
    assert factory.s3().meta.endpoint_url == ENVIRONMENT_ENDPOINT


def test_factory_region_option() -> None:
    factory = ClientFactory(AwsOptions(region="eu-central-1"))

    assert factory.region == "eu-central-1"
    assert factory.stepfunctions().meta.region_name == "eu-central-1"


def test_factory_without_region_raises_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    with pytest.raises(UsageError) as caught:
        ClientFactory().stepfunctions()

    assert "--region" in (caught.value.hint or "")


def test_factory_unknown_profile_raises_usage_error() -> None:
    factory = ClientFactory(AwsOptions(profile="no-such-profile"))

    with pytest.raises(UsageError, match="no-such-profile"):
        factory.stepfunctions()


@pytest.mark.parametrize("endpoint_url", ["127.0.0.1:5000", "ftp://127.0.0.1", "http://"])
def test_factory_invalid_endpoint_raises_usage_error(endpoint_url: str) -> None:
    with pytest.raises(UsageError, match="invalid endpoint URL"):
        ClientFactory(AwsOptions(endpoint_url=endpoint_url))


def test_aws_modules_import_without_boto3() -> None:
    code = (
        "import sys\n"
        "import sfn_forensics.aws.session, sfn_forensics.aws.stepfunctions\n"
        "import sfn_forensics.aws.progress, sfn_forensics.aws.errors\n"
        "import sfn_forensics.evidence.live, sfn_forensics.evidence.history_file\n"
        "heavy = sorted(m for m in ('boto3', 'botocore', 'rich') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.strip() == ""
