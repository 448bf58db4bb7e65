"""`forensics sandbox up`: the local moto server with staged ingest scenarios."""

from __future__ import annotations

from typing import Annotated

import typer

from sfn_forensics.commands.common import global_options

app = typer.Typer(
    help="Local sandbox on 127.0.0.1 (needs the `sandbox` extra).", no_args_is_help=True
)


@app.command("up")
def up_command(
    ctx: typer.Context,
    port: Annotated[
        int | None, typer.Option(help="TCP port on 127.0.0.1 (default: a free port).")
    ] = None,
) -> int:
    """Start moto on 127.0.0.1, deploy the ingest state machines, run every scenario, serve."""
    options = global_options(ctx)
    from sfn_forensics.sandbox.up import run_sandbox_up

    code: int = run_sandbox_up(port, options.region or "us-east-1")
    return code
