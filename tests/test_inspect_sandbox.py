"""`forensics inspect` against the staged sandbox over HTTP: verdict, path and counts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sfn_forensics.cli import main
from sfn_forensics.sandbox.scenarios import INCIDENT_EXECUTION_NAME, SCENARIOS
from sfn_forensics.sandbox.staging import StagedSandbox

EXIT_BY_VERDICT = {"healthy": 0, "degraded": 1, "failed": 1, "inconclusive": 4}
SCENARIO_NAMES = [scenario.execution_name for scenario in SCENARIOS]


def inspect_json(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox, *args: str
) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "--endpoint-url",
            sandbox.endpoint_url,
            "--region",
            sandbox.region,
            "--output",
            "json",
            "inspect",
            *args,
        ]
    )
    out = capsys.readouterr().out
    return code, json.loads(out) if out else {}


@pytest.mark.sandbox
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_inspect_scenario_verdict_path_counts(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox, name: str
) -> None:
    expected = sandbox.scenarios[name].expected
    code, report = inspect_json(capsys, sandbox, name)
    assert report["verdict"]["status"] == expected.verdict, report["verdict"]
    assert code == EXIT_BY_VERDICT[expected.verdict]
    assert report["workflow"]["path"] == expected.path
    assert report["execution"]["status"] == expected.execution_status
    for count_name in (
        "batches_listed",
        "batches_polled",
        "chunks",
        "groups",
        "groups_merged",
        "group_merge_errors",
        "batches_marked_complete",
    ):
        wanted = getattr(expected.counts, count_name)
        assert report["counts"][count_name] == wanted, count_name


@pytest.mark.sandbox
def test_incident_output_dropped_finding(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox
) -> None:
    code, report = inspect_json(capsys, sandbox, INCIDENT_EXECUTION_NAME)
    dropped = [f for f in report["findings"] if f["code"] == "OUTPUT_DROPPED"]
    assert code == 1
    assert report["verdict"]["status"] == "degraded"
    assert len(dropped) == 1
    finding = dropped[0]
    assert finding["severity"] == "error"
    assert finding["state"] == "PrepareMarkWordBatchesComplete"
    assert finding["evidence"]["key"] == "final_merge_result"
    assert finding["evidence"]["field"] == "Parameters"
    assert finding["evidence"]["produced_by"] == "WordFinalMerge"
    assert any('"final_merge_result.$": "$.final_merge_result"' in s for s in finding["next_steps"])


@pytest.mark.sandbox
def test_incident_counts_and_maps(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox
) -> None:
    _, report = inspect_json(capsys, sandbox, INCIDENT_EXECUTION_NAME)
    maps = {entry["state"]: entry for entry in report["maps"]}
    assert report["counts"]["batches_listed"] == 459
    assert report["counts"]["batches_marked_complete"] == 459
    assert report["workflow"]["path"] == "hierarchical"
    assert maps["PollWordBatches"]["succeeded"] == 459
    assert maps["PollWordBatches"]["items"] == 459
    assert report["final_merge"]["total_embeddings"] == 13223
    assert report["expected"]["groups"] == report["counts"]["groups"]
    assert report["expected"]["group_size"]["value"] == 20
    assert report["expected"]["hierarchical_threshold"]["value"] == 4
    assert report["path"][-1] == "MarkWordBatchesComplete"


@pytest.mark.sandbox
def test_inspect_by_arn_and_state_machine(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox
) -> None:
    staged = sandbox.scenarios[INCIDENT_EXECUTION_NAME]
    _, by_arn = inspect_json(capsys, sandbox, staged.execution_arn)
    _, by_name = inspect_json(
        capsys,
        sandbox,
        INCIDENT_EXECUTION_NAME,
        "--state-machine",
        staged.state_machine_arn.rsplit(":", 1)[-1],
    )
    assert by_arn["execution"]["arn"] == staged.execution_arn
    assert by_name["execution"]["arn"] == staged.execution_arn


@pytest.mark.sandbox
def test_inspect_unknown_name_not_found(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox
) -> None:
    code = main(
        [
            "--endpoint-url",
            sandbox.endpoint_url,
            "--region",
            sandbox.region,
            "inspect",
            "no-such-run",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3
    assert "no-such-run" in err
    assert "Traceback" not in err


@pytest.mark.sandbox
@pytest.mark.parametrize("output", ["table", "markdown"])
def test_incident_text_report_order(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox, output: str
) -> None:
    main(
        [
            "--endpoint-url",
            sandbox.endpoint_url,
            "--region",
            sandbox.region,
            "--no-color",
            "-o",
            output,
            "inspect",
            INCIDENT_EXECUTION_NAME,
        ]
    )
    out = capsys.readouterr().out
    verdict_at = out.upper().index("VERDICT")
    assert out.index("PrepareMarkWordBatchesComplete") > verdict_at
    assert "DEGRADED" in out
    assert "OUTPUT_DROPPED" in out
    assert "hierarchical" in out


@pytest.mark.sandbox
@pytest.mark.parametrize(
    "command",
    [
        ["inspect", INCIDENT_EXECUTION_NAME],
        ["logs", INCIDENT_EXECUTION_NAME],
        ["poll-results", INCIDENT_EXECUTION_NAME],
        ["snapshot", INCIDENT_EXECUTION_NAME],
    ],
)
def test_commands_send_only_reads(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox, command: list[str]
) -> None:
    from sfn_forensics.aws.guard import is_read_only_operation
    from sfn_forensics.sandbox.proxy import AwsLikeProxy

    with AwsLikeProxy(sandbox.endpoint_url) as proxy:
        main(["--endpoint-url", proxy.endpoint_url, "--region", sandbox.region, *command])
        calls = proxy.calls
    capsys.readouterr()
    assert calls
    for call in calls:
        if call.startswith("s3:"):
            assert call.split()[0] in ("s3:GET", "s3:HEAD"), call
        else:
            assert is_read_only_operation(call), call


@pytest.mark.sandbox
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_inspect_scenario_embedding_stages(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox, name: str
) -> None:
    expected = sandbox.scenarios[name].expected
    _, report = inspect_json(capsys, sandbox, name, "--verify-snapshot")
    embeddings = report["embeddings"]
    stages = {stage["stage"]: stage["count"] for stage in embeddings["stages"]}
    for stage, count in expected.embedding_stages.stages.items():
        assert stages[stage] == count, stage
    # The first stage is what the poll iterations reported in the history itself.
    polled = expected.embeddings.polled
    final = expected.embedding_stages.final
    assert stages["batches_polled"] == polled
    assert embeddings["expected"] == polled
    assert embeddings["final"] == final
    lost = None if polled is None or final is None else polled - final
    assert embeddings["lost"] == lost


@pytest.mark.sandbox
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_inspect_scenario_finding_codes(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox, name: str
) -> None:
    expected = sandbox.scenarios[name].expected
    _, report = inspect_json(capsys, sandbox, name)
    found = {finding["code"] for finding in report["findings"]}
    errors = [f["code"] for f in report["findings"] if f["severity"] == "error"]
    for code in expected.finding_codes:
        assert code in found, code
    if expected.verdict in ("healthy", "inconclusive"):
        assert errors == []


@pytest.mark.sandbox
def test_incident_first_drop_at_chunks(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox
) -> None:
    _, report = inspect_json(capsys, sandbox, INCIDENT_EXECUTION_NAME)
    lost = next(f for f in report["findings"] if f["code"] == "EMBEDDINGS_LOST")
    evidence = lost["evidence"]
    assert evidence["stage_before"]["stage"] in ("batches_polled", "poll_results")
    assert evidence["stage_dropped"]["stage"] == "chunks_processed"
    assert evidence["lost_total"] == 49232
    assert evidence["lost_share_total"] == 0.7883
    assert report["embeddings"]["expected"] == 62455
    assert report["embeddings"]["final"] == 13223
    assert all("processing first 10" in line["message"] for line in evidence["log_lines"])


@pytest.mark.sandbox
def test_denied_reads_inconclusive(
    capsys: pytest.CaptureFixture[str], sandbox: StagedSandbox
) -> None:
    code, report = inspect_json(capsys, sandbox, "sandbox-s3-read-denied")
    checks = {check["check"]: check for check in report["checks"]}
    assert code == 4
    assert report["verdict"]["status"] == "inconclusive"
    assert report["evidence_sources"]["poll_results"].startswith("unavailable: access denied")
    assert checks["batch_trail"]["status"] == "inconclusive"
    assert checks["snapshot_integrity"]["status"] == "inconclusive"
    assert checks["log_signals"]["status"] == "ran"
    assert checks["output_dropped"]["status"] == "ran"
