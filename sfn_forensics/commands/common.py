"""Helpers shared by the subcommands: options from the context and report output."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from sfn_forensics.commands.options import GlobalOptions
from sfn_forensics.investigate import AwsTarget
from sfn_forensics.report import Report


def global_options(ctx: typer.Context) -> GlobalOptions:
    options = ctx.find_root().obj
    assert isinstance(options, GlobalOptions)
    return options


def aws_target(options: GlobalOptions) -> AwsTarget:
    return AwsTarget(
        profile=options.profile,
        region=options.region,
        endpoint_url=options.endpoint_url,
        progress=sys.stderr.isatty(),
    )


def write_report(report: Report, options: GlobalOptions) -> None:
    from sfn_forensics.render.base import get_renderer

    renderer = get_renderer(options.output.value)
    with tolerate_closed_stdout():
        renderer(report, sys.stdout, color=options.color and sys.stdout.isatty())


@contextmanager
def tolerate_closed_stdout() -> Iterator[None]:
    """Stop writing quietly when the reader closed stdout (`forensics ... | head`).

    The command still exits with the status its result calls for.
    """
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
