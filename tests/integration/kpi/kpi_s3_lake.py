"""Curated Parquet uploaded to a (moto) data bucket the way the validator leaves it."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from shopflow_contracts.messages import CuratedFile
from shopflow_contracts.rows import FileKind, columns_of
from shopflow_kpi.settings import KpiSettings

_MONEY = {"sale_price", "cost", "retail_price"}
_INTEGERS = {"order_id", "user_id", "product_id", "id", "num_of_item", "distribution_center_id"}
_DEFAULTS: dict[FileKind, dict[str, Any]] = {
    FileKind.ORDERS: {"status": "complete", "num_of_item": 1},
    FileKind.ORDER_ITEMS: {"status": "complete", "created_at": "2024-03-01 12:00:00+00"},
    FileKind.PRODUCTS: {},
}


def _curated_type(column: str) -> str:
    if column in _INTEGERS:
        return "BIGINT"
    if column in _MONEY:
        return "DECIMAL(18,2)"
    if column.endswith("_at"):
        return "TIMESTAMPTZ"
    return "VARCHAR"


def parquet_bytes(
    kind: FileKind, rows: list[dict[str, Any]], *, ingest_seq: str, source_key: str
) -> bytes:
    columns = columns_of(kind)
    typed = [(c, _curated_type(c)) for c in columns] + [
        ("_ingest_seq", "VARCHAR"),
        ("_source_key", "VARCHAR"),
        ("_source_line", "BIGINT"),
    ]
    with tempfile.TemporaryDirectory() as scratch, duckdb.connect() as con:
        path = Path(scratch) / "rows.parquet"
        con.execute(f"CREATE TABLE t ({', '.join(f'{c} {t}' for c, t in typed)})")
        for line, row in enumerate(rows, start=2):
            values = [{**_DEFAULTS[kind], **row}.get(c) for c in columns]
            con.execute(
                f"INSERT INTO t VALUES ({', '.join('?' * len(typed))})",
                [*values, ingest_seq, source_key, line],
            )
        con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
        return path.read_bytes()


@dataclass
class S3Lake:
    s3: Any
    bucket: str
    uploads: list[tuple[str, CuratedFile]] = field(default_factory=list)

    def add(self, batch: str, kind: FileKind, rows: list[dict[str, Any]], stem: str = "") -> str:
        n = len(self.uploads) + 1
        seq = f"{n:06d}"
        stem = stem or f"{kind.value}-{n}"
        key = f"curated/{kind.value}/batch={batch}/{stem}.parquet"
        source_key = f"raw/batch={batch}/{kind.value}/{n}-{stem}.csv"
        body = parquet_bytes(kind, rows, ingest_seq=seq, source_key=source_key)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        curated = CuratedFile(
            kind=kind,
            bucket=self.bucket,
            key=key,
            rows=len(rows),
            source_key=source_key,
            ingest_seq=seq,
        )
        self.uploads.append((batch, curated))
        return key

    def batch(self, batch: str) -> list[CuratedFile]:
        return [curated for b, curated in self.uploads if b == batch]


@dataclass
class KpiStack:
    settings: KpiSettings
    clients: dict[str, Any]
    lake: S3Lake
