"""The shared output helpers: exact JSON numbers, CSV without a blank last line, tables with
units, thousands separators and totals; and the summary of a day."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from shopflow_cli import output
from shopflow_cli.output import Column
from shopflow_cli.summary import day_summary

COLUMNS = (
    Column("order_date", "date"),
    Column("total_orders", "count", total="sum"),
    Column("total_revenue", "money", total="sum"),
    Column("return_rate", "percent"),
)
ROWS = [
    {"order_date": date(2025, 3, 1), "total_orders": 1200, "total_revenue": Decimal("12345.60"),
     "return_rate": Decimal("15.15")},
    {"order_date": date(2025, 3, 2), "total_orders": 3, "total_revenue": Decimal("0.10"),
     "return_rate": Decimal("0.00")},
]  # fmt: skip


def test_json_writes_money_as_exact_numbers_and_dates_as_iso_text() -> None:
    text = output.to_json(ROWS)
    assert '"total_revenue": 12345.60' in text
    assert '"order_date": "2025-03-01"' in text
    assert json.loads(text, parse_float=Decimal)[1]["total_revenue"] == Decimal("0.10")


def test_csv_has_a_header_one_line_per_row_and_no_blank_last_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.emit(ROWS, COLUMNS, "csv")
    printed = capsys.readouterr().out
    assert printed.splitlines() == [
        "order_date,total_orders,total_revenue,return_rate",
        "2025-03-01,1200,12345.60,15.15",
        "2025-03-02,3,0.10,0.00",
    ]
    assert printed.endswith("0.00\n")


def test_a_table_shows_units_thousands_separators_and_a_totals_row(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.emit(ROWS, COLUMNS, "table", totals=True)
    lines = capsys.readouterr().out.splitlines()
    assert "return_rate (%)" in lines[0]
    assert any("1,200" in line and "12,345.60" in line for line in lines)
    (total,) = [line for line in lines if line.startswith("total")]
    assert total.split() == ["total", "(2", "rows)", "1,203", "12,345.70"]
    assert all(line == line.rstrip() for line in lines), "trailing blanks in piped output"


def test_a_day_summary_compares_with_the_day_before_and_a_week_before() -> None:
    def day(orders: int, revenue: str, rate: str) -> dict[str, object]:
        return {"total_orders": orders, "total_revenue": Decimal(revenue),
                "total_items_sold": orders * 2, "return_rate": Decimal(rate),
                "unique_customers": orders}  # fmt: skip

    days = {
        date(2025, 3, 8): day(100, "1000.00", "10.00"),
        date(2025, 3, 14): day(80, "1000.00", "12.50"),
        date(2025, 3, 15): day(120, "1500.00", "10.00"),
    }
    categories = [
        {"category": "Jeans", "daily_revenue": Decimal("900.00"),
         "avg_order_value": Decimal("90.00"), "avg_return_rate": Decimal("0.00")},
        {"category": "Socks", "daily_revenue": Decimal("600.00"),
         "avg_order_value": Decimal("12.00"), "avg_return_rate": Decimal("5.00")},
    ]  # fmt: skip
    figures = day_summary(date(2025, 3, 15), days, categories, top=1)
    measures = {item["measure"]: item for item in figures["measures"]}
    assert measures["total_revenue"]["change_vs_previous_day"] == Decimal("50.00")
    assert measures["total_orders"]["change_vs_week_before"] == Decimal("20.00")
    # a rate's change is in points, not percent of a percent
    assert measures["return_rate"]["change_vs_previous_day"] == Decimal("-2.50")
    assert measures["avg_order_value"]["value"] == Decimal("12.50")
    assert [c["category"] for c in figures["top_categories"]] == ["Jeans"]
    assert figures["top_categories"][0]["share_of_revenue"] == Decimal("60.00")
