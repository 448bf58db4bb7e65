"""The word and line embedding-ingest state machines that the sandbox deploys.

The definitions live in `definitions/*.json` as templates: `${Region}` and `${AccountId}` in
Lambda ARNs are replaced at load time, in the style of CloudFormation's DefinitionSubstitutions.
`embedding-ingest-words-faulty` is the word workflow as it ran in the incident: its
`PrepareMarkWordBatchesComplete` Pass state builds a new state from `Parameters` without
`final_merge_result` and has no `ResultPath`, so the final merge result never reaches the
execution output. `embedding-ingest-words` and `embedding-ingest-lines` pass it through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from sfn_forensics.errors import SandboxError

BatchType = Literal["word", "line"]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"

WORDS_FIXED = "embedding-ingest-words"
WORDS_FAULTY = "embedding-ingest-words-faulty"
LINES_FIXED = "embedding-ingest-lines"

# The IAM role named in CreateStateMachine. moto does not check that it exists.
STATE_MACHINE_ROLE_NAME = "embedding-ingest-sfn-role"

# One Lambda function per Task role; the word and line workflows share them.
FUNCTION_LIST_PENDING = "embedding-list-pending-batches"
FUNCTION_POLL_BATCH = "embedding-poll-batch"
FUNCTION_NORMALIZE_POLL_RESULTS = "embedding-normalize-poll-results"
FUNCTION_SPLIT_INTO_CHUNKS = "embedding-split-into-chunks"
FUNCTION_PROCESS_CHUNK = "embedding-process-chunk"
FUNCTION_CREATE_CHUNK_GROUPS = "embedding-create-chunk-groups"
FUNCTION_MERGE_CHUNK_GROUP = "embedding-merge-chunk-group"
FUNCTION_FINAL_MERGE = "embedding-final-merge"
FUNCTION_MARK_BATCHES_COMPLETE = "embedding-mark-batches-complete"

LAMBDA_FUNCTIONS: tuple[str, ...] = (
    FUNCTION_LIST_PENDING,
    FUNCTION_POLL_BATCH,
    FUNCTION_NORMALIZE_POLL_RESULTS,
    FUNCTION_SPLIT_INTO_CHUNKS,
    FUNCTION_PROCESS_CHUNK,
    FUNCTION_CREATE_CHUNK_GROUPS,
    FUNCTION_MERGE_CHUNK_GROUP,
    FUNCTION_FINAL_MERGE,
    FUNCTION_MARK_BATCHES_COMPLETE,
)

# Values written into the definitions; scenarios.py builds its Lambda return values from them.
GROUP_SIZE = 20  # GroupChunksForMerge Parameters.group_size
HIERARCHICAL_CHUNK_THRESHOLD = 4  # CheckChunkGroupCount: total_chunks > 4 takes the group path
# WordFinalMerge/FinalMerge: one attempt plus the States.TaskFailed retrier's MaxAttempts (2).
FINAL_MERGE_MAX_ATTEMPTS = 3

_PLACEHOLDERS = ("${Region}", "${AccountId}")


@dataclass(frozen=True)
class StateNames:
    """State names of one workflow variant, by role."""

    list_pending: str
    check_pending: str
    no_batches_pending: str
    normalize_pending: str
    poll_map: str
    poll_task: str
    normalize_poll_data: str
    split_into_chunks: str
    check_chunks: str
    no_chunks: str
    process_chunks_map: str
    process_chunk_task: str
    group_chunks: str
    check_group_count: str
    create_chunk_groups: str
    merge_groups_map: str
    merge_group_task: str
    prepare_hierarchical_final_merge: str
    prepare_final_merge: str
    final_merge: str
    prepare_mark_complete: str
    mark_complete: str


WORD_STATES = StateNames(
    list_pending="ListPendingWordBatches",
    check_pending="CheckPendingWordBatches",
    no_batches_pending="NoWordBatchesPending",
    normalize_pending="NormalizePendingWordBatches",
    poll_map="PollWordBatches",
    poll_task="PollWordBatch",
    normalize_poll_data="NormalizePollWordBatchesData",
    split_into_chunks="SplitWordIntoChunks",
    check_chunks="CheckForWordChunks",
    no_chunks="NoWordChunksToProcess",
    process_chunks_map="ProcessWordChunksInParallel",
    process_chunk_task="ProcessWordChunk",
    group_chunks="GroupChunksForMerge",
    check_group_count="CheckChunkGroupCount",
    create_chunk_groups="CreateChunkGroups",
    merge_groups_map="MergeChunkGroupsInParallel",
    merge_group_task="MergeChunkGroup",
    prepare_hierarchical_final_merge="PrepareWordHierarchicalFinalMerge",
    prepare_final_merge="PrepareWordFinalMerge",
    final_merge="WordFinalMerge",
    prepare_mark_complete="PrepareMarkWordBatchesComplete",
    mark_complete="MarkWordBatchesComplete",
)

# The line variant drops "Word" from every state name.
LINE_STATES = StateNames(
    **{role: name.replace("Word", "") for role, name in vars(WORD_STATES).items()}
)


@dataclass(frozen=True)
class Workflow:
    """One state machine the sandbox deploys."""

    name: str
    batch_type: BatchType
    # True for the definition that ran in the incident (final_merge_result dropped).
    faulty: bool

    @property
    def states(self) -> StateNames:
        return WORD_STATES if self.batch_type == "word" else LINE_STATES

    @property
    def definition_file(self) -> str:
        return f"{self.name}.json"


WORKFLOWS: dict[str, Workflow] = {
    WORDS_FIXED: Workflow(name=WORDS_FIXED, batch_type="word", faulty=False),
    WORDS_FAULTY: Workflow(name=WORDS_FAULTY, batch_type="word", faulty=True),
    LINES_FIXED: Workflow(name=LINES_FIXED, batch_type="line", faulty=False),
}


def get_workflow(name: str) -> Workflow:
    """Return the workflow deployed under the state machine name `name`."""
    try:
        return WORKFLOWS[name]
    except KeyError:
        known = ", ".join(sorted(WORKFLOWS))
        raise SandboxError(f"unknown sandbox workflow {name!r}; known workflows: {known}") from None


def definition_template(name: str) -> str:
    """Return the definition file text with its `${Region}`/`${AccountId}` placeholders."""
    workflow = get_workflow(name)
    package = resources.files("sfn_forensics.sandbox") / "definitions"
    return (package / workflow.definition_file).read_text(encoding="utf-8")


def render_definition(
    name: str, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID
) -> str:
    """Return the definition as JSON text for CreateStateMachine, ARNs filled in."""
    text = definition_template(name)
    text = text.replace("${Region}", region).replace("${AccountId}", account_id)
    if "${" in text:
        raise SandboxError(f"definition {name} has a placeholder other than {_PLACEHOLDERS}")
    return text


def load_definition(
    name: str, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID
) -> dict[str, Any]:
    """Return the definition as a parsed JSON object, ARNs filled in."""
    definition: dict[str, Any] = json.loads(render_definition(name, region, account_id))
    return definition


def function_arn(function_name: str, region: str, account_id: str) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"


def state_machine_role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{STATE_MACHINE_ROLE_NAME}"
