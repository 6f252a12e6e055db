"""In-memory fakes of the kpi handler's ports, shared by its unit tests."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

from kpi_lake import CuratedLake
from shopflow_contracts.messages import CuratedFile, KpiCommand, KpiRequest, KpiScope
from shopflow_contracts.rows import FileKind
from shopflow_contracts.storage import UncommittedBatch
from shopflow_kpi.adapters.duckdb_engine import DuckDbEngine
from shopflow_kpi.domain import CategoryKpi, DayKpi
from shopflow_kpi.handler import KpiHandler
from shopflow_kpi.ports import CuratedObject, CuratedObjectsMissingError, Stamp

BUCKET = "data"
NOW = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)


class FakeCuratedStore:
    """The curated files of a CuratedLake, as if they sat in the data bucket."""

    def __init__(self, lake: CuratedLake) -> None:
        self.lake = lake
        self.unlisted: set[str] = set()
        self.lost: set[str] = set()
        self.listed_kinds: list[FileKind] = []
        self.fetched: list[CuratedObject] = []

    def _objects(self) -> dict[CuratedObject, Path]:
        # The version plays the ETag: it changes when the file's bytes do.
        return {
            CuratedObject(
                kind,
                BUCKET,
                path.relative_to(self.lake.root).as_posix(),
                hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest(),
            ): path
            for _, kind, path in self.lake.files
            if path.exists()
        }

    def list_curated(self, kind: FileKind) -> list[CuratedObject]:
        self.listed_kinds.append(kind)
        return [o for o in self._objects() if o.kind == kind and o.key not in self.unlisted]

    def fetch(self, objects: Sequence[CuratedObject], into: Path) -> Mapping[CuratedObject, Path]:
        sources = self._objects()
        missing = [o for o in objects if o not in sources or o.key in self.lost]
        if missing:
            raise CuratedObjectsMissingError(missing)
        into.mkdir(parents=True, exist_ok=True)
        self.fetched.extend(objects)
        fetched = {}
        for n, obj in enumerate(objects):
            fetched[obj] = Path(shutil.copy(sources[obj], into / f"{n}.parquet"))
        return fetched


class FakeKpiRepository:
    def __init__(self) -> None:
        self.days: dict[date, tuple[DayKpi, Stamp]] = {}
        self.categories: dict[tuple[str, date], tuple[CategoryKpi, Stamp]] = {}
        self.published: list[str] = []
        self.begun: list[Stamp] = []

    def begin(self, stamp: Stamp) -> None:
        self.begun.append(stamp)

    def publish(self, stamp: Stamp) -> None:
        assert stamp in self.begun, "published without begin"
        self.begun.remove(stamp)
        self.published.append(stamp.batch_id)

    def write_day_rows(self, rows: Sequence[DayKpi], stamp: Stamp) -> int:
        self.days.update({row.order_date: (row, stamp) for row in rows})
        return len(rows)

    def write_category_rows(self, rows: Sequence[CategoryKpi], stamp: Stamp) -> int:
        self.categories.update({(row.category, row.order_date): (row, stamp) for row in rows})
        return len(rows)

    def categories_on(self, order_date: date) -> set[str]:
        return {c for c, d in self.categories if d == order_date}

    def delete_rows(self, days: Sequence[date], categories: Sequence[tuple[str, date]]) -> None:
        for d in days:
            self.days.pop(d, None)
        for key in categories:
            self.categories.pop(key, None)

    def days_with_rows(self, first: date, last: date) -> list[date]:
        return sorted(d for d in self.days if first <= d <= last)


class RecordingReportSink:
    def __init__(self) -> None:
        self.documents: dict[str, Mapping[str, object]] = {}

    def put_json(self, key: str, document: Mapping[str, object]) -> None:
        self.documents[key] = document


def kpi_command(lake: CuratedLake, batch: str) -> KpiCommand:
    """The command the state machine sends for ``batch``: its curated files in the lake."""
    curated = [
        CuratedFile(
            kind=kind,
            bucket=BUCKET,
            key=path.relative_to(lake.root).as_posix(),
            rows=1,
            source_key=f"raw/batch={batch}/{path.name}",
            ingest_seq="x",
        )
        for b, kind, path in lake.files
        if b == batch
    ]
    return KpiCommand(
        message_id=uuid4(),
        run_id=f"run-{batch}",
        occurred_at=NOW,
        task_token="token",
        payload=KpiRequest(batch_id=batch, curated=curated),
    )


class Pipeline:
    """A lake, the fakes over it, and the handler; ``run`` sends one batch's command."""

    def __init__(self, lake: CuratedLake, work_dir: Path) -> None:
        self.lake = lake
        self.store = FakeCuratedStore(lake)
        self.repository = FakeKpiRepository()
        self.reports = RecordingReportSink()
        self.work_dir = work_dir
        self.handler = KpiHandler(
            store=self.store,
            repository=self.repository,
            engine=DuckDbEngine(memory_limit="256MB", threads=1),
            work_dir=work_dir,
            clock=lambda: NOW,
            reports=self.reports,
        )

    def command(self, batch: str) -> KpiCommand:
        return kpi_command(self.lake, batch)

    def run(self, batch: str) -> Any:
        return self.handler.handle(self.command(batch)).payload

    def recompute(self, first: date | None = None, last: date | None = None) -> Any:
        """A recompute run's command: no curated files, the range as its scope."""
        command = KpiCommand(
            message_id=uuid4(),
            run_id="recompute-1",
            occurred_at=NOW,
            task_token="token",
            payload=KpiRequest(
                batch_id="recompute-1",
                curated=[],
                scope=KpiScope(mode="recompute", from_date=first, to_date=last),
            ),
        )
        return self.handler.handle(command).payload


def order(order_id: int, created_at: str, status: str = "complete") -> dict[str, Any]:
    return {"order_id": order_id, "user_id": order_id, "status": status, "created_at": created_at}


def item(item_id: int, order_id: int, product_id: int, price: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "order_id": order_id,
        "user_id": order_id,
        "product_id": product_id,
        "sale_price": Decimal(price),
    }


class FakeBatchCommits:
    """Uncommitted-batch markers in memory, as the validator and the kpi stage leave them."""

    def __init__(self) -> None:
        self.markers: dict[str, UncommittedBatch] = {}

    def validated(self, batch_id: str) -> None:
        self.markers.setdefault(batch_id, UncommittedBatch(batch_id=batch_id, marked_at=NOW))

    def uncommitted(self) -> list[UncommittedBatch]:
        return list(self.markers.values())

    def writing(self, batch_id: str, order_dates: Sequence[date]) -> None:
        earlier = self.markers.get(batch_id)
        dates = sorted({*order_dates, *(earlier.order_dates if earlier else [])})
        self.markers[batch_id] = UncommittedBatch(
            batch_id=batch_id, marked_at=NOW, order_dates=dates
        )

    def recomputed(self, batches: Sequence[UncommittedBatch]) -> None:
        for marker in batches:
            if marker.batch_id in self.markers:
                self.markers[marker.batch_id] = marker.model_copy(update={"order_dates": []})

    def commit(self, batch_id: str) -> None:
        self.markers.pop(batch_id, None)
