"""`forensics logs`: the Lambda log lines of one execution, grouped by state visit."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from sfn_forensics.commands.common import aws_target, global_options, tolerate_closed_stdout
from sfn_forensics.commands.target import StateMachineOption, TargetArgument, WorkflowOption
from sfn_forensics.errors import EXIT_INCONCLUSIVE
from sfn_forensics.investigate import InspectRequest


class Level(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


def logs_command(
    ctx: typer.Context,
    target: TargetArgument,
    state_machine: StateMachineOption = None,
    level: Annotated[
        Level | None,
        typer.Option(
            "--level", help="Show only lines at this level or above.", case_sensitive=False
        ),
    ] = None,
    workflow: WorkflowOption = None,
) -> int:
    """Print the Lambda log lines of one execution, grouped by the state visit that wrote them.

    Lines are read from /aws/lambda/<function> for every function the definition calls, from
    one minute before the execution started to five minutes after it stopped.
    """
    from sfn_forensics.render.views import render_view
    from sfn_forensics.views import read_logs

    options = global_options(ctx)
    request = InspectRequest(target=target, state_machine=state_machine, workflow_profile=workflow)
    view = read_logs(request, aws_target(options), level.value if level else None)
    with tolerate_closed_stdout():
        render_view(
            view, sys.stdout, options.output.value, color=options.color and sys.stdout.isatty()
        )
    return EXIT_INCONCLUSIVE if view.source.startswith("unavailable") else 0
