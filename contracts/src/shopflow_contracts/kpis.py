"""The two KPI tables' rows: what the kpi stage computes, DynamoDB keeps and people query.

The models are the one statement of the tables' columns: their order (export order), types
and units. Everything that writes, reads, renders or compares KPI rows derives its columns
from here (``DAY_KPI_COLUMNS``, ``kpi_unit``), so a new KPI column is a new field here, its
SQL, its reference and its documentation (see CONTRIBUTING.md, "Add a KPI column").
Definitions: docs/kpis.md.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

# How a KPI number reads: a count, an amount of money, a percentage (0-100); what people
# see of a column besides its name. "additive" columns can be summed over days.
KpiUnit = Literal["date", "text", "count", "money", "percent"]

Count = Annotated[int, Field(ge=0, json_schema_extra={"unit": "count", "additive": True})]
# Distinct things (customers): a count that does not add up over days.
DistinctCount = Annotated[int, Field(ge=0, json_schema_extra={"unit": "count"})]
Amount = Annotated[
    Decimal,
    Field(max_digits=18, decimal_places=2, json_schema_extra={"unit": "money", "additive": True}),
]
AverageAmount = Annotated[
    Decimal, Field(max_digits=18, decimal_places=2, json_schema_extra={"unit": "money"})
]
Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2, json_schema_extra={"unit": "percent"}),
]


class KpiRow(BaseModel):
    # Strict: the engine's values are taken as they are; a float where money belongs fails
    # loudly instead of being converted.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class DayKpi(KpiRow):
    """KPIs of one order date over all its counted (non-cancelled) orders."""

    order_date: date
    total_orders: Count
    total_revenue: Amount
    total_items_sold: Count
    return_rate: Percent
    unique_customers: DistinctCount


class CategoryKpi(KpiRow):
    """KPIs of one product category on one order date."""

    category: str
    order_date: date
    daily_revenue: Amount
    avg_order_value: AverageAmount
    avg_return_rate: Percent


DAY_KPI_COLUMNS: tuple[str, ...] = tuple(DayKpi.model_fields)
CATEGORY_KPI_COLUMNS: tuple[str, ...] = tuple(CategoryKpi.model_fields)


_NUMBER_UNITS: tuple[KpiUnit, ...] = ("count", "money", "percent")


def _extra(field: FieldInfo, name: str) -> object:
    extra = field.json_schema_extra
    return extra.get(name) if isinstance(extra, dict) else None


def kpi_unit(model: type[KpiRow], column: str) -> KpiUnit:
    """The unit of ``column`` of ``model``: what its values are and how they read."""
    field = model.model_fields[column]
    declared = _extra(field, "unit")
    for unit in _NUMBER_UNITS:
        if declared == unit:
            return unit
    return "date" if field.annotation is date else "text"


def kpi_additive(model: type[KpiRow], column: str) -> bool:
    """Whether ``column``'s values can be summed over days (totals of a range)."""
    return _extra(model.model_fields[column], "additive") is True


def kpi_count_columns() -> frozenset[str]:
    """The integer columns of both tables."""
    return frozenset(
        column
        for model in (DayKpi, CategoryKpi)
        for column in model.model_fields
        if kpi_unit(model, column) == "count"
    )
