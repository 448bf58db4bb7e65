"""The CLI on saved histories: exit codes, output formats and plain error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfn_forensics.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_inspect_missing_target_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "inspect")
    assert code == 2
    assert out == ""
    assert err.startswith("Error: missing execution")
    assert "Traceback" not in err


def test_inspect_missing_history_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "inspect", "--history-file", str(tmp_path / "nope.json"))
    assert code == 2
    assert "nope.json" in err
    assert "Traceback" not in err


def test_inspect_history_not_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run_cli(capsys, "inspect", "--history-file", str(bad))
    assert code == 2
    assert "bad.json" in err


def test_inspect_unknown_option_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_cli(capsys, "inspect", "--no-such-option")
    assert code == 2


def test_inspect_target_and_file_conflict(
    capsys: pytest.CaptureFixture[str], recorded_fixtures: Path
) -> None:
    history = recorded_fixtures / "inline-map.json"
    code, _, err = run_cli(capsys, "inspect", "some-name", "--history-file", str(history))
    assert code == 2
    assert "not both" in err


@pytest.mark.parametrize(
    ("fixture", "expected_code", "verdict"),
    [
        ("inline-map.json", 0, "healthy"),
        ("fail-state.json", 1, "failed"),
        # The definition calls a Lambda whose logs a history file cannot hold.
        ("lambda-function-catch.json", 4, "inconclusive"),
        ("execution-aborted.json", 1, "failed"),
    ],
)
def test_inspect_recorded_json_verdict(
    capsys: pytest.CaptureFixture[str],
    recorded_fixtures: Path,
    fixture: str,
    expected_code: int,
    verdict: str,
) -> None:
    code, out, _ = run_cli(
        capsys, "--output", "json", "inspect", "--history-file", str(recorded_fixtures / fixture)
    )
    report = json.loads(out)
    assert code == expected_code
    assert report["schema_version"] == 1
    assert report["verdict"]["status"] == verdict


def test_inspect_json_counts_null_without_profile(
    capsys: pytest.CaptureFixture[str], recorded_fixtures: Path
) -> None:
    _, out, _ = run_cli(
        capsys,
        "-o",
        "json",
        "inspect",
        "--history-file",
        str(recorded_fixtures / "inline-map.json"),
    )
    report = json.loads(out)
    assert report["workflow"]["profile"] is None
    assert set(report["counts"].values()) == {None}
    assert report["maps"] == [
        {
            "state": "MapState",
            "visits": 1,
            "items": 8,
            "started": 8,
            "succeeded": 8,
            "failed": 0,
            "aborted": 0,
        }
    ]


def test_inspect_bare_history_reports_missing_definition(
    capsys: pytest.CaptureFixture[str], recorded_fixtures: Path, tmp_path: Path
) -> None:
    recorded = json.loads((recorded_fixtures / "inline-map.json").read_text())
    bare = tmp_path / "history.json"
    bare.write_text(json.dumps({"events": recorded["events"]}))
    code, out, _ = run_cli(capsys, "-o", "json", "inspect", "--history-file", str(bare))
    report = json.loads(out)
    assert report["evidence_sources"]["definition"].startswith("unavailable")
    assert report["verdict"]["status"] == "inconclusive"
    assert code == 4


def test_inspect_definition_file_added(
    capsys: pytest.CaptureFixture[str], recorded_fixtures: Path, tmp_path: Path
) -> None:
    recorded = json.loads((recorded_fixtures / "inline-map.json").read_text())
    bare = tmp_path / "history.json"
    bare.write_text(json.dumps({"events": recorded["events"]}))
    definition = tmp_path / "definition.json"
    definition.write_text(json.dumps(recorded["definition"]))
    code, out, _ = run_cli(
        capsys,
        "-o",
        "json",
        "inspect",
        "--history-file",
        str(bare),
        "--definition-file",
        str(definition),
    )
    report = json.loads(out)
    assert report["evidence_sources"]["definition"] == "ok"
    assert code == 0


@pytest.mark.parametrize("output", ["table", "markdown"])
def test_inspect_text_formats_verdict_first(
    capsys: pytest.CaptureFixture[str], recorded_fixtures: Path, output: str
) -> None:
    code, out, _ = run_cli(
        capsys,
        "--no-color",
        "-o",
        output,
        "inspect",
        "--history-file",
        str(recorded_fixtures / "fail-state.json"),
    )
    assert code == 1
    first_line = next(line for line in out.splitlines() if "Verdict" in line or "VERDICT" in line)
    assert "FAILED" in first_line
    assert "EXECUTION_FAILED" in out
    assert "\x1b[" not in out


@pytest.mark.parametrize("output", ["table", "json", "markdown"])
def test_closed_stdout_keeps_exit_code(output: str) -> None:
    import subprocess
    import sys

    history = Path(__file__).parent / "fixtures" / "sandbox-dropped-final-merge-result.json"
    command = [sys.executable, "-m", "sfn_forensics", "-o", output, "inspect"]
    process = subprocess.Popen(
        [*command, "--history-file", str(history)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert b"Traceback" not in err
