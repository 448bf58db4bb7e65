"""Checks and verdicts on saved sandbox histories and small synthetic ones."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sfn_forensics.analysis import analyze
from sfn_forensics.checks.model import CheckOutcome, Finding
from sfn_forensics.checks.runner import decide_verdict
from sfn_forensics.evidence.history_file import load_history_file
from sfn_forensics.evidence.model import Evidence, SourceStatus
from sfn_forensics.investigate import inspect_evidence
from sfn_forensics.report import Report

FIXTURES = Path(__file__).parent / "fixtures"
DROPPED = FIXTURES / "sandbox-dropped-final-merge-result.json"
FINAL_MERGE_FAILED = FIXTURES / "sandbox-final-merge-failed.json"


def report_for(path: Path, tmp_path: Path, edit: Any = None) -> Report:
    document = json.loads(path.read_text())
    if edit is not None:
        edit(document)
    edited = tmp_path / path.name
    edited.write_text(json.dumps(document))
    return inspect_evidence(load_history_file(edited, None))


def codes(report: Report, severity: str | None = None) -> list[str]:
    return [f.code for f in report.findings if severity is None or f.severity == severity]


def test_dropped_result_degraded(tmp_path: Path) -> None:
    report = report_for(DROPPED, tmp_path)
    assert report.verdict.status == "degraded"
    assert codes(report, "error") == ["OUTPUT_DROPPED"]


def test_dropped_result_names_field(tmp_path: Path) -> None:
    report = report_for(DROPPED, tmp_path)
    finding = report.findings[0]
    assert finding.state == "PrepareMarkWordBatchesComplete"
    assert finding.evidence["key"] == "final_merge_result"
    assert finding.evidence["field"] == "Parameters"
    assert finding.evidence["later_states"] == ["MarkWordBatchesComplete"]


def test_reshaping_pass_states_not_reported(tmp_path: Path) -> None:
    report = report_for(DROPPED, tmp_path)
    dropped_keys = [f.evidence["key"] for f in report.findings if f.code == "OUTPUT_DROPPED"]
    assert dropped_keys == ["final_merge_result"]


def test_final_merge_failure_reported_once(tmp_path: Path) -> None:
    report = report_for(FINAL_MERGE_FAILED, tmp_path)
    assert report.verdict.status == "failed"
    assert codes(report) == ["EXECUTION_FAILED"]
    finding = report.findings[0]
    assert finding.state == "WordFinalMerge"
    assert finding.evidence["retries"] == 2


def _set_output_field(state: str, path: list[str], value: Any) -> Any:
    def edit(document: dict[str, Any]) -> None:
        for event in document["events"]:
            details = event.get("stateExitedEventDetails")
            if details and details["name"] == state:
                output = json.loads(details["output"])
                target = output
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = value
                details["output"] = json.dumps(output)

    return edit


def test_fewer_polled_than_listed(tmp_path: Path) -> None:
    edit = _set_output_field("ListPendingWordBatches", ["list_result", "total_batches"], 41)
    report = report_for(DROPPED, tmp_path, edit)
    assert "BATCHES_NOT_ALL_POLLED" in codes(report, "error")
    assert "BATCHES_MARKED_MISMATCH" in codes(report, "warning")


def test_threshold_read_from_definition(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        choice = document["definition"]["States"]["CheckChunkGroupCount"]
        choice["Choices"][0]["NumericGreaterThan"] = 1

    report = report_for(DROPPED, tmp_path, edit)
    assert report.expected["hierarchical_threshold"]["value"] == 1
    assert "PATH_CONTRADICTS_THRESHOLD" in codes(report, "error")


def test_group_size_read_from_definition(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        state = document["definition"]["States"]["GroupChunksForMerge"]
        state["Parameters"]["group_size"] = 7

    report = report_for(DROPPED, tmp_path, edit)
    assert report.expected["group_size"]["value"] == 7


def test_missing_definition_inconclusive(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["definition"] = None

    report = report_for(DROPPED, tmp_path, edit)
    # The expected output is still known from the history, so the drop is still an error.
    assert report.verdict.status == "degraded"
    assert report.findings[0].evidence["field"] == "unknown"


def test_evidence_sources_listed(tmp_path: Path) -> None:
    report = report_for(DROPPED, tmp_path)
    assert report.evidence_sources["history"] == "ok"
    assert report.evidence_sources["logs"] == "unavailable: not in the history file"
    assert report.evidence_sources["poll_results"] == "unavailable: not in the history file"


def test_embedding_stages_null_with_reason(tmp_path: Path) -> None:
    data = report_for(DROPPED, tmp_path).to_json()
    stages = {stage["stage"]: stage for stage in data["embeddings"]["stages"]}
    assert stages["poll_results"]["count"] is None
    assert stages["poll_results"]["reason"] == "poll_results unavailable"
    assert stages["final_merge"]["count"] == 5480
    # The poll iterations' own results in the history still give the expected count.
    assert stages["batches_polled"]["count"] == 5480
    assert data["embeddings"]["lost"] == 0


def finding(severity: str) -> Finding:
    return Finding(code="X", severity=severity, title="t", state=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "severities", "outcomes", "verdict"),
    [
        ("SUCCEEDED", [], ["ran"], "healthy"),
        ("SUCCEEDED", ["warning", "info"], ["ran"], "healthy"),
        ("SUCCEEDED", ["error"], ["ran"], "degraded"),
        ("SUCCEEDED", ["error"], ["ran", "inconclusive"], "degraded"),
        ("SUCCEEDED", [], ["ran", "inconclusive"], "inconclusive"),
        ("SUCCEEDED", [], ["ran", "not_applicable"], "healthy"),
        ("FAILED", [], ["ran"], "failed"),
        ("TIMED_OUT", [], ["ran"], "failed"),
        ("ABORTED", ["error"], ["ran"], "failed"),
        ("RUNNING", [], ["ran"], "inconclusive"),
    ],
)
def test_verdict_rules(
    status: str, severities: list[str], outcomes: list[str], verdict: str
) -> None:
    findings = [finding(severity) for severity in severities]
    checks = [CheckOutcome(f"c{i}", o) for i, o in enumerate(outcomes)]  # type: ignore[arg-type]
    assert decide_verdict(status, findings, checks).status == verdict


def test_unavailable_source_makes_check_inconclusive(tmp_path: Path) -> None:
    report = inspect_evidence(load_history_file(DROPPED, None))
    outcome = {check.check: check for check in report.checks}
    assert outcome["log_signals"].status == "inconclusive"
    assert outcome["log_signals"].reason == "logs unavailable"


def test_generic_run_checks_not_applicable(recorded_fixtures: Path) -> None:
    report = inspect_evidence(load_history_file(recorded_fixtures / "inline-map.json", None))
    outcome = {check.check: check.status for check in report.checks}
    assert outcome["stage_counts"] == "not_applicable"
    assert outcome["batch_trail"] == "not_applicable"
    assert outcome["log_signals"] == "not_applicable"


def test_unread_task_result_warns() -> None:
    events = _history(
        [
            ("Fetch", "Task", {"a": 1}, {"a": 1, "fetched": {"n": 3}}),
            ("Reshape", "Pass", {"a": 1, "fetched": {"n": 3}}, {"a": 1}),
        ]
    )
    definition = {
        "StartAt": "Fetch",
        "States": {
            "Fetch": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "ResultPath": "$.fetched",
                "Next": "Reshape",
            },
            "Reshape": {"Type": "Pass", "Parameters": {"a.$": "$.a"}, "End": True},
        },
    }
    report = analyze(_evidence(events, definition))
    assert codes(report) == ["OUTPUT_DROPPED"]
    assert report.findings[0].severity == "warning"


def test_read_then_dropped_result_silent() -> None:
    events = _history(
        [
            ("Fetch", "Task", {"a": 1}, {"a": 1, "fetched": {"n": 3}}),
            ("Reshape", "Pass", {"a": 1, "fetched": {"n": 3}}, {"n": 3}),
        ]
    )
    definition = {
        "StartAt": "Fetch",
        "States": {
            "Fetch": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "ResultPath": "$.fetched",
                "Next": "Reshape",
            },
            "Reshape": {"Type": "Pass", "Parameters": {"n.$": "$.fetched.n"}, "End": True},
        },
    }
    report = analyze(_evidence(events, definition))
    assert codes(report) == []


def _history(states: list[tuple[str, str, dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    def add(kind: str, **details: Any) -> int:
        event_id = len(events) + 1
        event = {
            "id": event_id,
            "previousEventId": event_id - 1,
            "type": kind,
            "timestamp": f"2026-01-01T00:00:{event_id:02d}Z",
        }
        event.update(details)
        events.append(event)
        return event_id

    add("ExecutionStarted", executionStartedEventDetails={"input": json.dumps(states[0][2])})
    for name, kind, state_input, state_output in states:
        add(
            f"{kind}StateEntered",
            stateEnteredEventDetails={"name": name, "input": json.dumps(state_input)},
        )
        add(
            f"{kind}StateExited",
            stateExitedEventDetails={"name": name, "output": json.dumps(state_output)},
        )
    add(
        "ExecutionSucceeded",
        executionSucceededEventDetails={"output": json.dumps(states[-1][3])},
    )
    return events


def _evidence(events: list[dict[str, Any]], definition: dict[str, Any]) -> Evidence:
    return Evidence(
        execution_arn=None,
        execution_name="synthetic",
        describe_execution=None,
        events=copy.deepcopy(events),
        definition=definition,
        sources={"history": SourceStatus.available(), "definition": SourceStatus.available()},
    )
