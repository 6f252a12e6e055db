"""What the kpi handler needs from the outside world, as protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import duckdb
from shopflow_contracts.rows import FileKind

from shopflow_kpi.domain import CategoryKpi, DayKpi


@dataclass(frozen=True)
class CuratedObject:
    """One curated Parquet object in the store.

    ``version`` (the ETag, when listed) tells a rewritten object from the one already
    loaded; it is not part of the identity.
    """

    kind: FileKind
    bucket: str
    key: str
    version: str = field(default="", compare=False)


class CuratedObjectsMissingError(Exception):
    """Curated objects that were expected in the store are not there."""

    def __init__(self, objects: Sequence[CuratedObject]) -> None:
        super().__init__(", ".join(f"s3://{o.bucket}/{o.key}" for o in objects))
        self.objects = list(objects)


class CuratedStore(Protocol):
    """Where curated data is read from: listed whole, fetched file by file."""

    def list_curated(self, kind: FileKind) -> list[CuratedObject]: ...

    def fetch(self, objects: Sequence[CuratedObject], into: Path) -> Mapping[CuratedObject, Path]:
        """Copy ``objects`` under ``into``; ``CuratedObjectsMissingError`` if any is absent."""
        ...


@dataclass(frozen=True)
class Stamp:
    """Provenance written on every KPI row."""

    batch_id: str
    computed_at: datetime


class KpiRepository(Protocol):
    """Where KPI rows are kept: one row per day, one per category and day."""

    def write_day_rows(self, rows: Sequence[DayKpi], stamp: Stamp) -> int: ...

    def write_category_rows(self, rows: Sequence[CategoryKpi], stamp: Stamp) -> int: ...

    def categories_on(self, order_date: date) -> set[str]:
        """Categories that have a row on ``order_date``."""
        ...

    def delete_rows(self, days: Sequence[date], categories: Sequence[tuple[str, date]]) -> None:
        """Delete day rows of ``days`` and category rows of (category, date) pairs."""
        ...


class KpiEngine(Protocol):
    """Opens the DuckDB connection a run computes on, spilling under ``scratch``."""

    def connect(self, scratch: Path) -> duckdb.DuckDBPyConnection: ...

    def open_state(self, database: Path, scratch: Path) -> duckdb.DuckDBPyConnection:
        """A connection to the persistent curated-state database at ``database``."""
        ...


class StateLease(Protocol):
    """A lease on the KPI state, held while a run reads curated data and writes KPI rows.

    Runs that hold it one after another can never let a stale result overwrite a fresher
    one: whoever writes last also read last, after every earlier writer had finished.
    """

    def acquire(self, owner: str) -> bool:
        """Take the lease for ``owner``; False while someone else holds an unexpired one."""
        ...

    def release(self, owner: str) -> None: ...


class ReportSink(Protocol):
    """Where the kpi stage leaves reports for people (the data bucket's reports area)."""

    def put_json(self, key: str, document: Mapping[str, object]) -> None: ...
