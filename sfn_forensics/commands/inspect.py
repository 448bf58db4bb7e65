"""`forensics inspect`: the verdict on one execution."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sfn_forensics.commands.common import aws_target, global_options, write_report
from sfn_forensics.investigate import InspectRequest, exit_code_for, inspect_execution


def inspect_command(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(
            help="Execution ARN, or a bare execution name such as "
            "62bdeb9f-3252-4ff2-b3dd-6f7d93b577b6.",
            show_default=False,
        ),
    ] = None,
    state_machine: Annotated[
        str | None,
        typer.Option(
            "--state-machine",
            help="State machine name or ARN to look a bare execution name up in "
            "(default: every state machine in the region).",
        ),
    ] = None,
    history_file: Annotated[
        Path | None,
        typer.Option(
            "--history-file",
            help="Read a saved history (the JSON `aws stepfunctions get-execution-history` "
            "prints) instead of calling AWS.",
        ),
    ] = None,
    definition_file: Annotated[
        Path | None,
        typer.Option(
            "--definition-file", help="State machine definition to use with --history-file."
        ),
    ] = None,
    verify_snapshot: Annotated[
        bool,
        typer.Option(
            "--verify-snapshot",
            help="Download the snapshot and count its embeddings with Chroma "
            "(needs the `chroma` extra).",
        ),
    ] = False,
    workflow: Annotated[
        str | None,
        typer.Option(
            "--workflow",
            help="Workflow profile to apply (default: recognised from the definition).",
        ),
    ] = None,
) -> int:
    """Explain one execution: path, counts, findings and a verdict.

    Exit status: 0 healthy, 1 problems found, 2 usage error, 3 could not inspect,
    4 inconclusive.
    """
    options = global_options(ctx)
    request = InspectRequest(
        target=target,
        state_machine=state_machine,
        history_file=history_file,
        definition_file=definition_file,
        workflow_profile=workflow,
        verify_snapshot=verify_snapshot,
    )
    report = inspect_execution(request, aws_target(options))
    write_report(report, options)
    return exit_code_for(report)
