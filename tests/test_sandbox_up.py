"""`run_sandbox_up` in a child process: ready line, one line per execution, clean stop."""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.server import LOOPBACK_HOST, free_port
from sfn_forensics.sandbox.up import run_sandbox_up

pytestmark = pytest.mark.sandbox

STAGED = ("sandbox-no-pending-batches", "sandbox-no-chunks")
READY_TIMEOUT_SECONDS = 60.0


def _read_lines(process: subprocess.Popen[str], count: int, timeout: float) -> list[str]:
    """Read `count` stdout lines, failing the test after `timeout` seconds."""
    stdout = process.stdout
    assert stdout is not None
    received: queue.Queue[str] = queue.Queue()

    # readline blocks, so a daemon thread reads and the test waits on the queue with a timeout.
    def forward() -> None:
        for line in stdout:
            received.put(line)

    threading.Thread(target=forward, daemon=True).start()
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while len(lines) < count:
        try:
            line = received.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            pytest.fail(f"sandbox printed {lines} within {timeout:.0f} s (exit {process.poll()})")
        lines.append(line.rstrip("\n"))
    return lines


def _port_accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((LOOPBACK_HOST, port)) == 0


@pytest.fixture
def sandbox_up() -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    code = (
        "import sys\n"
        "from sfn_forensics.sandbox.up import run_sandbox_up\n"
        f"sys.exit(run_sandbox_up({port}, 'us-east-1', scenario_names={list(STAGED)!r}))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    yield process, port
    if process.poll() is None:
        # SIGTERM lets run_sandbox_up stop its moto child; SIGKILL would leave it running.
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_sandbox_up_prints_ready_and_executions(
    sandbox_up: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = sandbox_up
    lines = _read_lines(process, 1 + len(STAGED), READY_TIMEOUT_SECONDS)
    assert lines[0] == f"sandbox ready at http://{LOOPBACK_HOST}:{port}"
    assert lines[1].split() == [STAGED[0], "embedding-ingest-words", "no-pending-batches"]
    assert lines[2].split() == [STAGED[1], "embedding-ingest-words", "no-chunks"]


def test_sandbox_up_stops_cleanly_on_interrupt(
    sandbox_up: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = sandbox_up
    _read_lines(process, 1 + len(STAGED), READY_TIMEOUT_SECONDS)
    assert _port_accepts(port)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert not _port_accepts(port)


def test_sandbox_up_stops_cleanly_on_sigterm(
    sandbox_up: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = sandbox_up
    _read_lines(process, 1 + len(STAGED), READY_TIMEOUT_SECONDS)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not _port_accepts(port)


def test_sandbox_up_rejects_busy_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK_HOST, 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(SandboxError, match=f"port {port}"):
            run_sandbox_up(port, "us-east-1", scenario_names=STAGED)


def test_sandbox_up_rejects_unknown_scenario() -> None:
    with pytest.raises(SandboxError, match="unknown sandbox scenario"):
        run_sandbox_up(None, "us-east-1", scenario_names=["sandbox-does-not-exist"])
