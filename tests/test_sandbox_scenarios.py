"""Offline checks of the sandbox scenarios: the incident's numbers and each plan's consistency."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import pytest

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.scenarios import (
    CHUNK_SIZE,
    EMBEDDING_STAGES,
    FINAL_MERGE_FAILURE_ERROR,
    INCIDENT_BATCHES,
    INCIDENT_CHUNK_DELTA_LIMIT,
    INCIDENT_CHUNK_STAGE_EMBEDDINGS,
    INCIDENT_CHUNKS,
    INCIDENT_EXECUTION_NAME,
    INCIDENT_GROUP_CHUNK_LIMIT,
    INCIDENT_GROUPS,
    INCIDENT_KEPT_DELTAS,
    INCIDENT_LOST_EMBEDDINGS,
    INCIDENT_POLLED_EMBEDDINGS,
    INCIDENT_SNAPSHOT_EMBEDDINGS,
    LAMBDA_RESPONSE_LIMIT_BYTES,
    POLL_RESULTS_INCOMPLETE_EXECUTION_NAME,
    S3_READ_DENIED_EXECUTION_NAME,
    SCENARIOS,
    SCENARIOS_BY_NAME,
    VECTORS_BUCKET,
    ExpectedEmbeddingStages,
    Scenario,
    build_plan,
    get_scenario,
)
from sfn_forensics.sandbox.workflows import GROUP_SIZE, WORDS_FAULTY

SCENARIO_IDS = [scenario.execution_name for scenario in SCENARIOS]
# AWS Step Functions' limit on a state's input or output.
STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024
FIRST_INCIDENT_BATCH_ID = "144a0d50-d48a-49aa-a8e5-aca6ad9f08c2"


@pytest.fixture(scope="module")
def incident() -> Scenario:
    return get_scenario(INCIDENT_EXECUTION_NAME)


def test_incident_runs_faulty_definition(incident: Scenario) -> None:
    assert incident.state_machine == WORDS_FAULTY


def test_incident_batch_count(incident: Scenario) -> None:
    assert len(incident.plan.batches) == INCIDENT_BATCHES == 459


def test_incident_polled_embeddings(incident: Scenario) -> None:
    assert incident.plan.polled_embeddings() == INCIDENT_POLLED_EMBEDDINGS == 62_455


def test_incident_snapshot_embeddings(incident: Scenario) -> None:
    assert incident.plan.snapshot_embeddings() == INCIDENT_SNAPSHOT_EMBEDDINGS == 13_223


def test_incident_chunk_and_group_arithmetic(incident: Scenario) -> None:
    chunks = incident.plan.chunks()
    assert len(chunks) == math.ceil(INCIDENT_BATCHES / CHUNK_SIZE) == INCIDENT_CHUNKS
    assert [len(chunk) for chunk in chunks[-2:]] == [20, 19]
    assert len(incident.plan.groups()) == math.ceil(INCIDENT_CHUNKS / GROUP_SIZE)
    assert INCIDENT_GROUPS >= 2


def test_incident_kept_deltas(incident: Scenario) -> None:
    kept = incident.plan.snapshot_deltas()
    assert len(kept) == INCIDENT_KEPT_DELTAS
    expected_indices = [
        chunk * CHUNK_SIZE + offset
        for chunk in [*range(INCIDENT_GROUP_CHUNK_LIMIT), 20, 21, 22]
        for offset in range(INCIDENT_CHUNK_DELTA_LIMIT)
    ]
    assert [batch.index for batch in kept] == expected_indices


def test_incident_counts_are_stable() -> None:
    # A change here changes every number derived from the incident (logs, snapshot, S3 data).
    first = build_plan(
        seed="incident-62bdeb9f",
        batch_type="word",
        batch_count=INCIDENT_BATCHES,
        polled_embeddings=INCIDENT_POLLED_EMBEDDINGS,
        snapshot_embeddings=INCIDENT_SNAPSHOT_EMBEDDINGS,
        chunk_delta_limit=INCIDENT_CHUNK_DELTA_LIMIT,
        group_chunk_limit=INCIDENT_GROUP_CHUNK_LIMIT,
    )
    assert first == get_scenario(INCIDENT_EXECUTION_NAME).plan
    assert [batch.embedding_count for batch in first.batches[:5]] == [139, 122, 78, 153, 84]
    assert first.batches[0].batch_id == FIRST_INCIDENT_BATCH_ID


def test_incident_batch_ids_unique(incident: Scenario) -> None:
    batch_ids = [batch.batch_id for batch in incident.plan.batches]
    assert len(set(batch_ids)) == len(batch_ids)


def test_incident_chunk_stage_loses_embeddings(incident: Scenario) -> None:
    plan = incident.plan
    after_chunks = sum(plan.chunk_embeddings(i) for i in range(len(plan.chunks())))
    assert INCIDENT_SNAPSHOT_EMBEDDINGS < after_chunks < INCIDENT_POLLED_EMBEDDINGS


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_counts_match_plan(scenario: Scenario) -> None:
    assert scenario.plan.expected_counts() == scenario.expected.counts


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_path_matches_plan(scenario: Scenario) -> None:
    assert scenario.plan.path == scenario.expected.path


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_embeddings_match_plan(scenario: Scenario) -> None:
    expected = scenario.expected
    if expected.embeddings.polled is not None:
        assert scenario.plan.polled_embeddings() == expected.embeddings.polled
    if expected.embeddings.in_snapshot is not None:
        assert scenario.plan.snapshot_embeddings() == expected.embeddings.in_snapshot
        assert expected.final_merge.total_embeddings == expected.embeddings.in_snapshot


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_results_are_json(scenario: Scenario) -> None:
    for result in scenario.lambda_results():
        assert isinstance(json.loads(result), dict)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_results_are_deterministic(scenario: Scenario) -> None:
    assert scenario.lambda_results() == scenario.lambda_results()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_result_count_matches_path(scenario: Scenario) -> None:
    plan = scenario.plan
    counts = scenario.expected.counts
    expected = 1
    if counts.batches_polled is not None:
        expected += counts.batches_polled + 2  # poll iterations, normalize, split
    expected += counts.chunks or 0
    if counts.groups is not None:
        expected += 1 + counts.groups  # CreateChunkGroups and one merge per group
    expected += scenario.expected.final_merge.attempts
    if counts.batches_marked_complete is not None:
        expected += 1
    assert len(scenario.lambda_results()) == expected, plan.path


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_list_result_fits_state_limit(scenario: Scenario) -> None:
    # The list result is copied once more by NormalizePendingBatches; keep both well inside.
    list_result = scenario.lambda_results()[0]
    assert 3 * len(list_result) < STATE_PAYLOAD_LIMIT_BYTES


def test_final_merge_failure_payload_exceeds_lambda_limit() -> None:
    scenario = get_scenario("sandbox-final-merge-failed")
    results = scenario.lambda_results()
    attempts = scenario.expected.final_merge.attempts
    assert all(len(result) > LAMBDA_RESPONSE_LIMIT_BYTES for result in results[-attempts:])
    assert scenario.expected.final_merge.error == FINAL_MERGE_FAILURE_ERROR


def test_group_merge_error_payload() -> None:
    scenario = get_scenario("sandbox-group-merge-error")
    payloads = [json.loads(result) for result in scenario.lambda_results()]
    errors = [p for p in payloads if p.get("statusCode") == 500]
    assert errors == [{"statusCode": 500, "error": errors[0]["error"], "group_index": 1}]


def test_scenarios_cover_every_path() -> None:
    paths = {scenario.expected.path for scenario in SCENARIOS}
    assert paths == {"hierarchical", "direct", "no-pending-batches", "no-chunks"}


def test_scenarios_cover_every_verdict() -> None:
    verdicts = {scenario.expected.verdict for scenario in SCENARIOS}
    assert verdicts == {"healthy", "degraded", "failed", "inconclusive"}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_verdict_follows_status(scenario: Scenario) -> None:
    expected = scenario.expected
    assert (expected.verdict == "failed") == (expected.execution_status == "FAILED")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_embedding_stages_match_plan(scenario: Scenario) -> None:
    derived = scenario.plan.expected_embedding_stages(s3_readable=not scenario.s3_reads_denied)
    assert derived == scenario.expected.embedding_stages


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_embedding_stages_complete(scenario: Scenario) -> None:
    assert tuple(scenario.expected.embedding_stages.stages) == EMBEDDING_STAGES


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_loss_means_not_healthy(scenario: Scenario) -> None:
    lost = scenario.expected.embedding_stages.lost
    if lost:
        assert scenario.expected.verdict == "degraded"
        assert "EMBEDDINGS_LOST" in scenario.expected.finding_codes


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_healthy_has_no_finding_codes(scenario: Scenario) -> None:
    if scenario.expected.verdict in ("healthy", "inconclusive"):
        assert scenario.expected.finding_codes == ()
    else:
        assert scenario.expected.finding_codes


def test_incident_embedding_stages() -> None:
    stages = get_scenario(INCIDENT_EXECUTION_NAME).expected.embedding_stages
    assert dict(stages.stages) == {
        "poll_results": 62_455,
        "chunks_processed": 27_793,
        "group_merges": 13_223,
        "final_merge": 13_223,
        "snapshot_metadata": 13_223,
        "snapshot_verified": 13_223,
    }
    assert (stages.expected, stages.final, stages.lost) == (62_455, 13_223, 49_232)


def test_incident_chunk_stage_arithmetic(incident: Scenario) -> None:
    plan = incident.plan
    kept = [len(plan.kept_deltas_of_chunk(i)) for i in range(INCIDENT_CHUNKS)]
    assert sum(kept) == 22 * INCIDENT_CHUNK_DELTA_LIMIT + 10 == 230
    after_chunks = sum(plan.chunk_embeddings(i) for i in range(INCIDENT_CHUNKS))
    assert after_chunks == INCIDENT_CHUNK_STAGE_EMBEDDINGS
    assert INCIDENT_POLLED_EMBEDDINGS - INCIDENT_SNAPSHOT_EMBEDDINGS == INCIDENT_LOST_EMBEDDINGS


def test_incident_finding_codes(incident: Scenario) -> None:
    codes = set(incident.expected.finding_codes)
    assert codes >= {"OUTPUT_DROPPED", "EMBEDDINGS_LOST", "LOG_DATA_LOSS"}


def test_embedding_stages_final_prefers_snapshot() -> None:
    stages = ExpectedEmbeddingStages.from_stages(
        poll_results=10, final_merge=8, snapshot_metadata=7
    )
    assert (stages.expected, stages.final, stages.lost) == (10, 7, 3)


def test_embedding_stages_lost_unknown_without_expected() -> None:
    stages = ExpectedEmbeddingStages.from_stages(chunks_processed=5, final_merge=5)
    assert (stages.expected, stages.final, stages.lost) == (None, 5, None)


def test_embedding_stages_reject_unknown_stage() -> None:
    with pytest.raises(SandboxError, match="unknown embedding stages"):
        ExpectedEmbeddingStages.from_stages(snapshot=5)


def test_snapshot_versions_unique() -> None:
    versions = [scenario.snapshot_version for scenario in SCENARIOS]
    assert len(set(versions)) == len(versions)
    assert all(re.fullmatch(r"\d{8}_\d{6}", str(version)) for version in versions)


def test_snapshot_versions_increase_in_staging_order() -> None:
    versions = [str(scenario.snapshot_version) for scenario in SCENARIOS]
    assert versions == sorted(versions)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_final_merge_returns_versioned_snapshot_key(scenario: Scenario) -> None:
    if not scenario.writes_snapshot:
        return
    payloads = [json.loads(result) for result in scenario.lambda_results()]
    final = [payload for payload in payloads if "snapshot_key" in payload]
    expected_key = f"{scenario.plan.database}/snapshot/timestamped/{scenario.snapshot_version}/"
    assert [payload["snapshot_key"] for payload in final] == [expected_key]


def test_snapshot_key_requires_version() -> None:
    unversioned = replace(get_scenario(INCIDENT_EXECUTION_NAME), snapshot_version=None)
    with pytest.raises(SandboxError, match="no snapshot version"):
        unversioned.snapshot_key()


def test_poll_results_incomplete_skips_three_batches() -> None:
    plan = get_scenario(POLL_RESULTS_INCOMPLETE_EXECUTION_NAME).plan
    assert len(plan.batches) == 50
    assert plan.poll_results_entries() == 47
    assert len(plan.completed) == 50
    assert plan.polled_embeddings() - plan.poll_results_embeddings() == 430


def test_poll_results_incomplete_skipped_results_use_uris() -> None:
    scenario = get_scenario(POLL_RESULTS_INCOMPLETE_EXECUTION_NAME)
    polls = [json.loads(result) for result in scenario.lambda_results()[1:51]]
    uris = [poll["batch_id"] for poll in polls if str(poll["result_s3_key"]).startswith("s3://")]
    skipped = [scenario.plan.batches[index].batch_id for index in (7, 23, 41)]
    assert uris == skipped


def test_poll_results_incomplete_marks_every_batch() -> None:
    scenario = get_scenario(POLL_RESULTS_INCOMPLETE_EXECUTION_NAME)
    marked = json.loads(scenario.lambda_results()[-1])
    assert marked["batches_marked"] == 50


def test_normalize_result_counts_entries() -> None:
    scenario = get_scenario(POLL_RESULTS_INCOMPLETE_EXECUTION_NAME)
    normalize = json.loads(scenario.lambda_results()[51])
    assert normalize["batch_count"] == 47
    assert normalize["poll_results_s3_key"] == scenario.poll_results_s3_key()


def test_s3_read_denied_rules() -> None:
    scenario = get_scenario(S3_READ_DENIED_EXECUTION_NAME)
    assert scenario.denied_reads() == (
        (VECTORS_BUCKET, f"poll_results/{S3_READ_DENIED_EXECUTION_NAME}/"),
        (VECTORS_BUCKET, scenario.snapshot_key()),
    )


def test_only_s3_read_denied_scenario_denies_reads() -> None:
    denying = [scenario.execution_name for scenario in SCENARIOS if scenario.denied_reads()]
    assert denying == [S3_READ_DENIED_EXECUTION_NAME]


def test_scenarios_cover_line_workflow() -> None:
    assert any(scenario.plan.batch_type == "line" for scenario in SCENARIOS)


def test_scenario_names_unique() -> None:
    assert len(SCENARIOS_BY_NAME) == len(SCENARIOS)


def test_get_scenario_rejects_unknown_name() -> None:
    with pytest.raises(SandboxError):
        get_scenario("sandbox-does-not-exist")
