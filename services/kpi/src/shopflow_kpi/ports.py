"""What the kpi handler needs from the outside world, as protocols."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from shopflow_contracts.rows import FileKind
from shopflow_contracts.storage import UncommittedBatch

from shopflow_kpi.domain import CategoryKpi, DayKpi, PendingSummary


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
    """Where KPI rows are kept: one row per day, one per category and day.

    A run's writes go between ``begin`` and ``publish``: readers see none of them before
    ``publish`` and all of them after (both tables change together for them).
    """

    def begin(self, stamp: Stamp) -> None: ...

    def publish(self, stamp: Stamp) -> None: ...

    def write_day_rows(self, rows: Sequence[DayKpi], stamp: Stamp) -> int: ...

    def write_category_rows(self, rows: Sequence[CategoryKpi], stamp: Stamp) -> int: ...

    def categories_on(self, order_date: date) -> set[str]:
        """Categories that have a row on ``order_date``."""
        ...

    def delete_rows(self, days: Sequence[date], categories: Sequence[tuple[str, date]]) -> None:
        """Delete day rows of ``days`` and category rows of (category, date) pairs."""
        ...

    def days_with_rows(self, first: date, last: date) -> list[date]:
        """Dates from ``first`` to ``last`` (both included) that have a day row, ascending."""
        ...


@dataclass(frozen=True)
class CuratedFileRef:
    """A curated Parquet file: its identity in the store, its version, and a local copy."""

    kind: str
    key: str
    version: str
    path: str


class KpiState(Protocol):
    """The curated rows a worker has loaded, kept between runs, and the KPI questions over them.

    A cache of the curated area, never a source of truth: a lost one is rebuilt from the store.
    """

    def loaded_versions(self) -> dict[str, str]:
        """Curated file key -> the version loaded."""
        ...

    def load(self, files: Sequence[CuratedFileRef]) -> None:
        """Load (or reload, replacing their earlier rows) ``files``; a reload's dates turn dirty."""
        ...

    def forget(self, keys: Iterable[str]) -> None:
        """Drop the rows of files gone from the store; their dates turn dirty."""
        ...

    def touched_dates(self, batch_keys: Sequence[str]) -> list[date]:
        """Order dates the given (loaded) files change, ascending."""
        ...

    def dirty_dates(self) -> list[date]:
        """Dates changed in a way no batch announced (files rewritten or gone)."""
        ...

    def clear_dirty(self, dates: Iterable[date]) -> None:
        """Forget dirty dates once their KPI rows have been written."""
        ...

    def compute_kpis(self, dates: Iterable[date]) -> tuple[list[DayKpi], list[CategoryKpi]]: ...

    def compute_all_kpis(self) -> tuple[list[date], list[DayKpi], list[CategoryKpi]]:
        """Every order date and its KPIs: one pass over each table, for a first run."""
        ...

    def order_dates(self) -> list[date]:
        """Every order date any loaded version of any order has, ascending."""
        ...

    def duplicates(self, batch_keys: Sequence[str]) -> dict[str, int]:
        """Curated file key -> its rows identical to the version of their key before them."""
        ...

    def pending(self, *, now: datetime, grace: timedelta) -> PendingSummary:
        """Items waiting for their order or product, and what changed since the last run."""
        ...


class KpiEngine(Protocol):
    """Opens the KPI state a run computes on, spilling under ``scratch``."""

    def open_state(self, database: Path, scratch: Path) -> AbstractContextManager[KpiState]:
        """The persistent KPI state kept at ``database``, closed when the context ends."""
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


class BatchCommits(Protocol):
    """Which batches' curated output counts (see ``shopflow_contracts.storage``).

    A batch is uncommitted from the validator's first curated object until its kpi stage
    has written its KPI rows; the curated files of an uncommitted batch count for no run
    but that batch's own.
    """

    def uncommitted(self) -> list[UncommittedBatch]: ...

    def writing(self, batch_id: str, order_dates: Sequence[date]) -> None:
        """Before any KPI row is written: the dates this batch's run is about to write."""
        ...

    def recomputed(self, batches: Sequence[UncommittedBatch]) -> None:
        """The dates of these (failed) batches were written again without them."""
        ...

    def commit(self, batch_id: str) -> None:
        """The batch's KPI rows are written: from now on its curated output counts."""
        ...
