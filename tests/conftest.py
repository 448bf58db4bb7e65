"""Shared fixtures. Servers run on 127.0.0.1 and are reached over HTTP through boto3."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfn_forensics.sandbox.server import MotoServer, start_moto_server
from sfn_forensics.sandbox.staging import StagedSandbox
from sfn_forensics.sandbox.up import start_sandbox

RECORDED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "aws-recorded"


@pytest.fixture(autouse=True)
def _isolated_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from real AWS credentials, profiles and endpoints."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    # Keep botocore from probing the instance metadata address for credentials or region.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A bare moto server with state machine execution on; tests create what they need."""
    server = start_moto_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def recorded_fixtures() -> Path:
    if not RECORDED_FIXTURES.is_dir():
        message = f"recorded AWS fixtures not found at {RECORDED_FIXTURES}"
        # CI always has shared/ beside the clone; elsewhere the tests that need it are skipped.
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return RECORDED_FIXTURES


@pytest.fixture(scope="session")
def sandbox() -> Iterator[StagedSandbox]:
    """Every sandbox scenario staged on a moto server of its own (45-55 s to set up).

    `endpoint_url` is the proxy that denies the scenarios' denied reads and pages histories as
    AWS does; `moto_endpoint_url` is the moto server behind it.
    """
    running = start_sandbox(None, "us-east-1")
    try:
        yield running.staged
    finally:
        running.stop()
