"""The rows the API reads back, with their numbers exact: the contract's KPI rows
(``shopflow_contracts.kpis``) plus what the tables keep beside them.

DynamoDB keeps a number's digits but not its trailing zeros (``10.50`` comes back ``10.5``):
money and rates are put back to their two places here, so every response spells them alike.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from shopflow_contracts.kpis import (
    CATEGORY_KPI_COLUMNS,
    DAY_KPI_COLUMNS,
    CategoryKpi,
    DayKpi,
    KpiRow,
    kpi_unit,
)

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    """Two places; exact for the table's values, which have at most two."""
    return value.quantize(CENT)


def ratio_to_cents(numerator: Decimal, denominator: int) -> Decimal:
    """``numerator / denominator`` to the cent, half away from zero, in integer arithmetic
    (as the KPI service rounds its averages; see docs/kpis.md)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    scaled = int(numerator * 100)
    sign = -1 if scaled < 0 else 1
    whole, rest = divmod(abs(scaled), denominator)
    if 2 * rest >= denominator:
        whole += 1
    return Decimal(sign * whole).scaleb(-2)


def _json_of(row: KpiRow, columns: tuple[str, ...]) -> dict[str, Any]:
    """``columns`` of ``row`` as JSON values: money and percentages to two places."""
    model = type(row)
    shown: dict[str, Any] = {}
    for column in columns:
        value = getattr(row, column)
        if isinstance(value, date):
            shown[column] = value.isoformat()
        elif column in model.model_fields and kpi_unit(model, column) in ("money", "percent"):
            shown[column] = cents(value)
        else:
            shown[column] = value
    return shown


# Beside its KPIs, a table row keeps when and by which batch it was computed (absent on rows
# written before they were kept).


class DayKpis(DayKpi):
    """A day's row of the daily table: the contract's ``DayKpi`` as DynamoDB keeps it."""

    computed_at: str | None = None
    batch_id: str | None = None

    @property
    def avg_order_value(self) -> Decimal:
        """Revenue per order: the day table keeps both parts, not the ratio."""
        return ratio_to_cents(self.total_revenue, self.total_orders)

    def as_json(self) -> dict[str, Any]:
        # The average is shown right after the totals it is made of.
        columns = list(DAY_KPI_COLUMNS)
        columns.insert(columns.index("total_items_sold") + 1, "avg_order_value")
        return _json_of(self, (*columns, "computed_at", "batch_id"))


class CategoryKpis(CategoryKpi):
    """A category's row of the category table: the contract's ``CategoryKpi`` as kept."""

    computed_at: str | None = None
    batch_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return _json_of(self, (*CATEGORY_KPI_COLUMNS, "computed_at", "batch_id"))
