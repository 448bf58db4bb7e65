"""The execution argument and lookup options shared by the commands that fetch evidence."""

from __future__ import annotations

from typing import Annotated

import typer

TargetArgument = Annotated[
    str,
    typer.Argument(
        help="Execution ARN, or a bare execution name such as "
        "62bdeb9f-3252-4ff2-b3dd-6f7d93b577b6.",
        show_default=False,
    ),
]
StateMachineOption = Annotated[
    str | None,
    typer.Option(
        "--state-machine",
        help="State machine name or ARN to look a bare execution name up in "
        "(default: every state machine in the region).",
    ),
]
WorkflowOption = Annotated[
    str | None,
    typer.Option(
        "--workflow",
        help="Workflow profile to apply (default: recognised from the definition).",
    ),
]
