"""`forensics sandbox up`: start moto on 127.0.0.1, stage every scenario, serve until Ctrl-C."""

from __future__ import annotations

import logging
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.scenarios import SCENARIOS, get_scenario
from sfn_forensics.sandbox.server import LOOPBACK_HOST, MotoServer, start_moto_server
from sfn_forensics.sandbox.staging import StagedScenario, stage_sandbox
from sfn_forensics.sandbox.workflows import DEFAULT_REGION

__all__ = ["run_sandbox_up", "stage_sandbox"]

log = logging.getLogger(__name__)


def run_sandbox_up(
    port: int | None,
    region: str = DEFAULT_REGION,
    *,
    scenario_names: Sequence[str] | None = None,
) -> int:
    """Start the sandbox, print its endpoint and executions, and serve until interrupted.

    `port` None picks a free port. `scenario_names` limits staging to those execution names.
    Returns 0 after Ctrl-C (SIGINT) or SIGTERM stopped the server. Raises SandboxError when the
    port is taken, the server does not start, staging fails or the server exits on its own.
    """
    _ensure_progress_logging()
    scenarios = (
        list(SCENARIOS) if scenario_names is None else [get_scenario(n) for n in scenario_names]
    )
    if port is not None:
        _require_free_port(port)

    server: MotoServer | None = None
    try:
        with _sigterm_as_keyboard_interrupt():
            server = start_moto_server(port)
            staged = stage_sandbox(server.endpoint_url, region, scenarios=scenarios)
            _print_ready(server.endpoint_url, staged)
            _serve(server)
    except KeyboardInterrupt:
        log.info("interrupted; stopping the sandbox")
    finally:
        if server is not None:
            server.stop()
            log.info("moto server on port %d stopped", server.port)
    return 0


def _print_ready(endpoint_url: str, staged: Sequence[StagedScenario]) -> None:
    # The command's output on stdout: where the sandbox is, then one line per execution.
    lines = [f"sandbox ready at {endpoint_url}"]
    name_width = max((len(item.name) for item in staged), default=0)
    machine_width = max((len(item.state_machine) for item in staged), default=0)
    for item in staged:
        lines.append(
            f"  {item.name:<{name_width}}  {item.state_machine:<{machine_width}}  "
            f"{item.expected.path}"
        )
    print("\n".join(lines), flush=True)


def _serve(server: MotoServer) -> None:
    """Block until the moto process exits.

    Ctrl-C in a terminal signals the whole process group, so moto may stop from SIGINT before
    this process raises its own KeyboardInterrupt. That counts as a normal stop.
    """
    status = server.process.wait()
    if status in (-signal.SIGINT, -signal.SIGTERM):
        log.info("moto server on port %d stopped by signal %d", server.port, -status)
        return
    raise SandboxError(
        f"moto server on port {server.port} exited with status {status}",
        hint="Run `forensics sandbox up` again; it stages a fresh server.",
    )


def _require_free_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK_HOST, port))
        except OSError as error:
            raise SandboxError(
                f"port {port} on {LOOPBACK_HOST} is not available: {error.strerror}",
                hint="Choose another --port, or omit it to use a free one.",
            ) from None


@contextmanager
def _sigterm_as_keyboard_interrupt() -> Iterator[None]:
    """Stop on SIGTERM the same way as on Ctrl-C, so the moto child is always terminated."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:
        # signal.signal only works in the main thread; elsewhere keep the default handling.
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ensure_progress_logging() -> None:
    """Send INFO progress to stderr unless the caller has configured logging already."""
    package_logger = logging.getLogger("sfn_forensics")
    if logging.getLogger().handlers or package_logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
