"""load_history_file on recorded AWS histories, AWS CLI output and malformed files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sfn_forensics.aws.session import AwsOptions, ClientFactory
from sfn_forensics.errors import InvalidInputError
from sfn_forensics.evidence.history_file import load_history_file
from sfn_forensics.evidence.live import collect_live
from sfn_forensics.evidence.model import SOURCE_DEFINITION, SOURCE_DESCRIBE, SOURCE_HISTORY
from sfn_forensics.sandbox.server import MotoServer
from tests.conftest import RECORDED_FIXTURES
from tests.test_aws_stepfunctions import PASS_DEFINITION, staged_pass_execution

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"


def recorded_index() -> list[dict[str, Any]]:
    if not RECORDED_FIXTURES.is_dir():
        return []
    files: list[dict[str, Any]] = json.loads((RECORDED_FIXTURES / "INDEX.json").read_text())[
        "files"
    ]
    return files


def cli_events() -> list[dict[str, Any]]:
    """Three events as `aws stepfunctions get-execution-history` prints them."""
    return [
        {
            "timestamp": "2025-11-17T16:03:21.712000+00:00",
            "type": "ExecutionStarted",
            "id": 1,
            "previousEventId": 0,
            "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::1:role/r"},
        },
        {
            "timestamp": "2025-11-17T16:03:21.722000+00:00",
            "type": "PassStateEntered",
            "id": 2,
            "previousEventId": 0,
            "stateEnteredEventDetails": {"name": "First", "input": "{}"},
        },
        {
            "timestamp": "2025-11-17T16:03:21.732000+00:00",
            "type": "ExecutionSucceeded",
            "id": 3,
            "previousEventId": 2,
            "executionSucceededEventDetails": {"output": "{}"},
        },
    ]


def write_json(path: Path, content: object) -> Path:
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize("entry", recorded_index(), ids=lambda entry: entry["file"])
def test_history_file_recorded(entry: dict[str, Any], recorded_fixtures: Path) -> None:
    evidence = load_history_file(recorded_fixtures / entry["file"])

    assert len(evidence.events) == entry["event_count"]
    assert evidence.origin == "history-file"
    assert evidence.history_complete
    assert evidence.sources[SOURCE_HISTORY].ok
    assert evidence.sources[SOURCE_DEFINITION].ok == entry["has_definition"]
    assert evidence.sources[SOURCE_DESCRIBE].ok == entry["has_describe_execution"]
    assert all(isinstance(event["timestamp"], datetime) for event in evidence.events)


def test_history_file_recorded_describe(recorded_fixtures: Path) -> None:
    evidence = load_history_file(recorded_fixtures / "fail-state.json")

    assert evidence.describe_execution is not None
    assert evidence.describe_execution["status"] == "FAILED"
    assert evidence.describe_execution["startDate"] == datetime(
        2025, 11, 17, 16, 3, 21, 712000, tzinfo=UTC
    )
    assert evidence.execution_arn == evidence.describe_execution["executionArn"]
    assert evidence.execution_name == "<ExecArnPart_0idx>"
    assert evidence.definition is not None
    assert evidence.definition["StartAt"] == "FailState"


def test_history_file_cli_output(tmp_path: Path) -> None:
    path = write_json(tmp_path / "history.json", {"events": cli_events()})

    evidence = load_history_file(path)

    assert [event["id"] for event in evidence.events] == [1, 2, 3]
    assert evidence.events[0]["timestamp"] == datetime(2025, 11, 17, 16, 3, 21, 712000, tzinfo=UTC)
    assert evidence.sources[SOURCE_DESCRIBE].describe() == "unavailable: not in the history file"
    assert not evidence.sources[SOURCE_DEFINITION].ok
    assert "--definition-file" in (evidence.sources[SOURCE_DEFINITION].reason or "")
    assert evidence.execution_arn is None
    assert evidence.execution_name is None


def test_history_file_bare_list(tmp_path: Path) -> None:
    path = write_json(tmp_path / "events.json", cli_events())

    evidence = load_history_file(path)

    assert len(evidence.events) == 3
    assert evidence.history_complete


def test_history_file_epoch_timestamps(tmp_path: Path) -> None:
    events = cli_events()
    events[0]["timestamp"] = 1763395401.712
    path = write_json(tmp_path / "history.json", {"events": events})

    evidence = load_history_file(path)

    assert evidence.events[0]["timestamp"] == datetime(2025, 11, 17, 16, 3, 21, 712000, tzinfo=UTC)


def test_history_file_reverse_order_sorted(tmp_path: Path) -> None:
    path = write_json(tmp_path / "history.json", {"events": list(reversed(cli_events()))})

    evidence = load_history_file(path)

    assert [event["id"] for event in evidence.events] == [1, 2, 3]


def test_history_file_next_token_incomplete(tmp_path: Path) -> None:
    path = write_json(tmp_path / "history.json", {"events": cli_events(), "nextToken": "abc"})

    evidence = load_history_file(path)

    assert not evidence.history_complete
    assert "nextToken" in (evidence.sources[SOURCE_HISTORY].detail or "")


def test_history_file_id_gap_incomplete(tmp_path: Path) -> None:
    path = write_json(tmp_path / "history.json", {"events": cli_events()[1:]})

    evidence = load_history_file(path)

    assert not evidence.history_complete


def test_history_file_embedded_definition_string(tmp_path: Path) -> None:
    document = {
        "events": cli_events(),
        "definition": json.dumps(PASS_DEFINITION),
        "describe_execution": {
            "executionArn": EXECUTION_ARN,
            "stateMachineArn": STATE_MACHINE_ARN,
            "name": "run-1",
            "status": "SUCCEEDED",
            "startDate": "2025-11-17T16:03:21.712000+00:00",
        },
    }
    path = write_json(tmp_path / "history.json", document)

    evidence = load_history_file(path)

    assert evidence.definition == PASS_DEFINITION
    assert evidence.execution_arn == EXECUTION_ARN
    assert evidence.execution_name == "run-1"
    assert evidence.state_machine_arn == STATE_MACHINE_ARN
    assert evidence.sources[SOURCE_DESCRIBE].ok


def test_history_file_embedded_definition_invalid(tmp_path: Path) -> None:
    path = write_json(tmp_path / "history.json", {"events": cli_events(), "definition": "{oops"})

    evidence = load_history_file(path)

    assert evidence.definition is None
    assert "not valid JSON" in (evidence.sources[SOURCE_DEFINITION].reason or "")


@pytest.mark.parametrize(
    "content",
    [
        PASS_DEFINITION,
        json.dumps(PASS_DEFINITION),
        {"definition": json.dumps(PASS_DEFINITION), "stateMachineArn": STATE_MACHINE_ARN},
        {"definition": PASS_DEFINITION},
    ],
    ids=["object", "json-string", "describe-output", "describe-object"],
)
def test_definition_file_forms(tmp_path: Path, content: object) -> None:
    history = write_json(tmp_path / "history.json", {"events": cli_events()})
    definition = write_json(tmp_path / "definition.json", content)

    evidence = load_history_file(history, definition)

    assert evidence.definition == PASS_DEFINITION
    assert evidence.sources[SOURCE_DEFINITION].ok


def test_definition_file_describe_output_kept(tmp_path: Path) -> None:
    history = write_json(tmp_path / "history.json", {"events": cli_events()})
    described = {
        "stateMachineArn": STATE_MACHINE_ARN,
        "name": "orders",
        "definition": json.dumps(PASS_DEFINITION),
        "updateDate": "2025-11-17T16:00:00+00:00",
    }
    definition = write_json(tmp_path / "definition.json", described)

    evidence = load_history_file(history, definition)

    assert evidence.state_machine_arn == STATE_MACHINE_ARN
    assert evidence.describe_state_machine is not None
    assert evidence.describe_state_machine["updateDate"] == datetime(
        2025, 11, 17, 16, 0, tzinfo=UTC
    )


def test_definition_file_overrides_embedded(tmp_path: Path) -> None:
    embedded = {"StartAt": "Old", "States": {"Old": {"Type": "Succeed"}}}
    history = write_json(
        tmp_path / "history.json", {"events": cli_events(), "definition": embedded}
    )
    definition = write_json(tmp_path / "definition.json", PASS_DEFINITION)

    evidence = load_history_file(history, definition)

    assert evidence.definition == PASS_DEFINITION


@pytest.mark.parametrize(
    ("content", "message_part"),
    [
        ("not json at all", "not valid JSON"),
        (json.dumps({"executions": []}), "no `events` field"),
        (json.dumps({"events": {"id": 1}}), "expected a list of history events"),
        (json.dumps("events"), "contains a JSON str"),
        (json.dumps([1, 2]), "expected an object"),
        (json.dumps([{"type": "ExecutionStarted"}]), "no integer `id`"),
        (json.dumps([{"id": 1}]), "no `type`"),
        (json.dumps([{"id": 1, "type": "ExecutionStarted", "timestamp": "soon"}]), "timestamp"),
        (json.dumps([{"id": 1, "type": "A"}, {"id": 1, "type": "B"}]), "appears twice"),
        (json.dumps({"events": [], "describe_execution": []}), "describe_execution"),
    ],
)
def test_history_file_invalid(tmp_path: Path, content: str, message_part: str) -> None:
    path = tmp_path / "history.json"
    path.write_text(content)

    with pytest.raises(InvalidInputError) as caught:
        load_history_file(path)

    assert message_part in caught.value.message
    assert str(path) in caught.value.message


def test_history_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"

    with pytest.raises(InvalidInputError, match="history file not found") as caught:
        load_history_file(path)

    assert "get-execution-history" in (caught.value.hint or "")


def test_history_file_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read history file"):
        load_history_file(tmp_path)


@pytest.mark.parametrize(
    ("content", "message_part"),
    [
        (json.dumps({"Comment": "no states"}), "does not contain a state machine definition"),
        (json.dumps("{oops"), "is not valid JSON"),
        ("{oops", "is not valid JSON"),
    ],
)
def test_definition_file_invalid(tmp_path: Path, content: str, message_part: str) -> None:
    history = write_json(tmp_path / "history.json", {"events": cli_events()})
    definition = tmp_path / "definition.json"
    definition.write_text(content)

    with pytest.raises(InvalidInputError, match=message_part):
        load_history_file(history, definition)


def test_definition_file_missing(tmp_path: Path) -> None:
    history = write_json(tmp_path / "history.json", {"events": cli_events()})

    with pytest.raises(InvalidInputError, match="definition file not found"):
        load_history_file(history, tmp_path / "absent.json")


@pytest.mark.sandbox
def test_history_file_matches_live(moto_server: MotoServer, tmp_path: Path) -> None:
    execution_arn = staged_pass_execution(moto_server.endpoint_url)
    factory = ClientFactory(AwsOptions(endpoint_url=moto_server.endpoint_url))
    live = collect_live(factory, execution_arn)
    saved = {
        "events": live.events,
        "describe_execution": live.describe_execution,
        "definition": live.describe_state_machine and live.describe_state_machine["definition"],
    }
    # The AWS CLI prints timestamps in ISO 8601 with the offset.
    path = tmp_path / "history.json"
    path.write_text(json.dumps(saved, default=lambda value: value.isoformat()))

    loaded = load_history_file(path)

    assert loaded.events == live.events
    assert loaded.describe_execution == live.describe_execution
    assert loaded.definition == live.definition
    assert loaded.execution_arn == live.execution_arn
    assert loaded.execution_name == live.execution_name
    assert loaded.state_machine_arn == live.state_machine_arn
