"""How arrivals become batches, and how a batch gets its (execution) name."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from enum import StrEnum

from shopflow_contracts.messages import LandedObject

# Step Functions execution names allow at most 80 characters of [A-Za-z0-9_-].
_DIGEST_CHARS = 20


def batch_id_for(objects: Iterable[LandedObject]) -> str:
    """A name that only depends on *which* arrivals form the batch.

    The same set of arrivals always yields the same id, so a batch rebuilt after a crash
    or from re-delivered messages maps onto the execution that already exists.
    """
    arrivals = sorted(objects, key=lambda landed: landed.arrival_id)
    if not arrivals:
        raise ValueError("a batch needs at least one arrival")
    digest = hashlib.sha256("\n".join(a.arrival_id for a in arrivals).encode()).hexdigest()
    first = min(a.event_time for a in arrivals)
    return f"b{first:%Y%m%dT%H%M%S}-{digest[:_DIGEST_CHARS]}"


def ingest_seq(landed: LandedObject) -> str:
    """A sortable position of an upload among all uploads.

    Event time first (microseconds, UTC), then S3's sequencer, then the key, so that a
    later upload of a row with the same primary key replaces the earlier one.
    """
    from datetime import UTC

    stamp = landed.event_time.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}/{landed.sequencer.rjust(32, '0')}/{landed.key}"


def in_arrival_order(objects: Iterable[LandedObject]) -> list[LandedObject]:
    return sorted(objects, key=ingest_seq)


class ExecutionState(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"
    MISSING = "MISSING"


# A claim held by a batch in one of these states still stands: the batch has delivered, or
# will deliver, the file's rows. Claims of batches that failed or never started are stale
# and may be taken over, so a file whose run failed can be uploaded again.
LIVE_STATES = frozenset({ExecutionState.RUNNING, ExecutionState.SUCCEEDED})


def claim_is_live(state: ExecutionState) -> bool:
    return state in LIVE_STATES
