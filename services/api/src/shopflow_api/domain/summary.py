"""How a day went: its totals against the day before and the same weekday a week before."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from shopflow_api.domain.model import CategoryKpis, DayKpis, ratio_to_cents

# The cards of a day, in the order a reader scans them.
MEASURES: tuple[str, ...] = (
    "total_orders",
    "total_revenue",
    "total_items_sold",
    "avg_order_value",
    "return_rate",
    "unique_customers",
)
# A rate's change is read in percentage points; a relative change of a rate misleads.
_POINTS = frozenset({"return_rate"})
TOP_CATEGORIES = 5


def comparison_dates(day: date) -> dict[str, date]:
    return {"previous_day": day - timedelta(days=1), "week_before": day - timedelta(days=7)}


def measure(day: DayKpis, name: str) -> Decimal:
    value = day.as_json()[name]
    return value if isinstance(value, Decimal) else Decimal(value)


def percent_of(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part / whole x 100`` to the cent, half away from zero, exact (both have at most two
    places); None for a whole of 0 or less: no share of nothing."""
    whole_cents = int(whole * 100)
    if whole_cents <= 0:
        return None
    return ratio_to_cents(Decimal(int(part * 100) * 100), whole_cents)


def delta(current: Decimal, earlier: Decimal | None, name: str) -> dict[str, Any] | None:
    """None without an earlier day; else the earlier value, the ``change`` in the measure's
    unit and (but for rates) the ``percent`` change."""
    if earlier is None:
        return None
    change = current - earlier
    result: dict[str, Any] = {"value": earlier, "change": change}
    if name not in _POINTS:
        result["percent"] = percent_of(change, earlier)
    return result


def summarise(
    day: DayKpis,
    earlier: Mapping[str, DayKpis | None],
    categories: Sequence[CategoryKpis],
) -> dict[str, Any]:
    """The day's cards with their deltas against ``earlier`` (label -> that day's row, None
    when it had no orders) and its top categories by revenue."""
    cards = []
    for name in MEASURES:
        value = measure(day, name)
        changes = {
            label: delta(value, None if other is None else measure(other, name), name)
            for label, other in earlier.items()
        }
        cards.append({"measure": name, "value": value, **changes})
    ranked = sorted(categories, key=lambda row: (-row.daily_revenue, row.category))
    return {
        "date": day.order_date.isoformat(),
        "day": day.as_json(),
        "compared_with": {
            label: when.isoformat() for label, when in comparison_dates(day.order_date).items()
        },
        "cards": cards,
        "top_categories": [
            {**row.as_json(), "share_of_revenue": percent_of(row.daily_revenue, day.total_revenue)}
            for row in ranked[:TOP_CATEGORIES]
        ],
    }
