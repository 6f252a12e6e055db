"""KPI rows as strings (money and rates with 2 decimals), to compare implementations exactly."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS


def as_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _records(rows: Iterable[Any], columns: Sequence[str]) -> list[dict[str, str]]:
    return [{column: as_text(getattr(row, column)) for column in columns} for row in rows]


def day_records(rows: Iterable[Any]) -> list[dict[str, str]]:
    """shopflow ``DayKpi`` values as strings, sorted by date."""
    return sorted(_records(rows, DAY_KPI_COLUMNS), key=lambda r: r["order_date"])


def category_records(rows: Iterable[Any]) -> list[dict[str, str]]:
    """shopflow ``CategoryKpi`` values as strings, sorted by (category, date)."""
    return sorted(
        _records(rows, CATEGORY_KPI_COLUMNS), key=lambda r: (r["category"], r["order_date"])
    )


@dataclass(frozen=True)
class Comparison:
    """How two KPI tables differ: equal, or the first differing rows of each."""

    table: str
    left_rows: int
    right_rows: int
    differing: int
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return self.differing == 0 and self.left_rows == self.right_rows


def compare_tables(
    table: str,
    left: list[dict[str, str]],
    right: list[dict[str, str]],
    key: Sequence[str],
    limit: int = 3,
) -> Comparison:
    """Compare row sets by ``key``; values as strings, so exact to the cent."""

    def keyed(rows: list[dict[str, str]]) -> dict[tuple[str, ...], dict[str, str]]:
        return {tuple(row[k] for k in key): row for row in rows}

    mine, theirs = keyed(left), keyed(right)
    differing = 0
    examples: list[dict[str, Any]] = []
    for k in sorted(set(mine) | set(theirs)):
        a, b = mine.get(k), theirs.get(k)
        if a != b:
            differing += 1
            if len(examples) < limit:
                examples.append({"key": list(k), "shopflow": a, "pandas": b})
    return Comparison(table, len(left), len(right), differing, examples)


def compare_kpis(
    left: dict[str, list[dict[str, str]]], right: dict[str, list[dict[str, str]]]
) -> list[Comparison]:
    return [
        compare_tables("days", left["days"], right["days"], ("order_date",)),
        compare_tables(
            "categories", left["categories"], right["categories"], ("category", "order_date")
        ),
    ]
