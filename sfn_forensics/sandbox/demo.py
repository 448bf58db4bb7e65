"""The README's demo: start the sandbox, stage the scenarios, inspect the incident, stop.

Run as `python -m sfn_forensics.sandbox.demo [--port N]`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from sfn_forensics.errors import EXIT_HEALTHY, EXIT_INCONCLUSIVE, EXIT_PROBLEMS, SfnForensicsError

INCIDENT_EXECUTION = "62bdeb9f-3252-4ff2-b3dd-6f7d93b577b6"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="TCP port on 127.0.0.1")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--output", default="table", choices=("table", "json", "markdown"), help="report format"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from sfn_forensics.cli import main as forensics_main
    from sfn_forensics.sandbox.up import start_sandbox

    sys.stderr.write("Starting the sandbox on 127.0.0.1 and staging its scenarios ...\n")
    try:
        sandbox = start_sandbox(args.port, args.region)
    except SfnForensicsError as error:
        sys.stderr.write(f"Error: {error.message}\n")
        if error.hint:
            sys.stderr.write(f"Hint: {error.hint}\n")
        return error.exit_code
    try:
        sys.stderr.write(
            f"Staged {len(sandbox.staged.scenarios)} executions at {sandbox.endpoint_url}. "
            "Inspecting the incident:\n\n"
        )
        sys.stderr.flush()
        command = [
            "--endpoint-url",
            sandbox.endpoint_url,
            "--region",
            args.region,
            "--output",
            args.output,
            "inspect",
            INCIDENT_EXECUTION,
        ]
        sys.stdout.flush()
        code = forensics_main(command)
        sys.stdout.flush()
        port = args.port or 5055
        sys.stderr.write(
            f"\nTo explore the other scenarios, run `.venv/bin/forensics sandbox up --port {port}` "
            f"and then `.venv/bin/forensics --endpoint-url http://127.0.0.1:{port} inspect NAME` "
            "with a name it prints.\n"
        )
    except SfnForensicsError as error:
        sys.stderr.write(f"Error: {error.message}\n")
        if error.hint:
            sys.stderr.write(f"Hint: {error.hint}\n")
        return error.exit_code
    finally:
        sandbox.stop()
    # The demo succeeded when inspect produced a verdict, whatever that verdict was.
    return 0 if code in (EXIT_HEALTHY, EXIT_PROBLEMS, EXIT_INCONCLUSIVE) else code


if __name__ == "__main__":
    raise SystemExit(main())
