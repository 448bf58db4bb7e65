"""`forensics sandbox up`: start moto on 127.0.0.1, stage every scenario, serve until Ctrl-C.

Clients reach the sandbox through an `AwsLikeProxy` in front of moto. The proxy pages
GetExecutionHistory as AWS does, and denies reading the S3 objects that the scenarios mark as
unreadable (GetObject and HeadObject under their key prefixes).
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.proxy import AwsLikeProxy
from sfn_forensics.sandbox.scenarios import SCENARIOS, get_scenario
from sfn_forensics.sandbox.server import LOOPBACK_HOST, MotoServer, start_moto_server
from sfn_forensics.sandbox.staging import StagedSandbox, StagedScenario, stage_sandbox
from sfn_forensics.sandbox.workflows import DEFAULT_REGION

__all__ = ["RunningSandbox", "run_sandbox_up", "stage_sandbox", "start_sandbox"]

log = logging.getLogger(__name__)

# S3 requests the proxy denies under each denied key prefix: GetObject and HeadObject.
DENIED_READ_METHODS = ("GET", "HEAD")
_SERVE_POLL_SECONDS = 0.5


@dataclass
class RunningSandbox:
    """A staged moto server and the proxy that clients reach it through."""

    server: MotoServer
    proxy: AwsLikeProxy
    # Scenarios as staged; its endpoint_url is the proxy's.
    staged: StagedSandbox

    @property
    def endpoint_url(self) -> str:
        """The endpoint for clients: the proxy, which applies the denied reads."""
        return self.staged.endpoint_url

    @property
    def moto_endpoint_url(self) -> str:
        """The moto server itself, which serves every object."""
        return self.server.endpoint_url

    def stop(self) -> None:
        """Stop the proxy, then the moto server."""
        self.proxy.stop()
        self.server.stop()
        log.info("moto server on port %d stopped", self.server.port)


def start_sandbox(
    port: int | None,
    region: str = DEFAULT_REGION,
    *,
    scenario_names: Sequence[str] | None = None,
) -> RunningSandbox:
    """Start moto on a free port, stage the scenarios on it and serve them through a proxy.

    `port` is the proxy's port on 127.0.0.1 (None picks a free one); it is the endpoint to
    give clients. `scenario_names` limits staging to those execution names. Raises SandboxError
    for an unknown scenario, a port that is taken, a server that does not start or a failed
    staging. Whatever was started is stopped again before the error propagates.
    """
    scenarios = (
        list(SCENARIOS) if scenario_names is None else [get_scenario(n) for n in scenario_names]
    )
    if port is not None:
        _require_free_port(port)

    server = start_moto_server()
    proxy = AwsLikeProxy(server.endpoint_url, port=port or 0)
    try:
        try:
            proxy.start()
        except OSError as error:
            raise SandboxError(
                f"port {port} on {LOOPBACK_HOST} is not available: {error.strerror}",
                hint="Choose another --port, or omit it to use a free one.",
            ) from None
        # The rules depend only on the scenarios: they are in place before staging writes.
        for scenario in scenarios:
            for bucket, prefix in scenario.denied_reads():
                for method in DENIED_READ_METHODS:
                    proxy.deny_s3(method, bucket, prefix)
                log.info("proxy denies GET and HEAD on s3://%s/%s", bucket, prefix)
        staged = stage_sandbox(server.endpoint_url, region, scenarios=scenarios)
    except BaseException:
        proxy.stop()
        server.stop()
        raise
    sandbox = StagedSandbox.from_staged(
        proxy.endpoint_url, region, staged, moto_endpoint_url=server.endpoint_url
    )
    return RunningSandbox(server=server, proxy=proxy, staged=sandbox)


def run_sandbox_up(
    port: int | None,
    region: str = DEFAULT_REGION,
    *,
    scenario_names: Sequence[str] | None = None,
) -> int:
    """Start the sandbox, print its endpoint and executions, and serve until interrupted.

    `port` is the endpoint's port on 127.0.0.1 (None picks a free one). `scenario_names` limits
    staging to those execution names. Returns 0 after Ctrl-C (SIGINT) or SIGTERM stopped the
    sandbox. Raises SandboxError when the port is taken, the server does not start, staging
    fails or the server exits on its own.
    """
    _ensure_progress_logging()
    running: RunningSandbox | None = None
    sys.stderr.write(
        "Starting moto on 127.0.0.1 and staging the scenarios; this takes about a minute.\n"
    )
    sys.stderr.flush()
    try:
        with _sigterm_as_keyboard_interrupt():
            running = start_sandbox(port, region, scenario_names=scenario_names)
            _print_ready(running.endpoint_url, list(running.staged.scenarios.values()))
            sys.stderr.write(
                f"Inspect one with: forensics --endpoint-url {running.endpoint_url} "
                "inspect NAME\nStop the sandbox with Ctrl-C.\n"
            )
            sys.stderr.flush()
            _serve(running.server)
    except KeyboardInterrupt:
        log.info("interrupted; stopping the sandbox")
    finally:
        if running is not None:
            running.stop()
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
    # The proxy's threads may receive the signal, and a blocking waitpid in this thread would
    # then never return to Python to raise KeyboardInterrupt: wait in short slices instead.
    while True:
        try:
            status = server.process.wait(timeout=_SERVE_POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            continue
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
