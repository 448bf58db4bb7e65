"""Start and configure a moto server on the loopback interface."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from sfn_forensics.aws.session import is_loopback_endpoint
from sfn_forensics.errors import SandboxError

log = logging.getLogger(__name__)

LOOPBACK_HOST = "127.0.0.1"


def require_loopback(endpoint_url: str) -> None:
    """Raise SandboxError unless the endpoint is on this machine's loopback interface."""
    if not is_loopback_endpoint(endpoint_url):
        raise SandboxError(
            f"refusing to stage sandbox resources at {endpoint_url}: not a loopback endpoint",
            hint="Use an endpoint on 127.0.0.1, as `forensics sandbox up` prints.",
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK_HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    """A running `moto_server` subprocess."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK_HOST}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_moto_server(port: int | None = None, ready_timeout: float = 30.0) -> MotoServer:
    """Start `moto_server` on 127.0.0.1 and turn on state machine execution.

    moto's ASL interpreter calls Lambda at `localhost:$MOTO_PORT`, so the child gets MOTO_PORT set
    to the port it serves on.
    """
    port = port or free_port()
    env = dict(os.environ)
    env["MOTO_PORT"] = str(port)
    # The interpreter's internal boto3 clients need a region and some credentials.
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    command = [sys.executable, "-m", "moto.server", "-H", LOOPBACK_HOST, "-p", str(port)]
    log.info("starting moto server on %s:%d", LOOPBACK_HOST, port)
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = MotoServer(port=port, process=process)
    try:
        _wait_until_ready(server, ready_timeout)
    except BaseException:
        # Also on KeyboardInterrupt: a caller that never receives the server cannot stop it.
        server.stop()
        raise
    return server


def _wait_until_ready(server: MotoServer, ready_timeout: float) -> None:
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SandboxError(
                f"moto server exited with status {server.process.returncode} during start-up",
                hint="Install the sandbox extra: pip install 'sfn-forensics[sandbox]'.",
            )
        try:
            configure_moto(server.endpoint_url)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise SandboxError(
        f"moto server on port {server.port} did not respond within {ready_timeout:.0f} s"
    )


def configure_moto(endpoint_url: str) -> None:
    """Turn on state machine execution and Lambda without Docker on a moto server."""
    require_loopback(endpoint_url)
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    _post_json(f"{endpoint_url}/moto-api/config", config)


def queue_lambda_results(endpoint_url: str, results: list[str], region: str) -> None:
    """Append return values to moto's Lambda response queue (one FIFO per account and region)."""
    require_loopback(endpoint_url)
    _post_json(
        f"{endpoint_url}/moto-api/static/lambda-simple/response",
        {"results": results, "region": region},
    )


def _post_json(url: str, body: object) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
