"""`forensics poll-results`: poll_results.json and the batch trail of one execution."""

from __future__ import annotations

import sys

import typer

from sfn_forensics.commands.common import aws_target, global_options, tolerate_closed_stdout
from sfn_forensics.commands.target import StateMachineOption, TargetArgument, WorkflowOption
from sfn_forensics.investigate import InspectRequest


def poll_results_command(
    ctx: typer.Context,
    target: TargetArgument,
    state_machine: StateMachineOption = None,
    workflow: WorkflowOption = None,
) -> int:
    """Summarise poll_results.json and follow every batch from listed to marked complete.

    The file is located from the history's poll_results_s3_key, else from the profile's
    key template. Exit status: 0 every batch accounted for (or no poll results apply to the
    run), 1 batches missing or extra at some step, 4 the file could not be read.
    """
    from sfn_forensics.render.views import render_view
    from sfn_forensics.views import read_poll_results

    options = global_options(ctx)
    request = InspectRequest(target=target, state_machine=state_machine, workflow_profile=workflow)
    view = read_poll_results(request, aws_target(options))
    with tolerate_closed_stdout():
        render_view(
            view, sys.stdout, options.output.value, color=options.color and sys.stdout.isatty()
        )
    return view.exit_code
