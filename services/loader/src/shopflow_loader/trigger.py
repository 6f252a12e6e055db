"""Arrivals -> executions: the loader's trigger loop.

EventBridge delivers every upload under the landing prefix to the arrivals queue, at least
once. The trigger collects arrivals that come close together into one batch and starts
one execution per batch, named by the batch id. Claims in the ledger make this
idempotent: a re-delivered arrival, or a second upload of identical content, is recognised
and starts nothing while the batch that holds it is running or has succeeded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from shopflow_contracts.events import S3ObjectCreatedEvent
from shopflow_contracts.messages import BatchExecutionInput, LandedObject, WaitSeconds
from shopflow_runtime.faults import fault_point
from shopflow_runtime.worker import QueueMessage, TaskQueue

from shopflow_loader.domain.batching import (
    ExecutionState,
    batch_id_for,
    claim_is_live,
    in_arrival_order,
)
from shopflow_loader.ports import Executions, Ledger, LedgerEntry

log = logging.getLogger("shopflow.loader.trigger")

# How soon an arrival that is not an upload event is received again (then dead-lettered).
REJECTED_REDELIVERY_SECONDS = 5
# How soon arrivals whose claims another trigger holds are decided again: by then that
# trigger has started its run (and they are recognised as held) or its claims are stale.
CONTENDED_REDELIVERY_SECONDS = 5


def arrival_key(landed: LandedObject) -> str:
    return f"ARRIVAL#{landed.arrival_id}"


def object_key(landed: LandedObject) -> str:
    return f"OBJECT#{landed.bucket}/{landed.key}"


def content_key(landed: LandedObject) -> str:
    # ETag + size identifies identical uploads without reading them; the LoadData stage
    # confirms with a SHA-256 of the content.
    return f"CONTENT#{landed.etag}#{landed.size}"


@dataclass(frozen=True)
class TriggerConfig:
    landing_prefix: str
    batch_window_seconds: float
    max_batch_objects: int
    poll_wait_seconds: int
    waits: WaitSeconds
    # A claim whose run does not exist yet belongs to a trigger between claiming and
    # starting it (one StartExecution call): it stands for this long, then counts as the
    # claim of a trigger that died there.
    unstarted_claim_seconds: float = 60.0


@dataclass
class TriggerOutcome:
    started: list[str] = field(default_factory=list)
    duplicates: list[LandedObject] = field(default_factory=list)
    ignored: int = 0


@dataclass
class ArrivalTrigger:
    queue: TaskQueue
    ledger: Ledger
    executions: Executions
    config: TriggerConfig
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def run_once(self) -> TriggerOutcome:
        """Wait for arrivals; when some come, gather the batch window and start its run."""
        messages = self._gather()
        outcome = TriggerOutcome()
        if not messages:
            return outcome
        arrivals: list[tuple[QueueMessage, LandedObject]] = []
        for message in messages:
            landed = self._parse(message)
            if landed is None:
                continue
            if not landed.key.startswith(self.config.landing_prefix) or landed.key.endswith("/"):
                outcome.ignored += 1
                self.queue.delete(message.receipt_handle)
                continue
            arrivals.append((message, landed))

        fresh: list[tuple[QueueMessage, LandedObject]] = []
        for message, landed in arrivals:
            if self._already_held(landed, outcome):
                self.queue.delete(message.receipt_handle)
            else:
                fresh.append((message, landed))
        if not fresh:
            return outcome

        objects = in_arrival_order(_unique_events(fresh))
        batch_id = batch_id_for(objects)
        fault_point("trigger.before_claim", run_id=batch_id)
        if not self._claim_all(batch_id, objects):
            # Another trigger holds one of these claims: decide the messages again shortly,
            # once that trigger's run has started (they are then held) or its claim is stale.
            log.warning("claims contended; batch %s postponed", batch_id)
            for message, _ in fresh:
                self.queue.change_visibility(message.receipt_handle, CONTENDED_REDELIVERY_SECONDS)
            return outcome
        fault_point("trigger.after_claim", run_id=batch_id)
        execution_input = BatchExecutionInput(
            batch_id=batch_id, objects=objects, waits=self.config.waits
        )
        started = self.executions.start(batch_id, execution_input.model_dump_json())
        log.info(
            "batch %s %s with %d object(s)",
            batch_id,
            "started" if started else "already running",
            len(objects),
            extra={"batch_id": batch_id, "keys": [o.key for o in objects]},
        )
        outcome.started.append(batch_id)
        fault_point("trigger.after_start", run_id=batch_id)
        for message, _ in fresh:
            self.queue.delete(message.receipt_handle)
        return outcome

    def _gather(self) -> list[QueueMessage]:
        messages = self.queue.receive(10, self.config.poll_wait_seconds)
        if not messages:
            return []
        window_ends = self.clock() + self.config.batch_window_seconds
        while len(messages) < self.config.max_batch_objects:
            remaining = window_ends - self.clock()
            if remaining <= 0:
                break
            more = self.queue.receive(
                min(10, self.config.max_batch_objects - len(messages)),
                max(0, min(20, int(remaining))),
            )
            if more:
                messages.extend(more)
            elif remaining < 1:
                break
        return messages

    def _parse(self, message: QueueMessage) -> LandedObject | None:
        try:
            return S3ObjectCreatedEvent.model_validate_json(message.body).landed_object()
        except ValidationError as invalid:
            # Left on the queue, visible again at once: after the redrive limit's few receives
            # (seconds, not as many visibility timeouts) it lands in the arrivals DLQ.
            log.error(
                "arrival is not an S3 Object Created event: %s",
                invalid.errors(include_url=False)[:3],
                extra={"message_id": message.message_id, "receive_count": message.receive_count},
            )
            self.queue.change_visibility(message.receipt_handle, REJECTED_REDELIVERY_SECONDS)
            return None

    def _already_held(self, landed: LandedObject, outcome: TriggerOutcome) -> bool:
        held = self.ledger.get(arrival_key(landed))
        if held is not None and self._live(held.batch_id):
            log.info("arrival of %s re-delivered; batch %s holds it", landed.key, held.batch_id)
            return True
        content = self.ledger.get(content_key(landed))
        if (
            content is not None
            and self._live(content.batch_id)
            and not self._changes_its_key(landed)
        ):
            log.info(
                "%s is identical to an upload already in batch %s; no new run",
                landed.key,
                content.batch_id,
            )
            self.ledger.record(
                arrival_key(landed),
                content.batch_id,
                {"key": landed.key, "outcome": "duplicate_content", "etag": landed.etag},
            )
            outcome.duplicates.append(landed)
            return True
        return False

    def _changes_its_key(self, landed: LandedObject) -> bool:
        """True when the key's last upload held other content: the same bytes as some earlier
        upload are then a correction (back), and the later upload must win."""
        last = self.ledger.get(object_key(landed))
        return last is not None and last.attributes.get("etag") != landed.etag

    def _claim_all(self, batch_id: str, objects: list[LandedObject]) -> bool:
        """Claim every arrival and content of the batch, or none of them.

        A claim of another batch is taken over only when that batch can no longer deliver
        the file (its run failed, or never started and its trigger is gone), and only as it
        was read (a conditional write): two triggers that saw the same arrivals never both
        hold them. On contention the claims taken so far are given back.
        """
        claimed_at = self.wall_clock().isoformat()
        taken: list[str] = []
        for landed in objects:
            attributes = {
                "key": landed.key,
                "etag": landed.etag,
                "size": str(landed.size),
                "claimed_at": claimed_at,
            }
            # Earlier content uploaded again after a correction is a change: its content
            # claim passes to this batch even from a run that delivered it (the later wins).
            # The arrival's own claim, taken first, keeps a second trigger out.
            correction_back = self._changes_its_key(landed)
            for key in (arrival_key(landed), content_key(landed)):
                current = self.ledger.get(key)
                stale = None
                if current is not None and current.batch_id != batch_id:
                    passes = correction_back and key == content_key(landed)
                    if not passes and not self._abandoned(current):
                        self._give_back(taken, batch_id)
                        return False
                    stale = current.batch_id
                claimed = self.ledger.claim(
                    key, batch_id, {**attributes, "outcome": "claimed"}, replacing=stale
                )
                if not claimed:
                    self._give_back(taken, batch_id)
                    return False
                if current is None or current.batch_id != batch_id:
                    taken.append(key)
        for landed in objects:
            # What each key holds now, so that a later upload of older bytes is seen as a change.
            self.ledger.record(
                object_key(landed), batch_id, {"key": landed.key, "etag": landed.etag}
            )
        return True

    def _abandoned(self, claim: LedgerEntry) -> bool:
        """True when the batch holding ``claim`` will never deliver its file."""
        state = self.executions.state(claim.batch_id)
        if claim_is_live(state):
            return False
        if state is not ExecutionState.MISSING:
            return True
        claimed_at = claim.attributes.get("claimed_at")
        if claimed_at is None:
            return True
        age = self.wall_clock() - datetime.fromisoformat(claimed_at)
        return age > timedelta(seconds=self.config.unstarted_claim_seconds)

    def _give_back(self, keys: list[str], batch_id: str) -> None:
        for key in keys:
            self.ledger.release(key, batch_id)

    def _live(self, batch_id: str) -> bool:
        return claim_is_live(self.executions.state(batch_id))


def _unique_events(
    arrivals: list[tuple[QueueMessage, LandedObject]],
) -> list[LandedObject]:
    seen: dict[str, LandedObject] = {}
    for _, landed in arrivals:
        seen.setdefault(landed.arrival_id, landed)
    return list(seen.values())
