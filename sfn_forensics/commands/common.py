"""Helpers shared by the subcommands: options from the context and report output."""

from __future__ import annotations

import sys

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
    renderer(report, sys.stdout, color=options.color and sys.stdout.isatty())
