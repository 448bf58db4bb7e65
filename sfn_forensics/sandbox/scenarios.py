"""The executions the sandbox stages, and what inspecting each of them must find.

Each `Scenario` names its execution, the state machine it runs on, an `IngestPlan` (the batches,
their embedding counts and how the Lambdas behave) and the `Expected` results. The plan produces
the Lambda return values that moto hands out, in invocation order (`Scenario.lambda_results`).
After the execution stops, staging writes the evidence the run would have left behind (Lambda
logs, poll_results.json and the ChromaDB snapshot) from the execution's history.

The incident, execution 62bdeb9f-3252-4ff2-b3dd-6f7d93b577b6
------------------------------------------------------------
459 pending word batches, one delta per batch, 62,455 embeddings in all.
SplitWordIntoChunks cuts the deltas into chunks of CHUNK_SIZE = 20:
    459 = 22 * 20 + 19 -> 23 chunks.
23 > 4, so CheckChunkGroupCount takes the hierarchical path. CreateChunkGroups uses the
definition's group_size of 20: ceil(23 / 20) = 2 groups, chunks 0-19 and chunks 20-22.
The merge code that ran kept only the first 10 deltas of a chunk (ProcessWordChunk) and the
first 10 chunks of a group (MergeChunkGroup):
    chunk stage: 22 chunks * 10 + 10 (chunk 22 contains 19 deltas) = 230 deltas
                 holding 27,793 embeddings
    group stage: group 0 keeps chunks 0-9 (100 deltas), group 1 keeps chunks 20-22 (30 deltas)
                 = 130 deltas holding 13,223 embeddings
The seeded per-batch counts are spread so that the 130 kept deltas hold exactly 13,223
embeddings and all 459 hold 62,455. WordFinalMerge reports total_embeddings 13,223, and the
faulty PrepareMarkWordBatchesComplete drops final_merge_result before 459 batches are marked
complete. 62,455 - 13,223 = 49,232 embeddings are lost.

Verdicts (the product's semantics)
----------------------------------
failed:       the execution failed, timed out or was aborted.
degraded:     the execution succeeded, but data or evidence was lost on the way (embeddings
              missing from the snapshot, batches missing from poll_results.json, the final
              merge result dropped from the output).
healthy:      the execution succeeded and nothing was lost, including runs with nothing to do.
inconclusive: the evidence needed to decide is unreadable (S3 reads denied), so no problem
              can be shown or ruled out.

Map iterations call one function and moto's Lambda response queue is shared, so concurrent
iterations take the queued values in arbitrary order: iteration i may return the value built
for item j. Identity fields (batch_id, chunk_index, group_index) are in every payload, and the
set of outputs of a Map is deterministic, but not which iteration returned which. The evidence
written after the run follows the history: an invocation's log lines describe the value it
returned.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.workflows import (
    FINAL_MERGE_MAX_ATTEMPTS,
    GROUP_SIZE,
    HIERARCHICAL_CHUNK_THRESHOLD,
    LINES_FIXED,
    WORDS_FAULTY,
    WORDS_FIXED,
    BatchType,
    Workflow,
    get_workflow,
)

Verdict = Literal["healthy", "degraded", "failed", "inconclusive"]
PathName = Literal["hierarchical", "direct", "no-pending-batches", "no-chunks"]
ExecutionStatus = Literal["SUCCEEDED", "FAILED"]
FinalMergeOutcome = Literal["succeeded", "failed", "not-run"]
BatchStatus = Literal["completed", "in_progress"]

# Deltas per chunk in SplitWordIntoChunks/SplitIntoChunks (the split Lambda's setting).
CHUNK_SIZE = 20
# The bucket the Lambda return values name for poll results, deltas and snapshots.
VECTORS_BUCKET = "chromadb-sandbox-vectors"

INCIDENT_EXECUTION_NAME = "62bdeb9f-3252-4ff2-b3dd-6f7d93b577b6"
INCIDENT_BATCHES = 459
INCIDENT_POLLED_EMBEDDINGS = 62_455
INCIDENT_SNAPSHOT_EMBEDDINGS = 13_223
INCIDENT_CHUNK_STAGE_EMBEDDINGS = 27_793
INCIDENT_LOST_EMBEDDINGS = 49_232
INCIDENT_CHUNKS = 23
INCIDENT_GROUPS = 2
# The incident's merge code: deltas kept per chunk, and chunks kept per group.
INCIDENT_CHUNK_DELTA_LIMIT = 10
INCIDENT_GROUP_CHUNK_LIMIT = 10
INCIDENT_KEPT_DELTAS = 130

POLL_RESULTS_INCOMPLETE_EXECUTION_NAME = "sandbox-poll-results-incomplete"
S3_READ_DENIED_EXECUTION_NAME = "sandbox-s3-read-denied"

# AWS Lambda's synchronous response limit; the failing final merge returns more than this.
LAMBDA_RESPONSE_LIMIT_BYTES = 6_291_556
FINAL_MERGE_FAILURE_ERROR = "Function.ResponseSizeTooLarge"

# Snapshot version ids are `%Y%m%d_%H%M%S` timestamps. The Lambda return values are queued
# before an execution starts, so the version cannot come from its real stop time: scenario i of
# SCENARIOS gets this base time plus i * (5 minutes + 1 second), unique per scenario.
SNAPSHOT_VERSION_BASE = datetime(2026, 12, 1, 6, 0, 0, tzinfo=UTC)
SNAPSHOT_VERSION_STEP = timedelta(minutes=5, seconds=1)

# The embedding stages the product reports, in pipeline order (see `ExpectedEmbeddingStages`).
EMBEDDING_STAGES: tuple[str, ...] = (
    "poll_results",
    "chunks_processed",
    "group_merges",
    "final_merge",
    "snapshot_metadata",
    "snapshot_verified",
)
# The stage whose count is the final one: the first of these that is known.
FINAL_STAGE_PREFERENCE: tuple[str, ...] = ("snapshot_verified", "snapshot_metadata", "final_merge")

# Per-batch embedding counts are drawn in this range before being scaled to a scenario's total.
_COUNT_WEIGHT_RANGE = (60, 220)


@dataclass(frozen=True)
class Batch:
    """One OpenAI embedding batch as ListPendingBatches returns it and PollBatch reports it."""

    index: int
    batch_id: str
    openai_batch_id: str
    status: BatchStatus
    # Embeddings in the batch's delta; 0 while the batch is still running at OpenAI.
    embedding_count: int
    # Id of the delta the poll Lambda writes for a completed batch.
    delta_id: str = ""


@dataclass(frozen=True)
class IngestPlan:
    """The batches of one execution and the behaviour of its Lambdas."""

    batch_type: BatchType
    batches: tuple[Batch, ...]
    chunk_size: int = CHUNK_SIZE
    group_size: int = GROUP_SIZE
    # The merge code keeps only the first N deltas of a chunk / chunks of a group (None: all).
    chunk_delta_limit: int | None = None
    group_chunk_limit: int | None = None
    # Group indices whose MergeChunkGroup returns a statusCode 500 payload.
    failed_groups: frozenset[int] = field(default_factory=frozenset)
    # The final merge fails with Function.ResponseSizeTooLarge on every attempt.
    final_merge_fails: bool = False
    # Batch indices whose poll result names its delta by an `s3://` URI instead of a key, so
    # the normalize Lambda skips them and poll_results.json has no entry for them.
    skipped_batches: frozenset[int] = field(default_factory=frozenset)

    @property
    def database(self) -> str:
        return "words" if self.batch_type == "word" else "lines"

    @property
    def completed(self) -> tuple[Batch, ...]:
        """Batches that finished at OpenAI; MarkBatchesComplete marks all of them."""
        return tuple(batch for batch in self.batches if batch.status == "completed")

    @property
    def deltas(self) -> tuple[Batch, ...]:
        """Batches with a delta entry in poll_results.json, in listing order."""
        return tuple(batch for batch in self.completed if batch.index not in self.skipped_batches)

    def delta_key(self, batch: Batch) -> str:
        return f"{self.database}/delta/{batch.delta_id}/"

    def poll_results_entries(self) -> int:
        """Entries the normalize Lambda writes to poll_results.json."""
        return len(self.batches) - len(self.skipped_batches)

    def chunks(self) -> list[tuple[Batch, ...]]:
        deltas = self.deltas
        return [deltas[i : i + self.chunk_size] for i in range(0, len(deltas), self.chunk_size)]

    @property
    def hierarchical(self) -> bool:
        return len(self.chunks()) > HIERARCHICAL_CHUNK_THRESHOLD

    @property
    def path(self) -> PathName:
        if not self.batches:
            return "no-pending-batches"
        chunk_count = len(self.chunks())
        if chunk_count == 0:
            return "no-chunks"
        return "hierarchical" if chunk_count > HIERARCHICAL_CHUNK_THRESHOLD else "direct"

    def groups(self) -> list[tuple[int, ...]]:
        """Chunk indices per group; empty on the direct path."""
        if not self.hierarchical:
            return []
        indices = tuple(range(len(self.chunks())))
        return [indices[i : i + self.group_size] for i in range(0, len(indices), self.group_size)]

    def kept_deltas_of_chunk(self, chunk_index: int) -> tuple[Batch, ...]:
        chunk = self.chunks()[chunk_index]
        return chunk if self.chunk_delta_limit is None else chunk[: self.chunk_delta_limit]

    def chunk_embeddings(self, chunk_index: int) -> int:
        return sum(batch.embedding_count for batch in self.kept_deltas_of_chunk(chunk_index))

    def kept_chunks_of_group(self, group_index: int) -> tuple[int, ...]:
        group = self.groups()[group_index]
        return group if self.group_chunk_limit is None else group[: self.group_chunk_limit]

    def group_embeddings(self, group_index: int) -> int:
        return sum(self.chunk_embeddings(i) for i in self.kept_chunks_of_group(group_index))

    def snapshot_deltas(self) -> tuple[Batch, ...]:
        """Deltas whose embeddings reach the final snapshot, in listing order."""
        if self.final_merge_fails:
            return ()
        if not self.hierarchical:
            chunk_indices: list[int] = list(range(len(self.chunks())))
        else:
            chunk_indices = [
                chunk_index
                for group_index in range(len(self.groups()))
                if group_index not in self.failed_groups
                for chunk_index in self.kept_chunks_of_group(group_index)
            ]
        return tuple(batch for index in chunk_indices for batch in self.kept_deltas_of_chunk(index))

    def polled_embeddings(self) -> int:
        """Sum of embedding_count over the poll iterations' results."""
        return sum(batch.embedding_count for batch in self.batches)

    def poll_results_embeddings(self) -> int:
        """Sum of embedding_count over the processed entries of poll_results.json."""
        return sum(batch.embedding_count for batch in self.deltas)

    def snapshot_embeddings(self) -> int:
        return sum(batch.embedding_count for batch in self.snapshot_deltas())

    def expected_counts(self) -> ExpectedCounts:
        """Derive the counts an inspection must find; tests compare them with the declared ones."""
        listed = len(self.batches)
        if listed == 0:
            return ExpectedCounts(batches_listed=0)
        chunk_count = len(self.chunks())
        if chunk_count == 0:
            return ExpectedCounts(batches_listed=listed, batches_polled=listed, chunks=0)
        groups = self.groups()
        group_count = len(groups) if self.hierarchical else None
        failed = len(self.failed_groups) if self.hierarchical else None
        merged = None if group_count is None or failed is None else group_count - failed
        marked = None if self.final_merge_fails else len(self.completed)
        return ExpectedCounts(
            batches_listed=listed,
            batches_polled=listed,
            chunks=chunk_count,
            groups=group_count,
            groups_merged=merged,
            group_merge_errors=failed,
            batches_marked_complete=marked,
        )

    def expected_embedding_stages(self, *, s3_readable: bool = True) -> ExpectedEmbeddingStages:
        """Derive the per-stage embedding counts; tests compare them with the declared ones.

        `s3_readable` False means poll_results.json and the snapshot exist but cannot be read.
        """
        if not self.batches:
            return ExpectedEmbeddingStages.from_stages()
        chunk_count = len(self.chunks())
        chunks_processed = (
            sum(self.chunk_embeddings(i) for i in range(chunk_count)) if chunk_count else None
        )
        group_merges = None
        if self.hierarchical:
            group_merges = sum(
                self.group_embeddings(j)
                for j in range(len(self.groups()))
                if j not in self.failed_groups
            )
        final_merge = None
        if chunk_count and not self.final_merge_fails:
            final_merge = self.snapshot_embeddings()
        snapshot = final_merge if s3_readable else None
        return ExpectedEmbeddingStages.from_stages(
            poll_results=self.poll_results_embeddings() if s3_readable else None,
            chunks_processed=chunks_processed,
            group_merges=group_merges,
            final_merge=final_merge,
            snapshot_metadata=snapshot,
            snapshot_verified=snapshot,
        )


@dataclass(frozen=True)
class ExpectedCounts:
    """Counts per stage; None where the stage's state was never entered."""

    batches_listed: int | None = None
    batches_polled: int | None = None
    chunks: int | None = None
    groups: int | None = None
    groups_merged: int | None = None
    group_merge_errors: int | None = None
    batches_marked_complete: int | None = None


@dataclass(frozen=True)
class ExpectedFinalMerge:
    """Outcome of the final merge Task (WordFinalMerge or FinalMerge)."""

    outcome: FinalMergeOutcome
    # Lambda invocations of the final merge, retries included.
    attempts: int
    status_code: int | None = None
    total_embeddings: int | None = None
    # The error of the last failed attempt.
    error: str | None = None


@dataclass(frozen=True)
class ExpectedEmbeddings:
    # Sum of embedding_count over the poll iterations; None when nothing was polled.
    polled: int | None
    # total_embeddings reported by the final merge; None when it did not succeed.
    in_snapshot: int | None


@dataclass(frozen=True)
class ExpectedEmbeddingStages:
    """The embedding counts per stage that an inspection of the run should report.

    `stages` maps every name in EMBEDDING_STAGES to a count, or None where the product cannot
    know it: the stage never ran, is not on the run's path, or its evidence is unreadable.
    - poll_results: sum of embedding_count over the processed entries of poll_results.json.
    - chunks_processed: sum of `embeddings_merged` over the process-chunk log lines.
    - group_merges: sum of `total_embeddings` over the successful group-merge log lines.
    - final_merge: total_embeddings that the final merge returned.
    - snapshot_metadata: the total_embeddings user metadata on the snapshot objects.
    - snapshot_verified: the collection count in the snapshot (read with --verify-snapshot).
    `expected` is the poll_results count, `final` the first known count of
    FINAL_STAGE_PREFERENCE, and `lost` their difference when both are known.
    """

    stages: Mapping[str, int | None]
    expected: int | None
    final: int | None
    lost: int | None

    @classmethod
    def from_stages(cls, **counts: int | None) -> ExpectedEmbeddingStages:
        """Build the expectation from stage counts; stages left out are None."""
        unknown = set(counts) - set(EMBEDDING_STAGES)
        if unknown:
            raise SandboxError(f"unknown embedding stages: {', '.join(sorted(unknown))}")
        stages = {name: counts.get(name) for name in EMBEDDING_STAGES}
        expected = stages["poll_results"]
        final = next(
            (stages[name] for name in FINAL_STAGE_PREFERENCE if stages[name] is not None), None
        )
        lost = None if expected is None or final is None else expected - final
        return cls(stages=stages, expected=expected, final=final, lost=lost)


@dataclass(frozen=True)
class Expected:
    verdict: Verdict
    path: PathName
    execution_status: ExecutionStatus
    counts: ExpectedCounts
    final_merge: ExpectedFinalMerge
    embeddings: ExpectedEmbeddings
    output_has_final_merge_result: bool
    embedding_stages: ExpectedEmbeddingStages
    # Finding codes an inspection must report at least. A healthy run must report no finding
    # of error severity.
    finding_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """One staged execution: its name, state machine, plan and expected results."""

    execution_name: str
    state_machine: str
    summary: str
    plan: IngestPlan
    expected: Expected
    # Input given to StartExecution.
    execution_input: str = "{}"
    # Snapshot version id; `SCENARIOS` assigns one per scenario from its position.
    snapshot_version: str | None = None
    # poll_results.json and the snapshot exist, but the sandbox denies reading them.
    s3_reads_denied: bool = False

    @property
    def workflow(self) -> Workflow:
        return get_workflow(self.state_machine)

    @property
    def writes_snapshot(self) -> bool:
        """True when the final merge succeeds, so a snapshot is written after the run."""
        return self.plan.path in ("hierarchical", "direct") and not self.plan.final_merge_fails

    @property
    def writes_poll_results(self) -> bool:
        """True when NormalizePollBatchesData runs, so poll_results.json is written."""
        return bool(self.plan.batches)

    def expected_top_level_states(self) -> list[str]:
        """Top-level states the execution enters, in order."""
        states = self.workflow.states
        entered = [states.list_pending, states.check_pending]
        path = self.plan.path
        if path == "no-pending-batches":
            return [*entered, states.no_batches_pending]
        entered += [
            states.normalize_pending,
            states.poll_map,
            states.normalize_poll_data,
            states.split_into_chunks,
            states.check_chunks,
        ]
        if path == "no-chunks":
            return [*entered, states.no_chunks]
        entered += [states.process_chunks_map, states.group_chunks, states.check_group_count]
        if path == "hierarchical":
            entered += [
                states.create_chunk_groups,
                states.merge_groups_map,
                states.prepare_hierarchical_final_merge,
            ]
        else:
            entered.append(states.prepare_final_merge)
        entered.append(states.final_merge)
        if self.plan.final_merge_fails:
            return entered
        return [*entered, states.prepare_mark_complete, states.mark_complete]

    def lambda_results(self) -> list[str]:
        """Return every Lambda return value of the execution, in invocation order."""
        return list(_lambda_results(self))

    def poll_results_s3_key(self) -> str:
        return f"poll_results/{self.execution_name}/poll_results.json"

    def snapshot_key(self) -> str:
        """Return the versioned snapshot prefix `<database>/snapshot/timestamped/<version>/`."""
        if self.snapshot_version is None:
            raise SandboxError(
                f"scenario {self.execution_name} has no snapshot version",
                hint="Use the scenarios from SCENARIOS, which assigns the versions.",
            )
        return f"{self.plan.database}/snapshot/timestamped/{self.snapshot_version}/"

    def snapshot_pointer_key(self) -> str:
        return f"{self.plan.database}/snapshot/latest-pointer.txt"

    def intermediate_chunk_key(self, chunk_index: int) -> str:
        return f"intermediate/{self.execution_name}/chunk-{chunk_index:04d}/"

    def intermediate_group_key(self, group_index: int) -> str:
        return f"intermediate/{self.execution_name}/group-{group_index:03d}/"

    def denied_reads(self) -> tuple[tuple[str, str], ...]:
        """Return the (bucket, key prefix) pairs whose objects the sandbox must not serve."""
        if not self.s3_reads_denied:
            return ()
        denied = [(VECTORS_BUCKET, f"poll_results/{self.execution_name}/")]
        if self.writes_snapshot:
            denied.append((VECTORS_BUCKET, self.snapshot_key()))
        return tuple(denied)


def snapshot_version(position: int) -> str:
    """Return the snapshot version id of the scenario at `position` in SCENARIOS."""
    moment = SNAPSHOT_VERSION_BASE + position * SNAPSHOT_VERSION_STEP
    return moment.strftime("%Y%m%d_%H%M%S")


# --- deterministic data -------------------------------------------------------------------------


def _digest(seed: str, *parts: object) -> bytes:
    text = ":".join([seed, *(str(part) for part in parts)])
    return hashlib.sha256(text.encode()).digest()


def _stable_int(seed: str, index: int, low: int, high: int) -> int:
    """Return an integer in [low, high] that depends only on (seed, index)."""
    value = int.from_bytes(_digest(seed, "count", index)[:8], "big")
    return low + value % (high - low + 1)


def _batch_id(seed: str, index: int) -> str:
    return str(uuid.UUID(bytes=_digest(seed, "batch", index)[:16], version=4))


def _openai_batch_id(seed: str, index: int) -> str:
    return "batch_" + _digest(seed, "openai", index).hex()[:32]


def _delta_id(seed: str, index: int) -> str:
    return str(uuid.UUID(bytes=_digest(seed, "delta", index)[:16], version=4))


def _spread(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder), so the parts sum to it."""
    if not weights:
        if total:
            raise SandboxError(f"cannot spread {total} embeddings over no batches")
        return []
    weight_sum = sum(weights)
    exact = [total * weight / weight_sum for weight in weights]
    parts = [math.floor(value) for value in exact]
    remainder = total - sum(parts)
    by_fraction = sorted(range(len(weights)), key=lambda i: (parts[i] - exact[i], i))
    for i in by_fraction[:remainder]:
        parts[i] += 1
    return parts


def build_plan(
    *,
    seed: str,
    batch_type: BatchType,
    batch_count: int,
    polled_embeddings: int,
    snapshot_embeddings: int | None = None,
    chunk_delta_limit: int | None = None,
    group_chunk_limit: int | None = None,
    failed_groups: Sequence[int] = (),
    final_merge_fails: bool = False,
    in_progress: bool = False,
    skipped_batches: Sequence[int] = (),
) -> IngestPlan:
    """Build a plan whose per-batch counts are seeded and sum exactly to the given totals.

    With `snapshot_embeddings`, the deltas that reach the snapshot (after the merge limits,
    failed groups and skipped batches) hold exactly that many embeddings and the other batches
    hold the rest. `in_progress` makes every batch still running at OpenAI, with no delta.
    `skipped_batches` are batch indices that the normalize Lambda leaves out of
    poll_results.json.
    """
    status: BatchStatus = "in_progress" if in_progress else "completed"
    skeleton = tuple(
        Batch(
            index=index,
            batch_id=_batch_id(seed, index),
            openai_batch_id=_openai_batch_id(seed, index),
            status=status,
            embedding_count=0,
            delta_id="" if in_progress else _delta_id(seed, index),
        )
        for index in range(batch_count)
    )
    if any(not 0 <= index < batch_count for index in skipped_batches):
        raise SandboxError(f"skipped batch indices {list(skipped_batches)} outside the batches")
    plan = IngestPlan(
        batch_type=batch_type,
        batches=skeleton,
        chunk_delta_limit=chunk_delta_limit,
        group_chunk_limit=group_chunk_limit,
        failed_groups=frozenset(failed_groups),
        final_merge_fails=final_merge_fails,
        skipped_batches=frozenset(skipped_batches),
    )
    if in_progress:
        if polled_embeddings:
            raise SandboxError("batches still in progress have no embeddings to poll")
        return plan

    weights = [_stable_int(seed, index, *_COUNT_WEIGHT_RANGE) for index in range(batch_count)]
    counts = [0] * batch_count
    if snapshot_embeddings is None:
        counts = _spread(polled_embeddings, weights)
    else:
        # Which deltas reach the snapshot depends only on the plan's shape, not on the counts.
        kept = {batch.index for batch in plan.snapshot_deltas()}
        dropped = [index for index in range(batch_count) if index not in kept]
        kept_sorted = sorted(kept)
        kept_counts = _spread(snapshot_embeddings, [weights[i] for i in kept_sorted])
        dropped_counts = _spread(
            polled_embeddings - snapshot_embeddings, [weights[i] for i in dropped]
        )
        for index, count in zip(kept_sorted, kept_counts, strict=True):
            counts[index] = count
        for index, count in zip(dropped, dropped_counts, strict=True):
            counts[index] = count
    batches = tuple(
        replace(batch, embedding_count=count) for batch, count in zip(skeleton, counts, strict=True)
    )
    return replace(plan, batches=batches)


# --- Lambda return values -----------------------------------------------------------------------


def _compact(payload: object) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _lambda_results(scenario: Scenario) -> Iterator[str]:
    plan = scenario.plan
    name = scenario.execution_name
    poll_key = scenario.poll_results_s3_key()

    yield _compact(
        {
            "total_batches": len(plan.batches),
            "batch_indices": [batch.index for batch in plan.batches],
            "pending_batches": [
                {"batch_id": batch.batch_id, "openai_batch_id": batch.openai_batch_id}
                for batch in plan.batches
            ],
        }
    )
    if not plan.batches:
        return

    for batch in plan.batches:
        yield _compact(_poll_payload(plan, batch))
    yield _compact(
        {
            "poll_results_s3_key": poll_key,
            "poll_results_s3_bucket": VECTORS_BUCKET,
            "batch_count": plan.poll_results_entries(),
        }
    )

    chunks = plan.chunks()
    yield _compact(
        {
            "batch_id": name,
            "total_chunks": len(chunks),
            "chunk_size": plan.chunk_size,
            "chunks": [
                {
                    "chunk_index": index,
                    "operation": "process_chunk",
                    "delta_start": index * plan.chunk_size,
                    "delta_count": len(chunk),
                }
                for index, chunk in enumerate(chunks)
            ],
        }
    )
    if not chunks:
        return

    for index in range(len(chunks)):
        yield _compact(
            {
                "statusCode": 200,
                "chunk_index": index,
                "intermediate_key": scenario.intermediate_chunk_key(index),
                "embeddings_count": plan.chunk_embeddings(index),
                "deltas_merged": len(plan.kept_deltas_of_chunk(index)),
            }
        )

    groups = plan.groups()
    if plan.hierarchical:
        yield _compact(
            {
                "total_groups": len(groups),
                "group_size": plan.group_size,
                "groups": [
                    {"group_index": index, "chunk_indices": list(chunk_indices)}
                    for index, chunk_indices in enumerate(groups)
                ],
            }
        )
        for index in range(len(groups)):
            yield _compact(_group_merge_payload(scenario, index))

    if plan.final_merge_fails:
        oversized = _oversized_final_merge_payload(scenario.execution_name, scenario.snapshot_key())
        for _ in range(FINAL_MERGE_MAX_ATTEMPTS):
            yield oversized
        return

    merged_inputs = len(groups) - len(plan.failed_groups) if plan.hierarchical else len(chunks)
    yield _compact(
        {
            "statusCode": 200,
            "snapshot_key": scenario.snapshot_key(),
            "total_embeddings": plan.snapshot_embeddings(),
            "inputs_merged": merged_inputs,
            "poll_results_s3_key": poll_key,
            "poll_results_s3_bucket": VECTORS_BUCKET,
        }
    )
    marked = plan.completed
    yield _compact(
        {"batches_marked": len(marked), "batch_ids": [batch.batch_id for batch in marked]}
    )


def _poll_payload(plan: IngestPlan, batch: Batch) -> dict[str, Any]:
    result_key: str | None = None
    if batch.status == "completed":
        result_key = plan.delta_key(batch)
        if batch.index in plan.skipped_batches:
            # A full URI where the normalize Lambda expects a key: it skips the batch.
            result_key = f"s3://{VECTORS_BUCKET}/{result_key}"
    return {
        "batch_id": batch.batch_id,
        "openai_batch_id": batch.openai_batch_id,
        "batch_status": batch.status,
        "result_s3_key": result_key,
        "embedding_count": batch.embedding_count,
    }


def _group_merge_payload(scenario: Scenario, group_index: int) -> dict[str, Any]:
    plan = scenario.plan
    if group_index in plan.failed_groups:
        return {
            "statusCode": 500,
            "error": (
                f"Failed to merge chunk group {group_index}: chromadb InternalError: "
                "error returned from database: (code: 11) database disk image is malformed"
            ),
            "group_index": group_index,
        }
    return {
        "statusCode": 200,
        "group_index": group_index,
        "intermediate_key": scenario.intermediate_group_key(group_index),
        "embeddings_count": plan.group_embeddings(group_index),
        "chunks_merged": len(plan.kept_chunks_of_group(group_index)),
    }


@cache
def _oversized_final_merge_payload(execution_name: str, snapshot_key: str) -> str:
    """Return a final merge result that lists every embedding id and so exceeds 6 MB.

    moto 5.2.5's simple Lambda backend replaces a response over 6,000,000 bytes with the
    FunctionError `Function.ResponseSizeTooLarge`, the only Lambda error that backend produces.
    The payload is also over AWS's limit of 6,291,556 bytes, so AWS would fail the same way.
    """
    head = {
        "statusCode": 200,
        "snapshot_key": snapshot_key,
        "merged_embedding_ids": [],
    }
    prefix = _compact(head)[: -len("[]}")]
    ids: list[str] = []
    size = len(prefix)
    image = 0
    while size <= LAMBDA_RESPONSE_LIMIT_BYTES + 1024:
        image_id = uuid.UUID(bytes=_digest(execution_name, "image", image)[:16], version=4)
        for word in range(1, 201):
            entry = f'"IMAGE#{image_id}#RECEIPT#00001#WORD#{word:05d}"'
            ids.append(entry)
            size += len(entry) + 1
        image += 1
    return prefix + "[" + ",".join(ids) + "]}"


# --- the scenarios ------------------------------------------------------------------------------


def _incident() -> Scenario:
    plan = build_plan(
        seed="incident-62bdeb9f",
        batch_type="word",
        batch_count=INCIDENT_BATCHES,
        polled_embeddings=INCIDENT_POLLED_EMBEDDINGS,
        snapshot_embeddings=INCIDENT_SNAPSHOT_EMBEDDINGS,
        chunk_delta_limit=INCIDENT_CHUNK_DELTA_LIMIT,
        group_chunk_limit=INCIDENT_GROUP_CHUNK_LIMIT,
    )
    return Scenario(
        execution_name=INCIDENT_EXECUTION_NAME,
        state_machine=WORDS_FAULTY,
        summary=(
            "The incident: 459 batches marked complete, 13,223 of 62,455 embeddings in the "
            "snapshot, final_merge_result dropped by PrepareMarkWordBatchesComplete."
        ),
        plan=plan,
        expected=Expected(
            verdict="degraded",
            path="hierarchical",
            execution_status="SUCCEEDED",
            counts=ExpectedCounts(
                batches_listed=459,
                batches_polled=459,
                chunks=INCIDENT_CHUNKS,
                groups=INCIDENT_GROUPS,
                groups_merged=2,
                group_merge_errors=0,
                batches_marked_complete=459,
            ),
            final_merge=ExpectedFinalMerge(
                outcome="succeeded",
                attempts=1,
                status_code=200,
                total_embeddings=INCIDENT_SNAPSHOT_EMBEDDINGS,
            ),
            embeddings=ExpectedEmbeddings(
                polled=INCIDENT_POLLED_EMBEDDINGS, in_snapshot=INCIDENT_SNAPSHOT_EMBEDDINGS
            ),
            output_has_final_merge_result=False,
            embedding_stages=ExpectedEmbeddingStages.from_stages(
                poll_results=INCIDENT_POLLED_EMBEDDINGS,
                chunks_processed=INCIDENT_CHUNK_STAGE_EMBEDDINGS,
                group_merges=INCIDENT_SNAPSHOT_EMBEDDINGS,
                final_merge=INCIDENT_SNAPSHOT_EMBEDDINGS,
                snapshot_metadata=INCIDENT_SNAPSHOT_EMBEDDINGS,
                snapshot_verified=INCIDENT_SNAPSHOT_EMBEDDINGS,
            ),
            finding_codes=("OUTPUT_DROPPED", "EMBEDDINGS_LOST", "LOG_DATA_LOSS"),
        ),
    )


def _healthy_hierarchical() -> Scenario:
    # 120 deltas -> 6 chunks (> 4) -> 1 group of 6 chunks.
    plan = build_plan(
        seed="healthy-hierarchical", batch_type="word", batch_count=120, polled_embeddings=16_320
    )
    return Scenario(
        execution_name="sandbox-healthy-hierarchical",
        state_machine=WORDS_FIXED,
        summary="A clean word run through the group merge path with the fixed Pass state.",
        plan=plan,
        expected=Expected(
            verdict="healthy",
            path="hierarchical",
            execution_status="SUCCEEDED",
            counts=ExpectedCounts(
                batches_listed=120,
                batches_polled=120,
                chunks=6,
                groups=1,
                groups_merged=1,
                group_merge_errors=0,
                batches_marked_complete=120,
            ),
            final_merge=ExpectedFinalMerge(
                outcome="succeeded", attempts=1, status_code=200, total_embeddings=16_320
            ),
            embeddings=ExpectedEmbeddings(polled=16_320, in_snapshot=16_320),
            output_has_final_merge_result=True,
            embedding_stages=_stages_without_loss(16_320, group_merges=16_320),
        ),
    )


def _healthy_direct() -> Scenario:
    # 60 deltas -> 3 chunks (<= 4) -> PrepareWordFinalMerge merges the chunks directly.
    plan = build_plan(
        seed="healthy-direct", batch_type="word", batch_count=60, polled_embeddings=8_190
    )
    return Scenario(
        execution_name="sandbox-healthy-direct",
        state_machine=WORDS_FIXED,
        summary="A clean word run with 3 chunks, merged directly without chunk groups.",
        plan=plan,
        expected=Expected(
            verdict="healthy",
            path="direct",
            execution_status="SUCCEEDED",
            counts=ExpectedCounts(
                batches_listed=60, batches_polled=60, chunks=3, batches_marked_complete=60
            ),
            final_merge=ExpectedFinalMerge(
                outcome="succeeded", attempts=1, status_code=200, total_embeddings=8_190
            ),
            embeddings=ExpectedEmbeddings(polled=8_190, in_snapshot=8_190),
            output_has_final_merge_result=True,
            embedding_stages=_stages_without_loss(8_190),
        ),
    )


def _no_pending_batches() -> Scenario:
    plan = build_plan(seed="no-pending", batch_type="word", batch_count=0, polled_embeddings=0)
    return Scenario(
        execution_name="sandbox-no-pending-batches",
        state_machine=WORDS_FIXED,
        summary="Nothing pending at OpenAI: the run ends in NoWordBatchesPending.",
        plan=plan,
        expected=Expected(
            verdict="healthy",
            path="no-pending-batches",
            execution_status="SUCCEEDED",
            counts=ExpectedCounts(batches_listed=0),
            final_merge=ExpectedFinalMerge(outcome="not-run", attempts=0),
            embeddings=ExpectedEmbeddings(polled=None, in_snapshot=None),
            output_has_final_merge_result=False,
            embedding_stages=ExpectedEmbeddingStages.from_stages(),
        ),
    )


def _no_chunks() -> Scenario:
    plan = build_plan(
        seed="no-chunks", batch_type="word", batch_count=3, polled_embeddings=0, in_progress=True
    )
    return Scenario(
        execution_name="sandbox-no-chunks",
        state_machine=WORDS_FIXED,
        summary="3 batches still running at OpenAI: no deltas, no chunks, NoWordChunksToProcess.",
        plan=plan,
        expected=Expected(
            verdict="healthy",
            path="no-chunks",
            execution_status="SUCCEEDED",
            counts=ExpectedCounts(batches_listed=3, batches_polled=3, chunks=0),
            final_merge=ExpectedFinalMerge(outcome="not-run", attempts=0),
            embeddings=ExpectedEmbeddings(polled=0, in_snapshot=None),
            output_has_final_merge_result=False,
            # poll_results.json lists the 3 batches with action "wait" and no embeddings.
            embedding_stages=ExpectedEmbeddingStages.from_stages(poll_results=0),
        ),
    )


def _group_merge_error() -> Scenario:
    # 420 deltas -> 21 chunks -> 2 groups (chunks 0-19 and chunk 20). Group 1 returns
    # statusCode 500, so its 20 batches (2,790 embeddings) never reach the snapshot, yet
    # MarkWordBatchesComplete marks all 420.
    plan = build_plan(
        seed="group-merge-error",
        batch_type="word",
        batch_count=420,
        polled_embeddings=57_120,
        snapshot_embeddings=54_330,
        failed_groups=(1,),
    )
    return Scenario(
        execution_name="sandbox-group-merge-error",
        state_machine=WORDS_FIXED,
        summary=(
            "One of 2 group merges returns statusCode 500 inside a succeeding Map; its "
            "embeddings are missing while every batch is marked complete."
        ),
        plan=plan,
        expected=Expected(
            verdict="degraded",
            path="hierarchical",
            execution_status="SUCCEEDED",
            counts=ExpectedCounts(
                batches_listed=420,
                batches_polled=420,
                chunks=21,
                groups=2,
                groups_merged=1,
                group_merge_errors=1,
                batches_marked_complete=420,
            ),
            final_merge=ExpectedFinalMerge(
                outcome="succeeded", attempts=1, status_code=200, total_embeddings=54_330
            ),
            embeddings=ExpectedEmbeddings(polled=57_120, in_snapshot=54_330),
            output_has_final_merge_result=True,
            embedding_stages=ExpectedEmbeddingStages.from_stages(
                poll_results=57_120,
                chunks_processed=57_120,
                group_merges=54_330,
                final_merge=54_330,
                snapshot_metadata=54_330,
                snapshot_verified=54_330,
            ),
            finding_codes=("GROUP_MERGE_ERROR_PAYLOAD", "EMBEDDINGS_LOST"),
        ),
    )


def _final_merge_failed() -> Scenario:
    # 45 deltas -> 3 chunks -> direct path; every WordFinalMerge attempt fails.
    plan = build_plan(
        seed="final-merge-failed",
        batch_type="word",
        batch_count=45,
        polled_embeddings=6_210,
        final_merge_fails=True,
    )
    return Scenario(
        execution_name="sandbox-final-merge-failed",
        state_machine=WORDS_FIXED,
        summary=(
            "WordFinalMerge fails with Function.ResponseSizeTooLarge on all 3 attempts and the "
            "execution fails; no batch is marked complete."
        ),
        plan=plan,
        expected=Expected(
            verdict="failed",
            path="direct",
            execution_status="FAILED",
            counts=ExpectedCounts(batches_listed=45, batches_polled=45, chunks=3),
            final_merge=ExpectedFinalMerge(
                outcome="failed",
                attempts=FINAL_MERGE_MAX_ATTEMPTS,
                error=FINAL_MERGE_FAILURE_ERROR,
            ),
            embeddings=ExpectedEmbeddings(polled=6_210, in_snapshot=None),
            output_has_final_merge_result=False,
            # No snapshot of this run exists. The words pointer names another run's snapshot,
            # whose batch_id metadata is that run's execution name.
            embedding_stages=ExpectedEmbeddingStages.from_stages(
                poll_results=6_210, chunks_processed=6_210
            ),
            finding_codes=("EXECUTION_FAILED",),
        ),
    )


def _lines_hierarchical() -> Scenario:
    # 100 deltas -> 5 chunks (> 4) -> 1 group.
    plan = build_plan(
        seed="lines-hierarchical", batch_type="line", batch_count=100, polled_embeddings=21_400
    )
    return Scenario(
        execution_name="sandbox-lines-hierarchical",
        state_machine=LINES_FIXED,
        summary="A clean run of the line workflow through the group merge path.",
        plan=plan,
        expected=Expected(
            verdict="healthy",
            path="hierarchical",
            execution_status="SUCCEEDED",
            counts=ExpectedCounts(
                batches_listed=100,
                batches_polled=100,
                chunks=5,
                groups=1,
                groups_merged=1,
                group_merge_errors=0,
                batches_marked_complete=100,
            ),
            final_merge=ExpectedFinalMerge(
                outcome="succeeded", attempts=1, status_code=200, total_embeddings=21_400
            ),
            embeddings=ExpectedEmbeddings(polled=21_400, in_snapshot=21_400),
            output_has_final_merge_result=True,
            embedding_stages=_stages_without_loss(21_400, group_merges=21_400),
        ),
    )


def _dropped_final_merge_result() -> Scenario:
    # 40 deltas -> 2 chunks -> direct path on the faulty definition, with no data lost.
    plan = build_plan(
        seed="dropped-final-merge-result",
        batch_type="word",
        batch_count=40,
        polled_embeddings=5_480,
    )
    return Scenario(
        execution_name="sandbox-dropped-final-merge-result",
        state_machine=WORDS_FAULTY,
        summary=(
            "The faulty Pass state drops final_merge_result, but every embedding reached the "
            "snapshot."
        ),
        plan=plan,
        expected=Expected(
            verdict="degraded",
            path="direct",
            execution_status="SUCCEEDED",
            counts=ExpectedCounts(
                batches_listed=40, batches_polled=40, chunks=2, batches_marked_complete=40
            ),
            final_merge=ExpectedFinalMerge(
                outcome="succeeded", attempts=1, status_code=200, total_embeddings=5_480
            ),
            embeddings=ExpectedEmbeddings(polled=5_480, in_snapshot=5_480),
            output_has_final_merge_result=False,
            embedding_stages=_stages_without_loss(5_480),
            finding_codes=("OUTPUT_DROPPED",),
        ),
    )


def _poll_results_incomplete() -> Scenario:
    # 50 completed batches. The poll results of batches 7, 23 and 41 name their deltas by s3://
    # URI, so NormalizePollWordBatchesData skips them. poll_results.json has 47 entries, the
    # split makes 3 chunks (20 + 20 + 7) on the direct path, and the snapshot contains 6,420
    # embeddings. MarkWordBatchesComplete still marks all 50 batches, so the 430 embeddings of
    # the skipped batches are never ingested.
    plan = build_plan(
        seed="poll-results-incomplete",
        batch_type="word",
        batch_count=50,
        polled_embeddings=6_850,
        snapshot_embeddings=6_420,
        skipped_batches=(7, 23, 41),
    )
    return Scenario(
        execution_name=POLL_RESULTS_INCOMPLETE_EXECUTION_NAME,
        state_machine=WORDS_FIXED,
        summary=(
            "The normalize Lambda skips 3 of 50 polled batches, so poll_results.json and the "
            "snapshot lack them while all 50 are marked complete."
        ),
        plan=plan,
        expected=Expected(
            verdict="degraded",
            path="direct",
            execution_status="SUCCEEDED",
            counts=ExpectedCounts(
                batches_listed=50, batches_polled=50, chunks=3, batches_marked_complete=50
            ),
            final_merge=ExpectedFinalMerge(
                outcome="succeeded", attempts=1, status_code=200, total_embeddings=6_420
            ),
            embeddings=ExpectedEmbeddings(polled=6_850, in_snapshot=6_420),
            output_has_final_merge_result=True,
            embedding_stages=_stages_without_loss(6_420),
            finding_codes=(
                "POLL_RESULTS_INCOMPLETE",
                "BATCHES_MARKED_NOT_PROCESSED",
                "LOG_DATA_LOSS",
            ),
        ),
    )


def _s3_read_denied() -> Scenario:
    # 30 deltas -> 2 chunks -> direct path. A healthy run, but the sandbox denies GetObject and
    # HeadObject on its poll_results.json and snapshot, so no loss can be shown or ruled out.
    plan = build_plan(
        seed="s3-read-denied", batch_type="word", batch_count=30, polled_embeddings=4_050
    )
    return Scenario(
        execution_name=S3_READ_DENIED_EXECUTION_NAME,
        state_machine=WORDS_FIXED,
        summary=(
            "A healthy run whose poll_results.json and snapshot exist but cannot be read "
            "(AccessDenied)."
        ),
        plan=plan,
        expected=Expected(
            verdict="inconclusive",
            path="direct",
            execution_status="SUCCEEDED",
            counts=ExpectedCounts(
                batches_listed=30, batches_polled=30, chunks=2, batches_marked_complete=30
            ),
            final_merge=ExpectedFinalMerge(
                outcome="succeeded", attempts=1, status_code=200, total_embeddings=4_050
            ),
            embeddings=ExpectedEmbeddings(polled=4_050, in_snapshot=4_050),
            output_has_final_merge_result=True,
            embedding_stages=ExpectedEmbeddingStages.from_stages(
                chunks_processed=4_050, final_merge=4_050
            ),
        ),
        s3_reads_denied=True,
    )


def _stages_without_loss(total: int, group_merges: int | None = None) -> ExpectedEmbeddingStages:
    """Return the stages of a run in which every readable stage counts `total` embeddings."""
    return ExpectedEmbeddingStages.from_stages(
        poll_results=total,
        chunks_processed=total,
        group_merges=group_merges,
        final_merge=total,
        snapshot_metadata=total,
        snapshot_verified=total,
    )


def _with_snapshot_versions(scenarios: Sequence[Scenario]) -> tuple[Scenario, ...]:
    return tuple(
        replace(scenario, snapshot_version=snapshot_version(position))
        for position, scenario in enumerate(scenarios)
    )


SCENARIOS: tuple[Scenario, ...] = _with_snapshot_versions(
    (
        _incident(),
        _healthy_hierarchical(),
        _healthy_direct(),
        _no_pending_batches(),
        _no_chunks(),
        _group_merge_error(),
        _final_merge_failed(),
        _lines_hierarchical(),
        _dropped_final_merge_result(),
        _poll_results_incomplete(),
        _s3_read_denied(),
    )
)

SCENARIOS_BY_NAME: dict[str, Scenario] = {
    scenario.execution_name: scenario for scenario in SCENARIOS
}


def get_scenario(execution_name: str) -> Scenario:
    try:
        return SCENARIOS_BY_NAME[execution_name]
    except KeyError:
        known = ", ".join(SCENARIOS_BY_NAME)
        raise SandboxError(
            f"unknown sandbox scenario {execution_name!r}; known scenarios: {known}"
        ) from None
