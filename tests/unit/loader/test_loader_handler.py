"""LoadData: every file recognised and recorded, duplicates skipped and said, nothing lost."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import pytest
from loader_fakes import (
    ITEMS_CSV,
    ORDERS_CSV,
    FakeExecutions,
    FakeLedger,
    FakeObjectStore,
    landed,
)
from shopflow_contracts.messages import LandedObject, LoadCommand, LoadRequest, TaskErrorName
from shopflow_contracts.rows import FileKind
from shopflow_loader.domain.batching import ExecutionState
from shopflow_loader.handler import LoadHandler
from shopflow_runtime.worker import TaskError


@pytest.fixture
def store() -> FakeObjectStore:
    return FakeObjectStore()


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger()


@pytest.fixture
def executions() -> FakeExecutions:
    return FakeExecutions()


@pytest.fixture
def handler(store: FakeObjectStore, ledger: FakeLedger, executions: FakeExecutions) -> LoadHandler:
    return LoadHandler(store=store, ledger=ledger, executions=executions, data_bucket="data")


def upload(
    store: FakeObjectStore, key: str, body: bytes, event_id: str, seconds: int = 0
) -> LandedObject:
    obj = landed(key, body, event_id=event_id, seconds=seconds)
    store.put(obj.bucket, obj.key, body)
    return obj


def command(batch_id: str, *objects: LandedObject) -> LoadCommand:
    return LoadCommand(
        message_id=uuid.uuid4(),
        run_id=batch_id,
        occurred_at=datetime.now(UTC),
        task_token="token",
        payload=LoadRequest(batch_id=batch_id, objects=list(objects)),
    )


def test_files_are_recognised_recorded_and_staged_under_their_batch(
    handler: LoadHandler, store: FakeObjectStore, ledger: FakeLedger
) -> None:
    # Given an items file uploaded before its orders file, both with meaningless names
    items = upload(store, "landing/x1.csv", ITEMS_CSV, "e1", seconds=1)
    orders = upload(store, "landing/x2.csv", ORDERS_CSV, "e2", seconds=2)
    # When the batch is loaded
    result = handler.handle(command("b1", orders, items))
    # Then each is staged by kind, in upload order, byte for byte, and in the file ledger
    staged = result.payload.staged
    assert [(f.kind, f.key) for f in staged] == [
        (FileKind.ORDER_ITEMS, "raw/batch=b1/order_items/0000-x1.csv"),
        (FileKind.ORDERS, "raw/batch=b1/orders/0001-x2.csv"),
    ]
    assert store.objects[("data", staged[1].key)] == ORDERS_CSV
    assert staged[0].ingest_seq < staged[1].ingest_seq
    entry = ledger.entries[f"FILE#{staged[1].sha256}"]
    assert entry.batch_id == "b1"
    assert entry.attributes["key"] == "landing/x2.csv"
    assert entry.attributes["etag"] == orders.etag
    assert result.payload.skipped == []


def test_identical_content_already_loaded_by_a_live_batch_is_skipped_with_a_reason(
    handler: LoadHandler, store: FakeObjectStore, executions: FakeExecutions
) -> None:
    first = upload(store, "landing/orders.csv", ORDERS_CSV, "e1")
    handler.handle(command("b1", first))
    executions.states["b1"] = ExecutionState.SUCCEEDED
    # When the same content comes again in a later batch
    again = upload(store, "landing/orders-again.csv", ORDERS_CSV, "e2", seconds=5)
    result = handler.handle(command("b2", again))
    # Then it is not staged, and the outcome says why and where the content went first
    assert result.payload.staged == []
    (skipped,) = result.payload.skipped
    assert skipped.reason == "duplicate_content"
    assert skipped.first_seen_batch_id == "b1"


def test_two_identical_files_in_one_batch_are_staged_once(
    handler: LoadHandler, store: FakeObjectStore
) -> None:
    a = upload(store, "landing/a.csv", ORDERS_CSV, "e1")
    b = upload(store, "landing/b.csv", ORDERS_CSV, "e2", seconds=1)
    result = handler.handle(command("b1", a, b))
    assert [f.source_key for f in result.payload.staged] == ["landing/a.csv"]
    assert [f.source_key for f in result.payload.skipped] == ["landing/b.csv"]


def test_loading_the_same_command_twice_is_idempotent(
    handler: LoadHandler, store: FakeObjectStore
) -> None:
    orders = upload(store, "landing/orders.csv", ORDERS_CSV, "e1")
    first = handler.handle(command("b1", orders))
    second = handler.handle(command("b1", orders))
    assert first.payload == second.payload


def test_a_file_that_cannot_be_recognised_is_skipped_and_costs_its_batch_mates_nothing(
    handler: LoadHandler, store: FakeObjectStore
) -> None:
    # Given a good file and one that is no shop export in one batch (issue 14's soak: one
    # junk file failed 28 good files batched with it)
    good = upload(store, "landing/orders.csv", ORDERS_CSV, "e1")
    bad = upload(store, "landing/notes.csv", b"foo,bar\n1,2\n", "e2", seconds=1)
    # When the batch is loaded
    outcome = handler.handle(command("b1", good, bad)).payload
    # Then the good file is staged and the other skipped, with its reason
    assert [file.source_key for file in outcome.staged] == ["landing/orders.csv"]
    (skipped,) = outcome.skipped
    assert (skipped.source_key, skipped.reason) == ("landing/notes.csv", "unrecognised_header")
    assert "header 'foo,bar'" in skipped.detail


def test_a_batch_of_nothing_but_unrecognised_files_fails_naming_them_and_stages_nothing(
    handler: LoadHandler, store: FakeObjectStore, ledger: FakeLedger
) -> None:
    bad = upload(store, "landing/notes.csv", b"foo,bar\n1,2\n", "e2", seconds=1)
    with pytest.raises(TaskError) as failure:
        handler.handle(command("b1", bad))
    assert failure.value.error is TaskErrorName.UNRECOGNISED_FILE
    assert failure.value.files == ["landing/notes.csv"]
    assert "landing/notes.csv: header 'foo,bar'" in failure.value.reason
    assert store.copies == []
    assert ledger.entries == {}


def test_an_empty_file_fails_with_a_specific_reason(
    handler: LoadHandler, store: FakeObjectStore
) -> None:
    empty = upload(store, "landing/empty.csv", b"", "e1")
    with pytest.raises(TaskError, match="empty file"):
        handler.handle(command("b1", empty))


def test_earlier_content_uploaded_again_under_its_key_is_loaded_as_a_correction_back(
    handler: LoadHandler, store: FakeObjectStore, executions: FakeExecutions
) -> None:
    # Given orders.csv loaded as V1 by b1 (succeeded), then as V2 by b2
    first = upload(store, "landing/orders.csv", ORDERS_CSV, "e1")
    handler.handle(command("b1", first))
    executions.states["b1"] = ExecutionState.SUCCEEDED
    # When b3 carries V1 again under the same key (the trigger saw the key change)
    again = upload(store, "landing/orders.csv", ORDERS_CSV, "e3", seconds=120)
    result = handler.handle(command("b3", again))
    # Then it is staged, not skipped
    assert [f.source_key for f in result.payload.staged] == ["landing/orders.csv"]
    assert result.payload.skipped == []


def test_a_late_load_of_an_earlier_upload_stages_that_upload_not_the_later_correction(
    handler: LoadHandler, store: FakeObjectStore, ledger: FakeLedger
) -> None:
    # Given orders.csv uploaded, then corrected (a new version of the same key)
    first_version = store.put("landing-bucket", "landing/orders.csv", ORDERS_CSV)
    first = landed("landing/orders.csv", ORDERS_CSV, event_id="e1").model_copy(
        update={"version_id": first_version}
    )
    corrected_body = ORDERS_CSV.replace(b"Complete", b"Returned")
    store.put("landing-bucket", "landing/orders.csv", corrected_body)
    # When the first upload's LoadData runs only now (late, or redelivered)
    result = handler.handle(command("b-first", first))
    # Then it staged the bytes its upload announced, and the ledger holds those bytes' hash
    (staged,) = result.payload.staged
    assert store.objects[("data", staged.key)] == ORDERS_CSV
    assert staged.sha256 == hashlib.sha256(ORDERS_CSV).hexdigest()
    corrected = ledger.get(f"FILE#{hashlib.sha256(corrected_body).hexdigest()}")
    assert corrected is None
