"""`forensics snapshot`: the snapshot an execution wrote, checked and optionally counted."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sfn_forensics.commands.common import aws_target, global_options, tolerate_closed_stdout
from sfn_forensics.commands.target import StateMachineOption, TargetArgument, WorkflowOption
from sfn_forensics.investigate import InspectRequest


def snapshot_command(
    ctx: typer.Context,
    target: TargetArgument,
    state_machine: StateMachineOption = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Download the snapshot to a temporary directory and count its embeddings "
            "with Chroma (needs the `chroma` extra).",
        ),
    ] = False,
    workflow: WorkflowOption = None,
) -> int:
    """Check the snapshot an execution wrote against its .snapshot_hash and object metadata.

    The snapshot is located from the final merge's snapshot_key, else from latest-pointer.txt
    (which may have moved since the execution). Exit status: 0 consistent (or no snapshot
    applies to the run), 1 inconsistent with .snapshot_hash or its metadata, 4 unreadable.
    """
    from sfn_forensics.render.views import render_view
    from sfn_forensics.views import read_snapshot

    options = global_options(ctx)
    request = InspectRequest(
        target=target,
        state_machine=state_machine,
        workflow_profile=workflow,
        verify_snapshot=verify,
    )
    view = read_snapshot(request, aws_target(options))
    with tolerate_closed_stdout():
        render_view(
            view, sys.stdout, options.output.value, color=options.color and sys.stdout.isatty()
        )
    return view.exit_code
