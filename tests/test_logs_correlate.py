"""Ties between Lambda log lines and hand-built state visits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sfn_forensics.history.model import StateVisit
from sfn_forensics.logs.correlate import correlate
from sfn_forensics.logs.model import LogLine, TiedLine
from sfn_forensics.logs.parse import parse_log_events

MERGE_GROUP = "/aws/lambda/merge"
SPLIT_GROUP = "/aws/lambda/split"
EXECUTION = "ingest-2024-05-01-run-7"
T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
FUNCTION_STATES = {MERGE_GROUP: ["MergeGroup"], SPLIT_GROUP: ["SplitChunks"]}


def visit(
    name: str,
    entered_event_id: int,
    start_s: float,
    end_s: float | None,
    payload: Any = None,
    output: Any = None,
    iteration: int | None = None,
    request_ids: tuple[str, ...] = (),
) -> StateVisit:
    return StateVisit(
        name=name,
        state_type="Task",
        entered_event_id=entered_event_id,
        exited_event_id=None if end_s is None else entered_event_id + 4,
        entered_at=T0 + timedelta(seconds=start_s),
        exited_at=None if end_s is None else T0 + timedelta(seconds=end_s),
        input=None if payload is None else json.dumps(payload),
        output=None if output is None else json.dumps(output),
        iteration_event_id=None if iteration is None else entered_event_id - 1,
        parent_map=None if iteration is None else "MergeGroups",
        iteration_index=iteration,
        lambda_request_ids=list(request_ids),
    )


def invocation(
    request_id: str, start_s: float, messages: list[str], stream: str = "stream-1"
) -> list[dict[str, Any]]:
    """Events of one Lambda invocation: START, one event per message, END and REPORT."""
    start_ms = int((T0 + timedelta(seconds=start_s)).timestamp() * 1000)
    events = [
        {"timestamp": start_ms, "message": f"START RequestId: {request_id} Version: $LATEST\n"}
    ]
    for offset, message in enumerate(messages, start=1):
        events.append({"timestamp": start_ms + offset, "message": message + "\n"})
    end_ms = start_ms + len(messages) + 1
    events.append({"timestamp": end_ms, "message": f"END RequestId: {request_id}\n"})
    events.append(
        {
            "timestamp": end_ms,
            "message": f"REPORT RequestId: {request_id}\tDuration: 5.00 ms\tBilled Duration: 5 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 60 MB\t\n",
        }
    )
    for position, item in enumerate(events):
        item["logStreamName"] = stream
        item["eventId"] = f"{request_id}-{position}"
    return events


def lines_of(*invocations: list[dict[str, Any]], group: str = MERGE_GROUP) -> list[LogLine]:
    return parse_log_events([item for events in invocations for item in events], group)


def ties_of(
    lines: list[LogLine], visits: list[StateVisit], execution_name: str | None = EXECUTION
) -> list[TiedLine]:
    return correlate(lines, visits, execution_name, FUNCTION_STATES)


def iteration_visits(*payloads: dict[str, Any]) -> list[StateVisit]:
    """Concurrent Map iterations of MergeGroup whose windows all overlap."""
    return [
        visit("MergeGroup", 10 + 10 * index, 1 + 0.1 * index, 30, payload, iteration=index)
        for index, payload in enumerate(payloads)
    ]


def test_correlate_request_id() -> None:
    visits = [
        visit("MergeGroup", 5, 1, 3, request_ids=("req-a",)),
        visit("MergeGroup", 15, 4, 6, request_ids=("req-b",)),
    ]
    lines = lines_of(
        invocation("req-b", 50, ["[WARNING]\tGroup has 20 chunks, processing first 10"])
    )
    ties = ties_of(lines, visits)
    assert {tie.method for tie in ties} == {"request_id"}
    assert {tie.visit_entered_event_id for tie in ties} == {15}
    assert {tie.state for tie in ties} == {"MergeGroup"}


def test_correlate_request_id_of_retry_attempts() -> None:
    visits = [visit("MergeGroup", 5, 1, 9, request_ids=("attempt-1", "attempt-2"))]
    lines = lines_of(invocation("attempt-1", 2, ["failed"]), invocation("attempt-2", 5, ["ok"]))
    ties = ties_of(lines, visits)
    assert {tie.visit_entered_event_id for tie in ties} == {5}
    assert {tie.method for tie in ties} == {"request_id"}


def test_correlate_execution_name_and_window() -> None:
    visits = [visit("MergeGroup", 5, 1, 10), visit("MergeGroup", 25, 20, 30)]
    lines = lines_of(invocation("req-1", 21, [f"execution {EXECUTION}: merging", "done"]))
    ties = ties_of(lines, visits)
    assert {tie.method for tie in ties} == {"execution_name_and_window"}
    assert {tie.visit_entered_event_id for tie in ties} == {25}
    assert len(ties) == len(lines)


def test_correlate_window_without_execution_name() -> None:
    visits = [visit("MergeGroup", 5, 1, 10)]
    lines = lines_of(invocation("req-1", 2, ["merging"]))
    ties = ties_of(lines, visits)
    assert {tie.method for tie in ties} == {"window"}
    assert {tie.visit_entered_event_id for tie in ties} == {5}


def test_correlate_window_when_execution_name_unknown() -> None:
    visits = [visit("MergeGroup", 5, 1, 10)]
    lines = lines_of(invocation("req-1", 2, [f"{EXECUTION} merging"]))
    ties = ties_of(lines, visits, execution_name=None)
    assert {tie.method for tie in ties} == {"window"}


def test_correlate_outside_window_untied() -> None:
    visits = [visit("MergeGroup", 5, 1, 10)]
    lines = lines_of(invocation("req-1", 11, [f"{EXECUTION} merging"]))
    ties = ties_of(lines, visits)
    assert {tie.method for tie in ties} == {None}
    assert {tie.state for tie in ties} == {None}
    assert {tie.visit_entered_event_id for tie in ties} == {None}


def test_correlate_window_edges_inclusive() -> None:
    visits = [visit("MergeGroup", 5, 1, 10)]
    lines = lines_of(invocation("req-1", 1, ["at entry"]))
    ties = ties_of(lines, visits)
    assert {tie.visit_entered_event_id for tie in ties} == {5}


def test_correlate_unknown_log_group_untied() -> None:
    visits = [visit("MergeGroup", 5, 1, 10)]
    lines = lines_of(invocation("req-1", 2, [EXECUTION]), group="/aws/lambda/unrelated")
    ties = ties_of(lines, visits)
    assert {tie.method for tie in ties} == {None}


def test_correlate_other_state_of_group_untied() -> None:
    visits = [visit("SplitChunks", 5, 1, 10)]
    lines = lines_of(invocation("req-1", 2, [EXECUTION]))
    ties = ties_of(lines, visits)
    assert {tie.method for tie in ties} == {None}


def test_correlate_open_visit_without_exit() -> None:
    visits = [visit("MergeGroup", 5, 1, None)]
    lines = lines_of(invocation("req-1", 600, [EXECUTION]))
    ties = ties_of(lines, visits)
    assert {tie.visit_entered_event_id for tie in ties} == {5}


def test_correlate_iteration_by_text_value() -> None:
    visits = iteration_visits(
        {"batch_id": "batch_aaa111", "bucket": "ingest-data"},
        {"batch_id": "batch_bbb222", "bucket": "ingest-data"},
        {"batch_id": "batch_ccc333", "bucket": "ingest-data"},
    )
    lines = lines_of(
        invocation(
            "req-1",
            5,
            [
                f"{EXECUTION} bucket ingest-data",
                "[WARNING]\tbatch batch_bbb222: processing first 10",
            ],
        )
    )
    ties = ties_of(lines, visits)
    assert {tie.method for tie in ties} == {"execution_name_and_window"}
    assert {tie.visit_entered_event_id for tie in ties} == {20}
    assert {tie.matched_value for tie in ties} == {"batch_id=batch_bbb222"}


def test_correlate_iteration_by_keyed_number() -> None:
    visits = iteration_visits({"group_index": 0}, {"group_index": 1}, {"group_index": 2})
    lines = lines_of(invocation("req-1", 5, ["Group 2 has 20 chunks, processing first 10"]))
    ties = ties_of(lines, visits)
    assert {tie.visit_entered_event_id for tie in ties} == {30}
    assert {tie.method for tie in ties} == {"window"}


def test_correlate_iteration_by_structured_field() -> None:
    visits = iteration_visits({"chunk_index": 0}, {"chunk_index": 1})
    record = {"level": "WARNING", "message": "truncated", "chunk_index": 1}
    lines = lines_of(invocation("req-1", 5, [json.dumps(record)]))
    ties = ties_of(lines, visits)
    assert {tie.visit_entered_event_id for tie in ties} == {20}


def test_correlate_iteration_from_output_value() -> None:
    visits = [
        visit(
            "MergeGroup", 10, 1, 30, {"n": 1}, output={"snapshot_key": "snap/g-0.json"}, iteration=0
        ),
        visit(
            "MergeGroup", 20, 1, 30, {"n": 1}, output={"snapshot_key": "snap/g-1.json"}, iteration=1
        ),
    ]
    lines = lines_of(invocation("req-1", 5, ["wrote s3://bucket/snap/g-1.json"]))
    ties = ties_of(lines, visits)
    assert {tie.visit_entered_event_id for tie in ties} == {20}


def test_correlate_bare_number_does_not_choose() -> None:
    visits = iteration_visits({"group_index": 0}, {"group_index": 1}, {"group_index": 2})
    lines = lines_of(invocation("req-1", 5, ["retrying 2 times"]))
    ties = ties_of(lines, visits)
    assert {tie.method for tie in ties} == {"window_state_only"}
    assert {tie.state for tie in ties} == {"MergeGroup"}
    assert {tie.visit_entered_event_id for tie in ties} == {None}


def test_correlate_shared_value_does_not_choose() -> None:
    visits = iteration_visits({"bucket": "ingest-data"}, {"bucket": "ingest-data"})
    lines = lines_of(invocation("req-1", 5, [f"{EXECUTION} reading ingest-data"]))
    ties = ties_of(lines, visits)
    # The line names the execution, so the method records that although the iteration is unknown.
    assert {tie.method for tie in ties} == {"execution_name_state_only"}
    assert {tie.visit_entered_event_id for tie in ties} == {None}


def test_correlate_tied_score_does_not_choose() -> None:
    visits = iteration_visits(
        {"batch_id": "batch_aaa111"}, {"batch_id": "batch_bbb222"}, {"batch_id": "batch_ccc333"}
    )
    lines = lines_of(invocation("req-1", 5, ["merging batch_aaa111 and batch_bbb222"]))
    ties = ties_of(lines, visits)
    assert {tie.method for tie in ties} == {"window_state_only"}


def test_correlate_partial_word_does_not_choose() -> None:
    visits = iteration_visits({"batch_id": "batch_aaa111"}, {"batch_id": "batch_aaa1119"})
    lines = lines_of(invocation("req-1", 5, ["merging batch_aaa1119"]))
    ties = ties_of(lines, visits)
    assert {tie.visit_entered_event_id for tie in ties} == {20}


def test_correlate_overlapping_states_untied() -> None:
    function_states = {MERGE_GROUP: ["MergeGroup", "MergeFinal"]}
    visits = [visit("MergeGroup", 5, 1, 10), visit("MergeFinal", 8, 2, 10)]
    lines = lines_of(invocation("req-1", 5, ["merging"]))
    ties = correlate(lines, visits, EXECUTION, function_states)
    assert {tie.method for tie in ties} == {None}


def test_correlate_invocation_shares_one_tie() -> None:
    visits = [visit("MergeGroup", 5, 1, 10), visit("MergeGroup", 25, 20, 30)]
    lines = lines_of(
        invocation("req-1", 2, ["first"]),
        invocation("req-2", 21, ["second", f"{EXECUTION} done"], stream="stream-2"),
    )
    ties = ties_of(lines, visits)
    first = [tie for tie in ties if tie.line.request_id == "req-1"]
    second = [tie for tie in ties if tie.line.request_id == "req-2"]
    assert {(tie.visit_entered_event_id, tie.method) for tie in first} == {(5, "window")}
    assert {(tie.visit_entered_event_id, tie.method) for tie in second} == {
        (25, "execution_name_and_window")
    }


def test_correlate_line_without_request_id() -> None:
    visits = [visit("MergeGroup", 5, 1, 10)]
    init_ms = int((T0 + timedelta(seconds=2)).timestamp() * 1000)
    lines = parse_log_events(
        [{"timestamp": init_ms, "message": "[INFO]\t2024-05-01T10:00:02Z\t\tloading\n"}],
        MERGE_GROUP,
    )
    ties = ties_of(lines, visits)
    assert ties[0].method == "window"
    assert ties[0].visit_entered_event_id == 5


def test_correlate_keeps_input_order() -> None:
    visits = [visit("MergeGroup", 5, 1, 10, request_ids=("req-1",))]
    lines = lines_of(invocation("req-1", 2, ["a", "b"]), invocation("req-2", 50, ["c"]))
    reordered = lines[::-1]
    ties = ties_of(reordered, visits)
    assert [tie.line for tie in ties] == reordered


def test_correlate_empty_inputs() -> None:
    assert correlate([], [], None, {}) == []


def test_correlate_many_iterations() -> None:
    payloads = [{"batch_id": f"batch_{index:06d}"} for index in range(300)]
    visits = [
        visit(
            "MergeGroup", 10 + 10 * index, index * 0.5, index * 0.5 + 20, payload, iteration=index
        )
        for index, payload in enumerate(payloads)
    ]
    invocations = [
        invocation(
            f"req-{index}", index * 0.5 + 0.2, [f"merging batch_{index:06d}"], f"s-{index % 7}"
        )
        for index in range(300)
    ]
    ties = ties_of(lines_of(*invocations), visits)
    chosen = {tie.line.request_id: tie.visit_entered_event_id for tie in ties}
    assert chosen == {f"req-{index}": 10 + 10 * index for index in range(300)}


def test_correlate_value_with_spaces() -> None:
    visits = iteration_visits({"label": "merge group alpha"}, {"label": "merge group beta"})
    lines = lines_of(invocation("req-1", 5, ["label: merge group beta, 20 chunks"]))
    ties = ties_of(lines, visits)
    assert {tie.visit_entered_event_id for tie in ties} == {20}
    assert {tie.matched_value for tie in ties} == {"label=merge group beta"}


def test_correlate_key_inside_url() -> None:
    visits = iteration_visits({"key": "groups/3/chunk-17"}, {"key": "groups/3/chunk-170"})
    lines = lines_of(invocation("req-1", 5, ["read s3://ingest/groups/3/chunk-17.json"]))
    ties = ties_of(lines, visits)
    assert {tie.visit_entered_event_id for tie in ties} == {10}


def test_correlate_metric_dimension_value() -> None:
    visits = iteration_visits({"batch_id": "batch_aaa111"}, {"batch_id": "batch_bbb222"})
    record = {
        "_aws": {
            "Timestamp": 0,
            "CloudWatchMetrics": [{"Namespace": "n", "Metrics": [{"Name": "Kept"}]}],
        },
        "batch_id": "batch_bbb222",
        "Kept": 10,
    }
    lines = lines_of(invocation("req-1", 5, [json.dumps(record)]))
    ties = ties_of(lines, visits)
    assert {tie.visit_entered_event_id for tie in ties} == {20}


def test_correlate_ignores_platform_record_numbers() -> None:
    visits = iteration_visits({"duration": 5}, {"duration": 6})
    lines = lines_of(invocation("req-1", 5, ["merging"]))
    ties = ties_of(lines, visits)
    assert {tie.method for tie in ties} == {"window_state_only"}
