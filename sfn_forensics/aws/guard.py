"""The read-only guard: a botocore hook that rejects every operation outside an allow-list."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sfn_forensics.errors import ReadOnlyViolationError

if TYPE_CHECKING:
    from botocore.client import BaseClient

log = logging.getLogger(__name__)

# Operations whose names start with these prefixes only read, except those in
# SIDE_EFFECT_READ_OPERATIONS.
READ_ONLY_PREFIXES: tuple[str, ...] = ("Describe", "Get", "List")

# Reads that do not follow the prefix convention. StartQuery (Logs Insights) is left out on
# purpose: it creates a query that runs and is billed in the account.
READ_ONLY_OPERATIONS: frozenset[str] = frozenset(
    {
        "FilterLogEvents",
        "HeadBucket",
        "HeadObject",
    }
)

# Operations named Get* that change state or hand out credentials.
# GetActivityTask claims a task token from an activity, so a worker would never receive it.
SIDE_EFFECT_READ_OPERATIONS: frozenset[str] = frozenset(
    {
        "GetActivityTask",
        "GetCredentialsForIdentity",
        "GetFederationToken",
        "GetId",
        "GetOpenIdToken",
        "GetSessionToken",
    }
)

# The hook runs before botocore validates or serialises the parameters, so a rejected call
# never reaches the network.
GUARD_EVENT = "before-parameter-build.*.*"


def is_read_only_operation(operation_name: str) -> bool:
    """Return True when the operation is on the read-only allow-list."""
    if operation_name in SIDE_EFFECT_READ_OPERATIONS:
        return False
    if operation_name in READ_ONLY_OPERATIONS:
        return True
    return operation_name.startswith(READ_ONLY_PREFIXES)


def reject_write_operation(model: Any, **_: Any) -> None:
    """Raise ReadOnlyViolationError unless the operation in `model` is on the allow-list."""
    operation_name: str = model.name
    if is_read_only_operation(operation_name):
        return
    service_name: str = model.service_model.service_name
    log.error(
        "rejected %s:%s before sending it: not a read-only operation", service_name, operation_name
    )
    raise ReadOnlyViolationError(
        f"{service_name}:{operation_name} is not a read-only operation, so it was not sent",
        hint="sfn-forensics only reads from AWS. Please report this as a bug.",
    )


def install_read_only_guard(client: BaseClient) -> None:
    """Register the guard first on the client's event system (idempotent)."""
    client.meta.events.register_first(
        GUARD_EVENT, reject_write_operation, unique_id="sfn-forensics-read-only-guard"
    )
