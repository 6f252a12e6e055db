"""The arrivals trigger: batching, deterministic names, and never a second run for the same file."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from loader_fakes import (
    ITEMS_CSV,
    ORDERS_CSV,
    T0,
    FakeExecutions,
    FakeLedger,
    FakeQueue,
    landed,
    s3_event,
)
from shopflow_contracts.messages import BatchExecutionInput, WaitSeconds
from shopflow_loader.domain.batching import ExecutionState, batch_id_for
from shopflow_loader.ports import Ledger, LedgerEntry
from shopflow_loader.trigger import ArrivalTrigger, TriggerConfig


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()


# A trigger that never waits: no batch window, no queue poll, no state-machine waits.
NO_WAITS = TriggerConfig(
    landing_prefix="landing/",
    batch_window_seconds=0,
    max_batch_objects=50,
    poll_wait_seconds=0,
    waits=WaitSeconds(check_data_loaded=0, wait_for_eventbridge=0),
)


@pytest.fixture
def executions() -> FakeExecutions:
    return FakeExecutions()


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger()


@pytest.fixture
def trigger(queue: FakeQueue, ledger: FakeLedger, executions: FakeExecutions) -> ArrivalTrigger:
    return ArrivalTrigger(
        queue=queue,
        ledger=ledger,
        executions=executions,
        config=NO_WAITS,
    )


def test_arrivals_in_one_window_start_one_execution_named_by_the_batch(
    trigger: ArrivalTrigger, queue: FakeQueue, executions: FakeExecutions
) -> None:
    # Given two uploads waiting on the arrivals queue
    orders = landed("landing/a.csv", ORDERS_CSV, event_id="e1", seconds=1)
    items = landed("landing/b.csv", ITEMS_CSV, event_id="e2", seconds=2)
    queue.send(s3_event(items))
    queue.send(s3_event(orders))
    # When the trigger runs
    outcome = trigger.run_once()
    # Then one execution starts, named deterministically, with both objects in upload order
    assert outcome.started == [batch_id_for([orders, items])]
    execution_input = BatchExecutionInput.model_validate_json(executions.inputs[outcome.started[0]])
    assert [o.key for o in execution_input.objects] == ["landing/a.csv", "landing/b.csv"]
    assert len(queue.deleted) == 2


def test_batch_id_is_independent_of_arrival_order_and_a_valid_execution_name() -> None:
    first = landed("landing/a.csv", ORDERS_CSV, event_id="e1", seconds=1)
    second = landed("landing/b.csv", ITEMS_CSV, event_id="e2", seconds=2)
    batch_id = batch_id_for([first, second])
    assert batch_id == batch_id_for([second, first])
    assert batch_id != batch_id_for([first])
    BatchExecutionInput(
        batch_id=batch_id,
        objects=[first],
        waits=WaitSeconds(check_data_loaded=0, wait_for_eventbridge=0),
    )


def test_a_redelivered_arrival_starts_no_second_run(
    trigger: ArrivalTrigger, queue: FakeQueue, executions: FakeExecutions
) -> None:
    # Given an arrival that already started a run
    orders = landed("landing/a.csv", ORDERS_CSV, event_id="e1")
    queue.send(s3_event(orders))
    first = trigger.run_once()
    # When SQS delivers the same event again
    queue.send(s3_event(orders))
    second = trigger.run_once()
    # Then nothing new starts and the message is deleted
    assert len(first.started) == 1
    assert second.started == []
    assert len(executions.states) == 1
    assert len(queue.deleted) == 2


def test_an_identical_reupload_starts_no_second_run_while_the_first_holds_it(
    trigger: ArrivalTrigger, queue: FakeQueue, executions: FakeExecutions, ledger: FakeLedger
) -> None:
    # Given a file whose run succeeded
    queue.send(s3_event(landed("landing/a.csv", ORDERS_CSV, event_id="e1")))
    (batch_id,) = trigger.run_once().started
    executions.states[batch_id] = ExecutionState.SUCCEEDED
    # When the same bytes are uploaded again, even under another name
    again = landed("landing/a-copy.csv", ORDERS_CSV, event_id="e9", seconds=60)
    queue.send(s3_event(again))
    outcome = trigger.run_once()
    # Then no run starts, and the ledger shows what the upload was a duplicate of
    assert outcome.started == []
    assert outcome.duplicates == [again]
    record = ledger.entries[f"ARRIVAL#{again.arrival_id}"]
    assert record.attributes["outcome"] == "duplicate_content"
    assert record.batch_id == batch_id


def test_a_file_whose_run_failed_can_be_uploaded_again(
    trigger: ArrivalTrigger, queue: FakeQueue, executions: FakeExecutions
) -> None:
    # Given a file whose run failed
    queue.send(s3_event(landed("landing/a.csv", ORDERS_CSV, event_id="e1")))
    (failed_batch,) = trigger.run_once().started
    executions.states[failed_batch] = ExecutionState.FAILED
    # When it is uploaded again
    queue.send(s3_event(landed("landing/a.csv", ORDERS_CSV, event_id="e2", seconds=30)))
    outcome = trigger.run_once()
    # Then a new run takes over the stale claim
    assert len(outcome.started) == 1
    assert outcome.started[0] != failed_batch


def test_uploads_outside_the_landing_prefix_are_ignored(
    trigger: ArrivalTrigger, queue: FakeQueue, executions: FakeExecutions
) -> None:
    queue.send(s3_event(landed("raw/batch=x/orders/a.csv", ORDERS_CSV, event_id="e1")))
    outcome = trigger.run_once()
    assert outcome.started == [] and outcome.ignored == 1
    assert executions.states == {}


def test_a_message_that_is_not_an_s3_event_is_left_for_the_dead_letter_queue(
    trigger: ArrivalTrigger, queue: FakeQueue, executions: FakeExecutions
) -> None:
    queue.send(json.dumps({"hello": "world"}))
    outcome = trigger.run_once()
    assert outcome.started == []
    assert queue.deleted == []
    assert executions.states == {}


def test_distinct_uploads_sharing_an_event_id_are_still_distinct_arrivals(
    trigger: ArrivalTrigger, queue: FakeQueue, executions: FakeExecutions
) -> None:
    # Given two different files whose events carry the same id (moto gives every S3 event
    # one constant id)
    orders = landed("landing/a.csv", ORDERS_CSV, event_id="same", seconds=1)
    items = landed("landing/b.csv", ITEMS_CSV, event_id="same", seconds=1)
    queue.send(s3_event(orders))
    queue.send(s3_event(items))
    # When the trigger runs
    (batch_id,) = trigger.run_once().started
    # Then both are in the batch
    execution_input = BatchExecutionInput.model_validate_json(executions.inputs[batch_id])
    assert sorted(o.key for o in execution_input.objects) == ["landing/a.csv", "landing/b.csv"]


def test_uploading_earlier_content_again_after_a_correction_starts_a_run(
    trigger: ArrivalTrigger, queue: FakeQueue, executions: FakeExecutions
) -> None:
    # Given orders.csv uploaded as V1, then corrected as V2, both runs succeeded
    version_1 = ORDERS_CSV
    version_2 = ORDERS_CSV.replace(b"Complete", b"Cancelled")
    for seconds, body in ((0, version_1), (60, version_2)):
        queue.send(
            s3_event(landed("landing/orders.csv", body, event_id=f"e{seconds}", seconds=seconds))
        )
        (started,) = trigger.run_once().started
        executions.states[started] = ExecutionState.SUCCEEDED
    # When V1 is uploaded again under the same name: a correction back
    queue.send(s3_event(landed("landing/orders.csv", version_1, event_id="e120", seconds=120)))
    outcome = trigger.run_once()
    # Then it runs, so that the later upload wins
    assert len(outcome.started) == 1 and outcome.duplicates == []
    # While the same bytes again, unchanged since, are still a duplicate
    queue.send(s3_event(landed("landing/orders.csv", version_1, event_id="e180", seconds=180)))
    executions.states[outcome.started[0]] = ExecutionState.SUCCEEDED
    assert trigger.run_once().started == []


def test_an_arrival_that_is_no_upload_event_is_left_for_the_dlq_and_visible_again_soon(
    trigger: ArrivalTrigger, queue: FakeQueue, executions: FakeExecutions
) -> None:
    # Given a message on the arrivals queue that is not an S3 Object Created event
    queue.send(json.dumps({"detail-type": "Something Else", "source": "aws.s3"}))
    # When the trigger runs
    outcome = trigger.run_once()
    # Then nothing starts, the message is not deleted but made visible again within seconds
    # (the redrive policy dead-letters it after its few receives, not after 5 x 300 s)
    assert outcome.started == [] and executions.states == {}
    assert queue.deleted == []
    assert [seconds for _, seconds in queue.visibility_changes] == [5]


def second_trigger(
    ledger: Ledger, executions: FakeExecutions, clock: list[datetime]
) -> tuple[ArrivalTrigger, FakeQueue]:
    queue = FakeQueue()
    return (
        ArrivalTrigger(
            queue=queue,
            ledger=ledger,
            executions=executions,
            config=replace(NO_WAITS, unstarted_claim_seconds=60),
            wall_clock=lambda: clock[0],
        ),
        queue,
    )


@dataclass
class ClaimsAfter:
    """The shared ledger, seen by a trigger that another one overtakes between its checks
    and its first claim (the interleaving issue 14 found)."""

    ledger: FakeLedger
    overtake: Callable[[], object]
    overtaken: bool = False

    def get(self, key: str) -> LedgerEntry | None:
        return self.ledger.get(key)

    def claim(
        self, key: str, batch_id: str, attributes: dict[str, str], *, replacing: str | None
    ) -> bool:
        if not self.overtaken:
            self.overtaken = True
            self.overtake()
        return self.ledger.claim(key, batch_id, attributes, replacing=replacing)

    def release(self, key: str, batch_id: str) -> None:
        self.ledger.release(key, batch_id)

    def record(self, key: str, batch_id: str, attributes: dict[str, str]) -> None:
        self.ledger.record(key, batch_id, attributes)


def test_a_trigger_overtaken_between_checking_and_claiming_takes_over_no_live_claim(
    ledger: FakeLedger, executions: FakeExecutions
) -> None:
    # Given two triggers that both received the arrival of orders.csv (delivered twice);
    # B also has items.csv, so the two form different batches
    clock = [T0]
    orders = landed("landing/a.csv", ORDERS_CSV, event_id="e1", seconds=1)
    items = landed("landing/b.csv", ITEMS_CSV, event_id="e2", seconds=2)
    trigger_a, queue_a = second_trigger(ledger, executions, clock)
    queue_a.send(s3_event(orders))
    overtaking = ClaimsAfter(ledger, trigger_a.run_once)
    trigger_b, queue_b = second_trigger(overtaking, executions, clock)
    queue_b.send(s3_event(orders))
    queue_b.send(s3_event(items))

    # When B has checked its arrivals, A claims orders.csv and starts its run, then B claims
    outcome_b = trigger_b.run_once()

    # Then only A's run holds orders.csv: B started nothing, took no claim of A's, gave back
    # its own, and will decide both arrivals again shortly
    assert list(executions.states) == [batch_id_for([orders])]
    assert outcome_b.started == []
    held = {
        entry.batch_id
        for entry in ledger.entries.values()
        if entry.key.startswith(("ARRIVAL#", "CONTENT#"))
    }
    assert held == {batch_id_for([orders])}
    assert queue_b.deleted == []
    assert [seconds for _, seconds in queue_b.visibility_changes] == [5, 5]


def test_an_unstarted_claim_stands_a_while_then_counts_as_abandoned(
    ledger: FakeLedger, executions: FakeExecutions
) -> None:
    # Given a trigger that claimed orders.csv and died before starting its run
    clock = [T0]
    orders = landed("landing/a.csv", ORDERS_CSV, event_id="e1", seconds=1)
    items = landed("landing/b.csv", ITEMS_CSV, event_id="e2", seconds=2)
    dead_batch = batch_id_for([orders])
    ledger.claim(
        f"ARRIVAL#{orders.arrival_id}",
        dead_batch,
        {"key": orders.key, "claimed_at": T0.isoformat()},
        replacing=None,
    )
    trigger, queue = second_trigger(ledger, executions, clock)

    # When another trigger gets the arrival with another one, at once and after the grace
    queue.send(s3_event(orders))
    queue.send(s3_event(items))
    at_once = trigger.run_once()
    clock[0] = T0 + timedelta(seconds=61)
    queue.send(s3_event(orders))
    queue.send(s3_event(items))
    later = trigger.run_once()

    # Then at once the claim stands (its trigger may still start the run); after the grace
    # it is taken over and one run holds both files
    assert at_once.started == []
    assert later.started == [batch_id_for([orders, items])]
    assert ledger.entries[f"ARRIVAL#{orders.arrival_id}"].batch_id == later.started[0]


def test_the_same_bytes_uploaded_twice_to_a_key_within_a_second_are_two_arrivals() -> None:
    # Given two uploads of the same bytes to one key whose events agree in everything the
    # emulator varies (id, time, sequencer) but the version each upload created
    first = landed("landing/a.csv", ORDERS_CSV, event_id="same", seconds=1)
    second = first.model_copy(update={"version_id": "v2"})
    first = first.model_copy(update={"version_id": "v1"})
    # Then they are two arrivals (the second is not taken for a redelivery of the first),
    # while a redelivery of either is the same arrival
    assert first.arrival_id != second.arrival_id
    assert first.model_copy().arrival_id == first.arrival_id
