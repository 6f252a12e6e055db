"""Curated Parquet written exactly as the validator writes it, for the kpi unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from shopflow_contracts.rows import FileKind, columns_of
from shopflow_kpi.domain import CuratedPaths, register_curated

_MONEY = {"sale_price", "cost", "retail_price"}
_INTEGERS = {"order_id", "user_id", "product_id", "id", "num_of_item", "distribution_center_id"}


def curated_type(column: str) -> str:
    if column in _INTEGERS:
        return "BIGINT"
    if column in _MONEY:
        return "DECIMAL(18,2)"
    if column.endswith("_at"):
        return "TIMESTAMPTZ"
    return "VARCHAR"


_DEFAULTS: dict[FileKind, dict[str, Any]] = {
    FileKind.ORDERS: {"status": "complete", "num_of_item": 1},
    FileKind.ORDER_ITEMS: {"status": "complete", "created_at": "2024-03-01 12:00:00+00"},
    FileKind.PRODUCTS: {},
}


def write_curated(
    path: Path,
    kind: FileKind,
    rows: list[dict[str, Any]],
    *,
    ingest_seq: str,
    source_key: str,
    key_repeats: int | None = None,
) -> Path:
    """Write ``rows`` (missing columns null or defaulted) with the curated schema of ``kind``;
    with ``key_repeats``, the file says so in its metadata as the validator does."""
    columns = columns_of(kind)
    typed = [(c, curated_type(c)) for c in columns] + [
        ("_ingest_seq", "VARCHAR"),
        ("_source_key", "VARCHAR"),
        ("_source_line", "BIGINT"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE TABLE t ({', '.join(f'{c} {t}' for c, t in typed)})")
        for line, row in enumerate(rows, start=2):
            unknown = set(row) - set(columns)
            assert not unknown, f"not a {kind} column: {unknown}"
            values = [{**_DEFAULTS[kind], **row}.get(c) for c in columns]
            values += [ingest_seq, source_key, line]
            con.execute(f"INSERT INTO t VALUES ({', '.join('?' * len(typed))})", values)
        metadata = ""
        if key_repeats is not None:
            metadata = f", KV_METADATA {{'shopflow.key_repeats': '{key_repeats}'}}"
        con.execute(f"COPY t TO '{path}' (FORMAT parquet{metadata})")
    return path


@dataclass
class CuratedLake:
    """Curated files on local disk, laid out like ``curated/<kind>/batch=<id>/<stem>.parquet``.

    Each ``add`` is one upload: a later call gets a greater ``_ingest_seq``, so it corrects
    rows with the same primary key added before.
    """

    root: Path
    files: list[tuple[str, FileKind, Path]] = field(default_factory=list)

    def add(
        self,
        batch: str,
        kind: FileKind,
        rows: list[dict[str, Any]],
        *,
        seq: str | None = None,
        key_repeats: int | None = None,
    ) -> Path:
        ingest_seq = seq or f"{len(self.files) + 1:06d}"
        stem = f"{kind.value}-{len(self.files) + 1}"
        key = f"curated/{kind.value}/batch={batch}/{stem}.parquet"
        path = write_curated(
            self.root / key,
            kind,
            rows,
            ingest_seq=ingest_seq,
            source_key=f"raw/batch={batch}/{kind.value}/{stem}.csv",
            key_repeats=key_repeats,
        )
        self.files.append((batch, kind, path))
        return path

    def paths(self, batch: str | None = None) -> CuratedPaths:
        def of(kind: FileKind) -> list[str]:
            return [str(p) for b, k, p in self.files if k == kind and (batch is None or b == batch)]

        return CuratedPaths({kind: of(kind) for kind in FileKind})

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        register_curated(con, self.paths())
        return con
