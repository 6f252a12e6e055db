"""What the KPI computation reads and produces; plain values, no engine, no AWS.

The KPI rows themselves are contracts (``shopflow_contracts.kpis``): re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from shopflow_contracts.kpis import CategoryKpi, DayKpi
from shopflow_contracts.rows import FileKind

__all__ = ["CategoryKpi", "CuratedPaths", "DayKpi", "PendingItem", "PendingSummary"]


@dataclass(frozen=True, init=False)
class CuratedPaths:
    """Local Parquet files (or glob patterns) of curated rows, per kind.

    ``CuratedPaths(orders=[...], order_items=[...])`` or ``CuratedPaths({FileKind.ORDERS:
    [...]})``; a name that is no ``FileKind`` is refused. A kind with no files is allowed: it
    reads as an empty table of the right shape, so a shop that has uploaded no products yet
    still gets a (product-less) computation.
    """

    files: Mapping[FileKind, tuple[str, ...]]

    def __init__(
        self, files: Mapping[FileKind, Sequence[str]] | None = None, **by_kind: Sequence[str]
    ) -> None:
        merged = {FileKind(kind): tuple(paths) for kind, paths in (files or {}).items()}
        merged.update({FileKind(kind): tuple(paths) for kind, paths in by_kind.items()})
        object.__setattr__(self, "files", merged)

    def of(self, kind: FileKind) -> tuple[str, ...]:
        return self.files.get(kind, ())

    def is_empty(self) -> bool:
        return not any(self.files.values())


@dataclass(frozen=True)
class PendingItem:
    """An accepted item that does not count yet: its order or its product has not arrived."""

    item_id: int
    order_id: int
    product_id: int
    missing: str  # "order", "product" or "order and product"
    since: datetime | None  # first upload of the item; None when its upload time is unknown
    source_key: str
    source_line: int


@dataclass(frozen=True)
class PendingSummary:
    pending: int
    released: int
    orphaned: list[PendingItem]
    pending_by_file: dict[str, int]  # curated file key -> its items pending now
