"""ValidateHandler against an in-memory object store."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from shopflow_contracts.messages import (
    FileValidation,
    StagedFile,
    TaskErrorName,
    ValidateCommand,
    ValidateRequest,
    ValidationPolicy,
)
from shopflow_contracts.report import RejectPolicy, ValidationReport
from shopflow_contracts.rows import FileKind
from shopflow_contracts.storage import uncommitted_key
from shopflow_runtime.worker import TaskError
from shopflow_validator.domain import REJECTS_HEADER
from shopflow_validator.handler import (
    ACCEPTED_HEADERS_KEY,
    HandlerConfig,
    ValidateHandler,
    batch_stems,
)
from shopflow_validator.ports import ObjectStore
from validator_support import ENGINE, GOOD_ITEMS, GOOD_ORDERS, ITEMS_HEADER, ORDERS_HEADER

BUCKET = "shop-data"
BATCH = "batch-0001"


class InMemoryObjectStore:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.downloads: list[str] = []
        self.writes: list[str] = []

    def size_of(self, bucket: str, key: str) -> int | None:
        body = self.objects.get((bucket, key))
        return None if body is None else len(body)

    def download(self, bucket: str, key: str, target: Path) -> None:
        self.downloads.append(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.objects[(bucket, key)])

    def upload(self, source: Path, bucket: str, key: str, content_type: str) -> None:
        self.put_bytes(bucket, key, source.read_bytes(), content_type)

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.writes.append(key)
        self.objects[(bucket, key)] = body

    def get_bytes(self, bucket: str, key: str) -> bytes | None:
        return self.objects.get((bucket, key))

    def keys(self, prefix: str) -> list[str]:
        return sorted(
            key for _, key in self.objects if key.startswith(prefix) and key != ACCEPTED_HEADERS_KEY
        )

    def report(self, key: str) -> ValidationReport:
        return ValidationReport.model_validate_json(self.objects[(BUCKET, key)])


_: type[ObjectStore] = InMemoryObjectStore


def stage(
    store: InMemoryObjectStore, kind: FileKind, name: str, content: str | bytes
) -> StagedFile:
    body = content.encode() if isinstance(content, str) else content
    key = f"raw/batch={BATCH}/{kind.value}/{name}"
    store.objects[(BUCKET, key)] = body
    return StagedFile(
        kind=kind,
        source_bucket=BUCKET,
        source_key=f"landing/{name}",
        bucket=BUCKET,
        key=key,
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        etag="etag",
        ingest_seq=f"2025-03-30T16:14:26Z#0001#landing/{name}",
    )


def command(
    *files: StagedFile, policy: ValidationPolicy | None = None, batch_id: str = BATCH
) -> ValidateCommand:
    return ValidateCommand(
        message_id=uuid4(),
        run_id=batch_id,
        occurred_at=datetime(2025, 3, 30, 16, 15, tzinfo=UTC),
        task_token="token",
        payload=ValidateRequest(batch_id=batch_id, files=list(files), policy=policy),
    )


def handler(
    store: InMemoryObjectStore,
    tmp_path: Path,
    threshold: str = "0.5",
    policy: RejectPolicy = "quarantine",
) -> ValidateHandler:
    return ValidateHandler(
        store,
        HandlerConfig(
            data_bucket=BUCKET,
            reject_threshold=Decimal(threshold),
            reject_policy=policy,
            work_dir=tmp_path,
        ),
        engine=ENGINE,
    )


def assert_file_accounting(file: FileValidation) -> None:
    assert file.rows_in == file.accepted + file.rejected + file.duplicates + file.pending
    assert file.pending == 0
    assert sum(reason.count for reason in file.top_reasons) <= file.rejected


def half_bad_items(bad_rows: int, good_rows: int) -> str:
    good = [f"{n},1,10,500,complete,2025-03-30T16:14:26,,,,1.00" for n in range(good_rows)]
    bad = [f"{n + 1000},1,10,500,lost,2025-03-30T16:14:26,,,,1.00" for n in range(bad_rows)]
    return ITEMS_HEADER + "\n" + "\n".join(good + bad) + "\n"


def test_given_a_staged_object_is_gone_when_handled_then_staged_object_missing_and_nothing_read(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    present = stage(store, FileKind.ORDERS, "1-orders.csv", GOOD_ORDERS)
    gone = stage(store, FileKind.ORDER_ITEMS, "2-items.csv", GOOD_ITEMS)
    del store.objects[(BUCKET, gone.key)]

    with pytest.raises(TaskError) as raised:
        handler(store, tmp_path).handle(command(present, gone))

    assert raised.value.error is TaskErrorName.STAGED_OBJECT_MISSING
    assert gone.key in raised.value.reason
    assert raised.value.files == [gone.source_key]
    assert store.downloads == []
    assert store.writes == []


def test_given_a_staged_object_of_another_size_when_handled_then_staged_object_missing(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    staged = stage(store, FileKind.ORDERS, "1-orders.csv", GOOD_ORDERS)
    store.objects[(BUCKET, staged.key)] = GOOD_ORDERS.encode()[:-10]

    with pytest.raises(TaskError) as raised:
        handler(store, tmp_path).handle(command(staged))

    assert raised.value.error is TaskErrorName.STAGED_OBJECT_MISSING
    assert f"{staged.size} bytes" in raised.value.reason
    assert store.downloads == []


def test_given_fail_batch_and_a_file_above_the_threshold_when_handled_then_no_curated_at_all(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    good = stage(store, FileKind.ORDERS, "1-orders.csv", GOOD_ORDERS)
    bad = stage(store, FileKind.ORDER_ITEMS, "2-items.csv", half_bad_items(bad_rows=6, good_rows=4))

    with pytest.raises(TaskError) as raised:
        handler(store, tmp_path, policy="fail_batch").handle(command(good, bad))

    failure = raised.value
    assert failure.error is TaskErrorName.VALIDATION_FAILED
    assert failure.files == [bad.source_key]
    assert bad.source_key in failure.reason
    assert "6 of 10 rows rejected" in failure.reason
    assert "unknown_status x6" in failure.reason
    # No row of the batch may be applied, not even the good file's ...
    assert store.keys("curated/") == []
    # ... but what explains the failure is there to inspect.
    assert store.keys(f"rejects/batch={BATCH}/") == [f"rejects/batch={BATCH}/2-items.rejected.csv"]
    assert store.keys(f"reports/batch={BATCH}/") == [
        f"reports/batch={BATCH}/1-orders.report.json",
        f"reports/batch={BATCH}/2-items.report.json",
    ]
    report = store.report(f"reports/batch={BATCH}/2-items.report.json")
    assert (report.rows_in, report.accepted, report.rejected) == (10, 4, 6)
    assert (report.batch_id, report.curated_key, report.policy.reject_policy) == (
        BATCH,
        None,
        "fail_batch",
    )


def test_given_a_file_above_the_threshold_when_handled_then_it_alone_is_quarantined(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    good = stage(store, FileKind.ORDERS, "1-orders.csv", GOOD_ORDERS)
    bad = stage(store, FileKind.ORDER_ITEMS, "2-items.csv", half_bad_items(bad_rows=6, good_rows=4))

    outcome = handler(store, tmp_path).handle(command(good, bad)).payload

    accepted, quarantined = outcome.files
    assert (accepted.status, accepted.quarantine) == ("accepted", None)
    assert quarantined.status == "quarantined"
    assert quarantined.curated is None
    assert quarantined.quarantine is not None
    assert quarantined.quarantine.cause == "reject_threshold"
    assert quarantined.quarantine.rejected_share == Decimal("0.6")
    assert "6 of 10 rows rejected (60.00% > threshold 50.00%)" in quarantined.quarantine.message
    assert (outcome.status, [item.source_key for item in outcome.quarantined]) == (
        "partial",
        [bad.source_key],
    )
    (named,) = outcome.quarantined
    assert (named.rows_in, named.accepted, named.rejected, named.staged_key) == (10, 4, 6, bad.key)
    assert [(reason.rule, reason.count) for reason in named.top_reasons] == [("unknown_status", 6)]
    # The good file's rows are applied; none of the quarantined file's are.
    assert [curated.source_key for curated in outcome.curated] == [good.source_key]
    # ... and counted only once the run commits: the batch is marked uncommitted until then
    assert store.keys("curated/") == [
        uncommitted_key(BATCH),
        f"curated/orders/batch={BATCH}/1-orders.parquet",
    ]
    report = store.report(quarantined.report_key)
    assert (report.status, report.quarantine, report.curated_key) == (
        "quarantined",
        quarantined.quarantine,
        None,
    )
    assert report.rejects_key == f"rejects/batch={BATCH}/2-items.rejected.csv"
    assert store.report(accepted.report_key).curated_key == outcome.curated[0].key


def test_given_a_file_rejected_as_a_whole_when_handled_then_it_is_quarantined_at_any_threshold(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    good = stage(store, FileKind.ORDER_ITEMS, "1-items.csv", GOOD_ITEMS)
    broken = stage(
        store, FileKind.ORDERS, "2-orders.csv.gz", gzip.compress(GOOD_ORDERS.encode())[:-12]
    )

    outcome = handler(store, tmp_path, threshold="1").handle(command(good, broken)).payload

    assert [item.status for item in outcome.files] == ["accepted", "quarantined"]
    reason = outcome.files[1].quarantine
    assert reason is not None
    assert (reason.cause, reason.rejected_share) == ("file_error", Decimal(1))
    assert "truncated_gzip" in reason.message


def test_given_fail_batch_and_a_file_rejected_as_a_whole_when_handled_then_the_batch_fails(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    staged = stage(
        store, FileKind.ORDERS, "1-orders.csv.gz", gzip.compress(GOOD_ORDERS.encode())[:-12]
    )

    with pytest.raises(TaskError) as raised:
        handler(store, tmp_path, threshold="0.99", policy="fail_batch").handle(command(staged))

    assert raised.value.error is TaskErrorName.VALIDATION_FAILED
    assert "truncated_gzip" in raised.value.reason
    assert store.keys("curated/") == []


def test_given_every_file_quarantined_when_handled_then_the_batch_fails_and_reports_remain(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    broken = stage(
        store, FileKind.ORDERS, "1-orders.csv.gz", gzip.compress(GOOD_ORDERS.encode())[:-12]
    )
    bad = stage(store, FileKind.ORDER_ITEMS, "2-items.csv", half_bad_items(bad_rows=6, good_rows=4))

    with pytest.raises(TaskError) as raised:
        handler(store, tmp_path).handle(command(broken, bad))

    assert raised.value.error is TaskErrorName.ALL_FILES_QUARANTINED
    assert raised.value.files == [broken.source_key, bad.source_key]
    assert "truncated_gzip" in raised.value.reason
    assert "unknown_status x6" in raised.value.reason
    assert store.keys("curated/") == []
    assert [store.report(key).status for key in store.keys("reports/")] == ["quarantined"] * 2


def test_given_a_command_policy_when_handled_then_it_overrides_the_settings(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    good = stage(store, FileKind.ORDERS, "1-orders.csv", GOOD_ORDERS)
    bad = stage(store, FileKind.ORDER_ITEMS, "2-items.csv", half_bad_items(bad_rows=6, good_rows=4))
    relaxed = ValidationPolicy(reject_threshold=Decimal("0.75"))

    outcome = handler(store, tmp_path).handle(command(good, bad, policy=relaxed)).payload

    assert [item.status for item in outcome.files] == ["accepted", "accepted"]
    assert [curated.rows for curated in outcome.curated] == [3, 4]
    report = store.report(outcome.files[1].report_key)
    assert (report.policy.reject_threshold, report.policy.reject_policy) == (
        Decimal("0.75"),
        "quarantine",
    )
    with pytest.raises(TaskError) as raised:
        handler(store, tmp_path).handle(
            command(good, bad, policy=ValidationPolicy(reject_policy="fail_batch"))
        )
    assert raised.value.error is TaskErrorName.VALIDATION_FAILED


def test_given_a_quarantined_orders_file_when_handled_then_its_orders_do_not_judge_the_items(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    # Order 1 names user 99 in an orders file that is mostly garbage; its item names user 10.
    orders = stage(
        store,
        FileKind.ORDERS,
        "1-orders.csv",
        f"{ORDERS_HEADER}\n1,99,complete,2025-03-30T16:14:26,,,,1\n"
        + "x,10,complete,2025-03-30T16:14:26,,,,1\n" * 3,
    )
    items = stage(store, FileKind.ORDER_ITEMS, "2-items.csv", GOOD_ITEMS)

    outcome = handler(store, tmp_path).handle(command(orders, items)).payload

    assert [item.status for item in outcome.files] == ["quarantined", "accepted"]
    assert (outcome.files[1].accepted, outcome.files[1].rejected) == (3, 0)


def test_given_files_within_the_threshold_when_handled_then_curated_rejects_and_reports_are_listed(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    orders = stage(store, FileKind.ORDERS, "1-orders.csv", GOOD_ORDERS)
    items = stage(
        store, FileKind.ORDER_ITEMS, "2-items.csv.gz", gzip.compress(half_bad_items(5, 5).encode())
    )
    header_only = stage(store, FileKind.ORDERS, "3-orders.csv", ORDERS_HEADER + "\n")
    message_id = UUID("00000000-0000-4000-8000-000000000001")
    now = datetime(2025, 3, 30, 17, 0, tzinfo=UTC)
    validator = ValidateHandler(
        store,
        HandlerConfig(data_bucket=BUCKET, reject_threshold=Decimal("0.5"), work_dir=tmp_path),
        clock=lambda: now,
        new_message_id=lambda: message_id,
        engine=ENGINE,
    )
    incoming = command(orders, items, header_only)

    result = validator.handle(incoming)

    assert (result.message_id, result.run_id, result.occurred_at) == (message_id, BATCH, now)
    assert result.message_type == "shopflow.validate.result"
    outcome = result.payload
    assert outcome.batch_id == BATCH
    assert [f.source_key for f in outcome.files] == [
        orders.source_key,
        items.source_key,
        header_only.source_key,
    ]
    for file in outcome.files:
        assert_file_accounting(file)
    first, second, third = outcome.files
    assert (first.accepted, first.rejected, first.rejects_key) == (3, 0, None)
    assert (second.accepted, second.rejected) == (5, 5)
    assert second.rejects_key == f"rejects/batch={BATCH}/2-items.rejected.csv"
    assert [(r.rule, r.count) for r in second.top_reasons] == [("unknown_status", 5)]
    assert (third.rows_in, third.curated) == (0, None)
    assert [c.key for c in outcome.curated] == [
        f"curated/orders/batch={BATCH}/1-orders.parquet",
        f"curated/order_items/batch={BATCH}/2-items.parquet",
    ]
    assert [c.rows for c in outcome.curated] == [3, 5]
    assert outcome.curated[1].ingest_seq == items.ingest_seq
    for file in outcome.files:
        assert (BUCKET, file.report_key) in store.objects
    for curated in outcome.curated:
        assert store.objects[(curated.bucket, curated.key)].startswith(b"PAR1")
    rejected = list(
        csv.reader(io.StringIO(store.objects[(BUCKET, second.rejects_key)].decode("utf-8")))
    )
    assert tuple(rejected[0]) == REJECTS_HEADER
    assert len(rejected) - 1 == second.rejected
    assert store.keys(f"rejects/batch={BATCH}/") == [second.rejects_key]


def test_given_a_share_exactly_at_the_threshold_when_handled_then_the_batch_passes(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    items = stage(
        store, FileKind.ORDER_ITEMS, "2-items.csv", half_bad_items(bad_rows=1, good_rows=3)
    )

    outcome = handler(store, tmp_path, threshold="0.25").handle(command(items))
    assert (outcome.payload.files[0].rows_in, outcome.payload.files[0].rejected) == (4, 1)

    with pytest.raises(TaskError) as raised:
        handler(store, tmp_path, threshold="0.2499", policy="fail_batch").handle(command(items))
    assert "25.00% > threshold 24.99%" in raised.value.reason


def test_given_the_same_command_twice_when_handled_then_same_keys_and_same_content(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    files = [
        stage(store, FileKind.ORDERS, "1-orders.csv", GOOD_ORDERS),
        stage(store, FileKind.ORDER_ITEMS, "2-items.csv", half_bad_items(2, 8)),
    ]
    incoming = command(*files)
    validator = handler(store, tmp_path)

    first = validator.handle(incoming)
    written_once = {
        key: body for key, body in store.objects.items() if not key[1].startswith("raw/")
    }
    second = validator.handle(incoming)
    written_twice = {
        key: body for key, body in store.objects.items() if not key[1].startswith("raw/")
    }

    assert first.payload == second.payload
    assert written_once == written_twice
    # 2 curated, 1 rejects, 2 reports, the accepted headers, the uncommitted marker (kept)
    assert len(written_once) == 7


def test_given_an_empty_batch_when_handled_then_an_empty_outcome(tmp_path: Path) -> None:
    store = InMemoryObjectStore()

    result = handler(store, tmp_path).handle(command())

    assert (result.payload.files, result.payload.curated) == ([], [])


def test_given_staged_names_that_clash_when_stemmed_then_each_stem_is_unique() -> None:
    store = InMemoryObjectStore()
    orders = stage(store, FileKind.ORDERS, "1-export.csv", GOOD_ORDERS)
    items = stage(store, FileKind.ORDER_ITEMS, "1-export.csv", GOOD_ITEMS)
    products = stage(store, FileKind.PRODUCTS, "2-products.csv.gz", b"")

    stems = batch_stems([orders, items, products])

    assert len(set(stems)) == 3
    assert stems[2] == "2-products"
    assert all(stem.startswith("1-export-") for stem in stems[:2])
    assert stems == batch_stems([orders, items, products])


def test_given_duplicates_a_user_mismatch_and_a_num_of_item_gap_when_handled_then_all_reported(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    orders = stage(
        store,
        FileKind.ORDERS,
        "1-orders.csv",
        f"{ORDERS_HEADER}\n"
        "1,10,complete,2025-03-30T16:14:26,,,,3\n"
        "1,10,Complete,2025-03-30 16:14:26 UTC,,,,3\n"
        "2,11,pending,2025-03-30T16:14:26,,,,1\n",
    )
    items = stage(
        store,
        FileKind.ORDER_ITEMS,
        "2-items.csv",
        f"{ITEMS_HEADER}\n"
        "100,1,10,500,complete,2025-03-30T16:14:26,,,,1.00\n"
        "101,1,10,501,complete,2025-03-30T16:14:26,,,,2.00\n"
        "101,1,10,501,complete,2025-03-30T16:14:26,,,,2.50\n"
        "102,2,12,502,pending,2025-03-30T16:14:26,,,,3.00\n",
    )

    outcome = handler(store, tmp_path, threshold="0.5").handle(command(orders, items)).payload

    checked_orders, checked_items = outcome.files
    for file in outcome.files:
        assert_file_accounting(file)
    assert (checked_orders.rows_in, checked_orders.accepted, checked_orders.duplicates) == (3, 2, 1)
    assert checked_orders.warnings == [
        "line 2: order 1 has num_of_item 3 but 2 item(s) in this batch"
    ]
    assert (checked_items.accepted, checked_items.rejected, checked_items.duplicates) == (3, 1, 0)
    assert [(r.rule, r.count) for r in checked_items.top_reasons] == [("user_mismatch", 1)]
    assert [c.rows for c in outcome.curated] == [2, 3]
    report = json.loads(store.objects[(BUCKET, checked_orders.report_key)])
    assert (report["rows_in"], report["accepted"], report["rejected"]) == (3, 2, 0)
    assert (report["duplicates"], report["pending"], report["corrections"]) == (1, 0, 0)
    assert report["duplicate_rows"] == [{"line": 3, "key": 1, "of_line": 2}]
    assert report["warnings"] == checked_orders.warnings
    items_report = json.loads(store.objects[(BUCKET, checked_items.report_key)])
    assert items_report["correction_rows"] == [{"line": 4, "key": 101, "of_line": 3}]


def test_given_a_header_that_changed_since_the_last_accepted_file_when_handled_then_it_is_said(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    first = stage(store, FileKind.ORDER_ITEMS, "1-items.csv", GOOD_ITEMS)
    handler(store, tmp_path).handle(command(first, batch_id="batch-0000"))
    # Then an export that lost the optional returned_at and gained inventory_item_id.
    changed = GOOD_ITEMS.replace(
        ITEMS_HEADER, ITEMS_HEADER.replace("returned_at", "inventory_item_id")
    )
    second = stage(store, FileKind.ORDER_ITEMS, "2-items.csv", changed)

    outcome = handler(store, tmp_path).handle(command(second)).payload

    (file,) = outcome.files
    assert [(c.change, c.column, c.required, c.compared_with) for c in file.schema_changes] == [
        ("column_added", "inventory_item_id", False, first.source_key),
        ("column_missing", "returned_at", False, first.source_key),
    ]
    assert (file.status, file.extra_columns) == ("accepted", ["inventory_item_id"])
    assert store.report(file.report_key).schema_changes == file.schema_changes
    ((flat),) = outcome.schema_changes
    assert (flat.kind, flat.source_key, flat.changes) == (
        FileKind.ORDER_ITEMS,
        second.source_key,
        file.schema_changes,
    )
    # The changed header is now the one later files are compared with.
    again = stage(store, FileKind.ORDER_ITEMS, "3-items.csv", changed)
    assert handler(store, tmp_path).handle(command(again)).payload.files[0].schema_changes == []


def test_given_a_header_missing_a_required_column_when_handled_then_the_change_and_the_error(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    first = stage(store, FileKind.ORDERS, "1-orders.csv", GOOD_ORDERS)
    handler(store, tmp_path).handle(command(first, batch_id="batch-0000"))
    lost = "\n".join(line.rsplit(",", 1)[0] for line in GOOD_ORDERS.splitlines()) + "\n"
    good = stage(store, FileKind.ORDER_ITEMS, "3-items.csv", GOOD_ITEMS)
    second = stage(store, FileKind.ORDERS, "2-orders.csv", lost)

    outcome = handler(store, tmp_path).handle(command(second, good)).payload

    broken = outcome.files[0]
    assert broken.status == "quarantined"
    assert broken.quarantine is not None
    assert "missing_required_column" in broken.quarantine.message
    assert [(c.change, c.column, c.required) for c in broken.schema_changes] == [
        ("column_missing", "num_of_item", True)
    ]
