""" "How did that day go": one day's totals against the day before and the same weekday a week
before, and the categories that made the revenue. Pure: the KPI rows come in, figures go out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shopflow_cli.output import Column

MEASURES: tuple[Column, ...] = (
    Column("total_orders", "count"),
    Column("total_revenue", "money"),
    Column("avg_order_value", "money"),
    Column("total_items_sold", "count"),
    Column("return_rate", "percent"),
    Column("unique_customers", "count"),
)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Comparison:
    """One measure of the day, with its change against an earlier day (None: no such day)."""

    measure: str
    value: Decimal | int | None
    previous_day: Decimal | int | None
    week_before: Decimal | int | None

    def change(self, earlier: Decimal | int | None) -> Decimal | None:
        """Percent change; for a rate (already a percentage) the change in points."""
        if self.value is None or earlier is None:
            return None
        if self.measure == "return_rate":
            return (Decimal(self.value) - Decimal(earlier)).quantize(_CENT, ROUND_HALF_UP)
        if Decimal(earlier) == 0:
            return None
        ratio = (Decimal(self.value) - Decimal(earlier)) * 100 / Decimal(earlier)
        return ratio.quantize(_CENT, ROUND_HALF_UP)


def with_order_value(day: dict[str, Any] | None) -> dict[str, Any] | None:
    """A day's KPIs plus its average order value (revenue / orders, to the cent)."""
    if day is None:
        return None
    orders = int(day.get("total_orders") or 0)
    revenue = Decimal(day.get("total_revenue") or 0)
    value = (revenue / orders).quantize(_CENT, ROUND_HALF_UP) if orders else None
    return {**day, "avg_order_value": value}


def day_summary(
    day: date,
    days: dict[date, dict[str, Any]],
    categories: list[dict[str, Any]],
    *,
    top: int = 5,
) -> dict[str, Any]:
    """The summary of ``day`` from the day KPIs of it, the day before and a week before."""
    current = with_order_value(days.get(day))
    before = with_order_value(days.get(day - timedelta(days=1)))
    week = with_order_value(days.get(day - timedelta(days=7)))
    comparisons = [
        Comparison(
            measure.name,
            _get(current, measure.name),
            _get(before, measure.name),
            _get(week, measure.name),
        )
        for measure in MEASURES
    ]
    revenue = Decimal(_get(current, "total_revenue") or 0)
    ranked = sorted(categories, key=lambda row: (-Decimal(row["daily_revenue"]), row["category"]))
    return {
        "order_date": day,
        "previous_day": day - timedelta(days=1) if before else None,
        "week_before": day - timedelta(days=7) if week else None,
        "measures": [
            {
                "measure": item.measure,
                "value": item.value,
                "previous_day": item.previous_day,
                "change_vs_previous_day": item.change(item.previous_day),
                "week_before": item.week_before,
                "change_vs_week_before": item.change(item.week_before),
            }
            for item in comparisons
        ],
        "top_categories": [
            {
                "category": row["category"],
                "daily_revenue": row["daily_revenue"],
                "share_of_revenue": (
                    (Decimal(row["daily_revenue"]) * 100 / revenue).quantize(_CENT, ROUND_HALF_UP)
                    if revenue
                    else None
                ),
                "avg_order_value": row["avg_order_value"],
                "avg_return_rate": row["avg_return_rate"],
            }
            for row in ranked[:top]
        ],
        "categories": len(categories),
    }


def _get(row: dict[str, Any] | None, name: str) -> Any:
    return None if row is None else row.get(name)
