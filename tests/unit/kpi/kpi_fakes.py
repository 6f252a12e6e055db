"""In-memory fakes of the kpi handler's ports, shared by its unit tests."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from kpi_lake import CuratedLake
from shopflow_contracts.rows import FileKind
from shopflow_kpi.domain import CategoryKpi, DayKpi
from shopflow_kpi.ports import CuratedObject, CuratedObjectsMissingError, Stamp

BUCKET = "data"


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
