"""The validator's S3 adapter and handler against the moto server, over real HTTP."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import duckdb
import pytest
from shopflow_contracts.messages import (
    StagedFile,
    TaskErrorName,
    ValidateCommand,
    ValidateRequest,
)
from shopflow_contracts.report import RejectPolicy, ValidationReport
from shopflow_contracts.rows import FileKind
from shopflow_contracts.storage import uncommitted_key
from shopflow_runtime.worker import TaskError
from shopflow_validator.adapters.s3 import S3ObjectStore
from shopflow_validator.bootstrap import build_handler
from shopflow_validator.handler import ACCEPTED_HEADERS_KEY
from shopflow_validator.settings import ValidatorSettings

ITEMS = (
    "\ufeffid,order_id,user_id,product_id,status,created_at,shipped_at,delivered_at,returned_at,"
    "sale_price,coupon\r\n"
    "1,1,10,500,Complete,2025-03-30T16:14:26,,,,0.10,x\r\n"
    "2,1,10,501,complete,2025-03-30 16:14:26 UTC,,,,0.20,y\r\n"
    "3,2,11,502,lost,2025-03-30T16:14:26,,,,5.00,z\r\n"
    "4,2,11,503,shipped,2025-03-30T16:14:26,,,,1.00.5,z\r\n"
    "5,3,12,504,pending,2025-03-30T16:14:26,,,,7.70,z\r\n"
)
ORDERS = (
    "order_id,user_id,status,created_at,num_of_item\n"
    "1,10,complete,2025-03-30T16:14:26,2\n"
    "2,11,pending,2025-03-30T16:14:26,x\n"
    "3,12,pending,2025-03-30T16:14:26,0\n"
)


@pytest.fixture
def s3(aws_client: Callable[[str], Any]) -> Any:
    return aws_client("s3")


@pytest.fixture
def bucket(s3: Any, unique_name: Callable[[str], str]) -> str:
    name = unique_name("validator")
    s3.create_bucket(Bucket=name)
    return name


def stage(s3: Any, bucket: str, batch: str, kind: FileKind, name: str, body: bytes) -> StagedFile:
    key = f"raw/batch={batch}/{kind.value}/{name}"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return StagedFile(
        kind=kind,
        source_bucket=bucket,
        source_key=f"landing/{name}",
        bucket=bucket,
        key=key,
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        etag="etag",
        ingest_seq=f"2025-03-30T16:14:26Z#000{name[0]}#landing/{name}",
    )


def command(batch: str, files: list[StagedFile]) -> ValidateCommand:
    return ValidateCommand(
        message_id=uuid4(),
        run_id=batch,
        occurred_at=datetime.now(UTC),
        task_token="token",
        payload=ValidateRequest(batch_id=batch, files=files),
    )


def settings(
    bucket: str, tmp_path: Path, threshold: str, policy: RejectPolicy = "quarantine"
) -> ValidatorSettings:
    return ValidatorSettings(
        data_bucket=bucket,
        validator_queue_url="http://unused",
        ledger_table="unused",
        reject_threshold=Decimal(threshold),
        reject_policy=policy,
        work_dir=tmp_path / "work",
    )


def body_of(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def keys_under(s3: Any, bucket: str, prefix: str) -> list[str]:
    """Keys under ``prefix``, the validator's memory of accepted headers aside."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(
        item["Key"] for item in listed.get("Contents", []) if item["Key"] != ACCEPTED_HEADERS_KEY
    )


def test_given_objects_in_s3_when_sizing_them_then_missing_ones_are_none(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    store = S3ObjectStore(s3)
    s3.put_object(Bucket=bucket, Key="a/b.csv", Body=b"12345")

    assert store.size_of(bucket, "a/b.csv") == 5
    assert store.size_of(bucket, "a/missing.csv") is None
    assert store.get_bytes(bucket, "a/b.csv") == b"12345"
    assert store.get_bytes(bucket, "a/missing.csv") is None

    target = tmp_path / "deep" / "b.csv"
    store.download(bucket, "a/b.csv", target)
    assert target.read_bytes() == b"12345"


def test_given_a_staged_batch_in_s3_when_handled_then_outputs_land_under_their_prefixes(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    batch = "b-" + uuid4().hex[:8]
    items = stage(
        s3, bucket, batch, FileKind.ORDER_ITEMS, "1-items.csv.gz", gzip.compress(ITEMS.encode())
    )
    handler = build_handler(settings(bucket, tmp_path, "0.5"), s3_client=s3)

    result = handler.handle(command(batch, [items]))

    (file,) = result.payload.files
    assert (file.rows_in, file.accepted, file.rejected) == (5, 3, 2)
    assert file.rows_in == file.accepted + file.rejected + file.duplicates + file.pending
    assert (file.duplicates, file.pending, file.warnings) == (0, 0, [])
    assert sorted((r.rule, r.count) for r in file.top_reasons) == [
        ("invalid_money:sale_price", 1),
        ("unknown_status", 1),
    ]
    (curated,) = result.payload.curated
    assert curated.key == f"curated/order_items/batch={batch}/1-items.parquet"
    assert keys_under(s3, bucket, "curated/") == [uncommitted_key(batch), curated.key]
    assert keys_under(s3, bucket, "rejects/") == [f"rejects/batch={batch}/1-items.rejected.csv"]
    assert keys_under(s3, bucket, "reports/") == [f"reports/batch={batch}/1-items.report.json"]

    parquet = tmp_path / "curated.parquet"
    parquet.write_bytes(body_of(s3, bucket, curated.key))
    rows = duckdb.sql(
        f"SELECT id, status, sale_price, _source_line FROM read_parquet('{parquet}') ORDER BY id"
    ).fetchall()
    assert rows == [
        (1, "complete", Decimal("0.10"), 2),
        (2, "complete", Decimal("0.20"), 3),
        (5, "pending", Decimal("7.70"), 6),
    ]
    rejects = body_of(s3, bucket, f"rejects/batch={batch}/1-items.rejected.csv").decode()
    assert rejects.splitlines()[0] == "source_key,line,rule,message,raw_line"
    assert "landing/1-items.csv.gz,4,unknown_status," in rejects
    report = json.loads(body_of(s3, bucket, file.report_key))
    assert (report["rows_in"], report["accepted"], report["rejected"]) == (5, 3, 2)
    assert (report["duplicates"], report["pending"]) == (0, 0)
    assert report["extra_columns_ignored"] == ["coupon"]
    assert report["gzip"] is True


def test_given_a_file_above_the_threshold_in_s3_when_handled_then_only_it_is_quarantined(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    batch = "b-" + uuid4().hex[:8]
    items = stage(s3, bucket, batch, FileKind.ORDER_ITEMS, "1-items.csv", ITEMS.encode())
    orders = stage(s3, bucket, batch, FileKind.ORDERS, "2-orders.csv", ORDERS.encode())
    handler = build_handler(settings(bucket, tmp_path, "0.5"), s3_client=s3)

    outcome = handler.handle(command(batch, [items, orders])).payload

    assert (outcome.status, [file.source_key for file in outcome.quarantined]) == (
        "partial",
        [orders.source_key],
    )
    assert keys_under(s3, bucket, "curated/") == [
        uncommitted_key(batch),
        f"curated/order_items/batch={batch}/1-items.parquet",
    ]
    report = ValidationReport.model_validate_json(
        body_of(s3, bucket, f"reports/batch={batch}/2-orders.report.json")
    )
    assert (report.status, report.curated_key, report.rejected) == ("quarantined", None, 2)
    remembered = json.loads(body_of(s3, bucket, ACCEPTED_HEADERS_KEY))
    assert set(remembered["by_kind"]) == {"order_items"}


def test_given_fail_batch_and_a_file_above_the_threshold_in_s3_when_handled_then_no_curated(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    batch = "b-" + uuid4().hex[:8]
    items = stage(s3, bucket, batch, FileKind.ORDER_ITEMS, "1-items.csv", ITEMS.encode())
    orders = stage(s3, bucket, batch, FileKind.ORDERS, "2-orders.csv", ORDERS.encode())
    handler = build_handler(settings(bucket, tmp_path, "0.5", "fail_batch"), s3_client=s3)

    with pytest.raises(TaskError) as raised:
        handler.handle(command(batch, [items, orders]))

    assert raised.value.error is TaskErrorName.VALIDATION_FAILED
    assert raised.value.files == [orders.source_key]
    assert "2 of 3 rows rejected" in raised.value.reason
    assert keys_under(s3, bucket, "curated/") == []
    assert keys_under(s3, bucket, "reports/") == [
        f"reports/batch={batch}/1-items.report.json",
        f"reports/batch={batch}/2-orders.report.json",
    ]


def test_given_a_staged_key_that_is_not_in_s3_when_handled_then_staged_object_missing(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    batch = "b-" + uuid4().hex[:8]
    items = stage(s3, bucket, batch, FileKind.ORDER_ITEMS, "1-items.csv", ITEMS.encode())
    s3.delete_object(Bucket=bucket, Key=items.key)
    handler = build_handler(settings(bucket, tmp_path, "0.5"), s3_client=s3)

    with pytest.raises(TaskError) as raised:
        handler.handle(command(batch, [items]))

    assert raised.value.error is TaskErrorName.STAGED_OBJECT_MISSING
    assert items.key in raised.value.reason
    assert keys_under(s3, bucket, "") == []


def test_given_duplicates_and_a_user_mismatch_in_s3_when_handled_then_counted_and_reported(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    batch = "b-" + uuid4().hex[:8]
    orders = stage(
        s3,
        bucket,
        batch,
        FileKind.ORDERS,
        "1-orders.csv",
        b"order_id,user_id,status,created_at,num_of_item\n"
        b"1,10,complete,2025-03-30T16:14:26,2\n"
        b"1,10,complete,2025-03-30T16:14:26,2\n",
    )
    items = stage(
        s3,
        bucket,
        batch,
        FileKind.ORDER_ITEMS,
        "2-items.csv.gz",
        gzip.compress(
            (
                ITEMS.splitlines()[0] + "\r\n"
                "1,1,10,500,complete,2025-03-30T16:14:26,,,,0.10,x\r\n"
                "1,1,10,500,complete,2025-03-30T16:14:26,,,,0.10,y\r\n"
                "2,1,11,501,complete,2025-03-30T16:14:26,,,,0.20,z\r\n"
            ).encode()
        ),
    )
    handler = build_handler(settings(bucket, tmp_path, "0.5"), s3_client=s3)

    result = handler.handle(command(batch, [orders, items]))

    checked_orders, checked_items = result.payload.files
    for file in result.payload.files:
        assert file.rows_in == file.accepted + file.rejected + file.duplicates + file.pending
    assert (checked_orders.accepted, checked_orders.duplicates) == (1, 1)
    assert checked_orders.warnings == [
        "line 2: order 1 has num_of_item 2 but 1 item(s) in this batch"
    ]
    assert (checked_items.accepted, checked_items.rejected, checked_items.duplicates) == (1, 1, 1)
    rejects = body_of(s3, bucket, f"rejects/batch={batch}/2-items.rejected.csv").decode()
    assert "landing/2-items.csv.gz,4,user_mismatch," in rejects
    report = json.loads(body_of(s3, bucket, checked_items.report_key))
    assert report["duplicate_rows"] == [{"line": 3, "key": 1, "of_line": 2}]
    assert report["batch_id"] == batch
