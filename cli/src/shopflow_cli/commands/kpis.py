"""``shopflow kpis days|categories|summary``: the KPI tables read back from DynamoDB."""

from __future__ import annotations

from datetime import date
from typing import Any

import click
from shopflow_contracts.kpis import (
    CATEGORY_KPI_COLUMNS,
    DAY_KPI_COLUMNS,
    CategoryKpi,
    DayKpi,
    KpiRow,
    kpi_additive,
    kpi_unit,
)

from shopflow_cli import operations, output
from shopflow_cli.options import DATE, format_option, target_options
from shopflow_cli.output import Column, UserError
from shopflow_cli.target import TargetRef


def _table(model: type[KpiRow]) -> tuple[Column, ...]:
    """A KPI table's columns as the contract states them: order, unit, whether they add up."""
    return tuple(
        Column(name, kpi_unit(model, name), total="sum" if kpi_additive(model, name) else "none")
        for name in model.model_fields
    )


DAY_TABLE = _table(DayKpi)
CATEGORY_TABLE = _table(CategoryKpi)

_range_options = [
    click.option(
        "--from",
        "date_from",
        type=DATE,
        help="First day, YYYY-MM-DD (for example 2025-03-01); default: the first day with KPIs.",
    ),
    click.option(
        "--to",
        "date_to",
        type=DATE,
        help="Last day, YYYY-MM-DD, included (for example 2025-03-31); default: today (UTC).",
    ),
]


def _with_range(function: Any) -> Any:
    for option in reversed(_range_options):
        function = option(function)
    return function


def _checked_range(date_from: date | None, date_to: date | None) -> tuple[date, date | None]:
    if date_from and date_to and date_from > date_to:
        raise UserError(f"--from {date_from} is after --to {date_to}: nothing lies between", 2)
    return date_from or operations.EARLIEST_DATE, date_to


@click.group(name="kpis")
def command() -> None:
    """Read the KPI tables back (DynamoDB Query/GetItem only, never a scan).

    Money is exact to the cent; rates are percentages (0-100).
    """


@command.command(name="days")
@_with_range
@format_option()
@target_options
def days(
    target: TargetRef, date_from: date | None, date_to: date | None, output_format: str
) -> None:
    """Per day: orders, revenue, items sold, return rate, unique customers.

    Example: shopflow kpis days --from 2025-03-01 --to 2025-03-07
    """
    start, end = _checked_range(date_from, date_to)
    resolved = target.resolve()
    dynamodb = resolved.client("dynamodb")
    published = operations.published_kpis(dynamodb, resolved.outputs.ledger_table)
    rows = operations.kpi_records(
        operations.read_day_kpis(
            dynamodb, resolved.outputs.daily_kpis_table, start, end, published=published
        ),
        DAY_KPI_COLUMNS,
    )
    output.emit(rows, DAY_TABLE, output_format, totals=True)


@command.command(name="categories")
@_with_range
@click.option(
    "--category",
    metavar="NAME",
    help="Only this category, for example Jeans (case does not matter); "
    "an unknown name is answered with the known ones.",
)
@format_option()
@target_options
def categories(
    target: TargetRef,
    date_from: date | None,
    date_to: date | None,
    category: str | None,
    output_format: str,
) -> None:
    """Per category and day: revenue, average order value, return rate.

    Example: shopflow kpis categories --category Jeans --from 2025-03-01
    """
    start, end = _checked_range(date_from, date_to)
    resolved = target.resolve()
    dynamodb = resolved.client("dynamodb")
    tables = resolved.outputs
    published = operations.published_kpis(dynamodb, tables.ledger_table)

    def read(name: str | None) -> list[dict[str, Any]]:
        found = operations.read_category_kpis(
            dynamodb,
            tables.category_kpis_table,
            tables.daily_kpis_table,
            start,
            end,
            name,
            published=published,
        )
        return operations.kpi_records(found, CATEGORY_KPI_COLUMNS)

    rows = read(category)
    if category is not None and not rows:
        known = operations.known_categories(
            dynamodb, tables.category_kpis_table, tables.daily_kpis_table, published=published
        )
        same_but_case = [name for name in known if name.casefold() == category.casefold()]
        if same_but_case and same_but_case[0] != category:
            output.note(f"category {category!r} read as {same_but_case[0]!r}")
            rows = read(same_but_case[0])
        elif category not in known:
            raise UserError(
                f"no category {category!r}; known categories: {', '.join(known)}"
                if known
                else f"no category {category!r}: there are no KPIs yet"
            )
    output.emit(rows, CATEGORY_TABLE, output_format, totals=category is not None)


SUMMARY_CATEGORIES: tuple[Column, ...] = (
    Column("category"),
    Column("daily_revenue", "money"),
    Column("share_of_revenue", "percent", header="share of revenue"),
    Column("avg_order_value", "money"),
    Column("avg_return_rate", "percent"),
)


@command.command(name="summary")
@click.option(
    "--date",
    "day",
    type=DATE,
    help="The day, YYYY-MM-DD (for example 2025-03-14); default: the latest day with KPIs.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="How many categories to list, by revenue.",
)
@format_option(("table", "json"))
@target_options
def summary(target: TargetRef, day: date | None, top: int, output_format: str) -> None:
    """How did a day go: its totals, the change against the day before and the same
    weekday a week before, and its top categories by revenue.

    Example: shopflow kpis summary --date 2025-03-14
    """
    from datetime import timedelta

    from shopflow_cli.summary import day_summary

    resolved = target.resolve()
    dynamodb = resolved.client("dynamodb")
    tables = resolved.outputs
    published = operations.published_kpis(dynamodb, tables.ledger_table)
    chosen = day or operations.latest_kpi_day(
        dynamodb, tables.daily_kpis_table, published=published
    )
    if chosen is None:
        raise UserError("there are no KPIs yet: upload some files first ('shopflow upload DIR')")
    days = operations.day_kpis_between(
        dynamodb, tables.daily_kpis_table, chosen - timedelta(days=7), chosen, published=published
    )
    if chosen not in days:
        latest = operations.latest_kpi_day(
            dynamodb, tables.daily_kpis_table, until=chosen, published=published
        )
        hint = f"; the latest day before it with KPIs is {latest}" if latest else ""
        raise UserError(f"no KPIs for {chosen}{hint}")
    figures = day_summary(
        chosen,
        days,
        operations.categories_of_day(
            dynamodb, tables.category_kpis_table, chosen, published=published
        ),
        top=top,
    )
    if output_format == "json":
        output.write_raw(output.to_json(figures))
        return
    _show_summary(figures)


def _show_summary(figures: dict[str, Any]) -> None:
    measures = []
    for item in figures["measures"]:
        kind = _kind_of(item["measure"])
        measures.append({**item, "kind": kind})
    title = f"{figures['order_date']:%A %Y-%m-%d}"
    view = output.table(
        [
            Column("measure"),
            Column("value", align_right=True),
            Column("previous_day", header="day before", align_right=True),
            Column("change_vs_previous_day", header="change", align_right=True),
            Column("week_before", header="week before", align_right=True),
            Column("change_vs_week_before", header="change", align_right=True),
        ],
        [_summary_cells(item) for item in measures],
        title=title,
    )
    output.show(view)
    output.show(
        output.table(
            SUMMARY_CATEGORIES,
            figures["top_categories"],
            title=f"top {len(figures['top_categories'])} of {figures['categories']} categories "
            "by revenue",
        )
    )


def _kind_of(measure: str) -> str:
    for column in (*DAY_TABLE, Column("avg_order_value", "money")):
        if column.name == measure:
            return column.kind
    return "text"


def _summary_cells(item: dict[str, Any]) -> dict[str, str]:
    column = Column(item["measure"], item["kind"])
    points = item["measure"] == "return_rate"

    def change(value: Any) -> str:
        if value is None:
            return "-"
        sign = "+" if value > 0 else ""
        return f"{sign}{value:,.2f} {'pts' if points else '%'}"

    unit = " %" if item["kind"] == "percent" else ""
    return {
        "measure": item["measure"].replace("_", " "),
        "value": output.format_cell(column, item["value"]) + unit,
        "previous_day": output.format_cell(column, item["previous_day"])
        + (unit if item["previous_day"] is not None else ""),
        "change_vs_previous_day": change(item["change_vs_previous_day"]),
        "week_before": output.format_cell(column, item["week_before"])
        + (unit if item["week_before"] is not None else ""),
        "change_vs_week_before": change(item["change_vs_week_before"]),
    }
