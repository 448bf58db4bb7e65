"""The `forensics` command line: global options, subcommands, and exit-code mapping."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any

import typer

from sfn_forensics.commands.options import GlobalOptions, OutputFormat
from sfn_forensics.errors import EXIT_USAGE, SfnForensicsError

log = logging.getLogger("sfn_forensics")


app = typer.Typer(
    name="forensics",
    help="Explain what an AWS Step Functions execution really did. Read-only.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help text keeps rich (about 100 ms of imports) out of `forensics --help`.
    rich_markup_mode=None,
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option(help="AWS named profile, as in the AWS CLI.")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region, e.g. us-east-1.")] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url",
            help="Send AWS calls to this URL, e.g. the local sandbox. AWS_ENDPOINT_URL also works.",
        ),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="Report format.")
    ] = OutputFormat.table,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More logs on stderr; -vv for debug.")
    ] = 0,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="Plain text without colours (NO_COLOR also works).")
    ] = False,
) -> None:
    _configure_logging(verbose)
    color = not no_color and "NO_COLOR" not in os.environ
    ctx.obj = GlobalOptions(profile, region, endpoint_url, output, verbose, color)


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    if verbose < 2:
        for noisy in ("botocore", "boto3", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _register_commands() -> None:
    from sfn_forensics.commands import inspect, logs, poll_results, sandbox, snapshot

    app.command("inspect")(inspect.inspect_command)
    app.command("logs")(logs.logs_command)
    app.command("poll-results")(poll_results.poll_results_command)
    app.command("snapshot")(snapshot.snapshot_command)
    app.add_typer(sandbox.app, name="sandbox")


_register_commands()


def _click_exceptions() -> Any:
    """Return the click exceptions module that typer uses.

    typer 0.29 vendors click as `typer._click`; older releases use the `click` package.
    """
    import importlib

    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:
        return importlib.import_module("click.exceptions")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code; errors become one plain message on stderr."""
    click_exceptions = _click_exceptions()
    args = sys.argv[1:] if argv is None else argv
    verbose = any(arg in ("-v", "-vv", "--verbose") for arg in args)
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="forensics", standalone_mode=False)
    except click_exceptions.UsageError as error:
        error.show(file=sys.stderr)
        return EXIT_USAGE
    except click_exceptions.ClickException as error:
        error.show(file=sys.stderr)
        return int(error.exit_code)
    except typer.Exit as exit_:
        return int(exit_.exit_code)
    except typer.Abort:
        sys.stderr.write("Aborted.\n")
        return 130
    except SfnForensicsError as error:
        if verbose:
            log.exception("command failed")
        sys.stderr.write(f"Error: {error.message}\n")
        if error.hint:
            sys.stderr.write(f"Hint: {error.hint}\n")
        return error.exit_code
    except BrokenPipeError:
        # The reader (e.g. `head`) closed the pipe; stop quietly as other CLI tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    if isinstance(result, int):
        return result
    return 0
