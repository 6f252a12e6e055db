"""The SQL against an independent Python reference of the definitions, on generated data.

Also checks that recomputing only the touched dates after each batch ends in the same KPI
rows as recomputing everything at the end: the touched dates miss nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kpi_lake import CuratedLake
from shopflow_contracts.rows import FileKind
from shopflow_kpi.domain import (
    CategoryKpi,
    CuratedPaths,
    DayKpi,
    all_order_dates,
    compute_all_kpis,
    compute_kpis,
    register_curated,
    touched_dates,
)

ORDERS, ITEMS, PRODUCTS = FileKind.ORDERS, FileKind.ORDER_ITEMS, FileKind.PRODUCTS
DAY0 = datetime(2024, 2, 28, tzinfo=UTC)
STATUSES = ["complete", "Returned", "returned", "cancelled", "CANCELLED", "shipped"]

orders = st.builds(
    lambda oid, minutes, user, status: {
        "order_id": oid,
        "user_id": user,
        "status": status,
        "created_at": DAY0 + timedelta(minutes=minutes),
    },
    st.integers(1, 6),
    st.integers(0, 3 * 24 * 60 - 1),
    st.integers(1, 4),
    st.sampled_from(STATUSES),
)
items = st.builds(
    lambda iid, oid, pid, cents, status, user: {
        "id": iid,
        "order_id": oid,
        "user_id": user,
        "product_id": pid,
        "status": status,
        "sale_price": Decimal(cents) / 100,
    },
    st.integers(1, 10),
    st.integers(1, 7),
    st.integers(1, 4),
    st.integers(0, 9999),
    st.sampled_from(STATUSES),
    st.integers(1, 4),
)
products = st.builds(
    lambda pid, category: {"id": pid, "category": category},
    st.integers(1, 3),
    st.sampled_from(["Jeans", "Tops", "Socks"]),
)
uploads = st.lists(
    st.one_of(
        st.tuples(st.just(ORDERS), st.lists(orders, min_size=1, max_size=5)),
        st.tuples(st.just(ITEMS), st.lists(items, min_size=1, max_size=6)),
        st.tuples(st.just(PRODUCTS), st.lists(products, min_size=1, max_size=3)),
    ),
    min_size=1,
    max_size=7,
)


def round_2dp(value: Fraction) -> Decimal:
    hundredths = value * 100
    whole = int(hundredths)  # non-negative here, so int() truncates toward zero = floor
    if hundredths - whole >= Fraction(1, 2):
        whole += 1
    return Decimal(whole).scaleb(-2).quantize(Decimal("0.01"))


@dataclass
class Version:
    seq: int
    line: int
    row: dict[str, Any]


def reference(
    history: list[tuple[FileKind, list[dict[str, Any]]]], dates: set[date]
) -> tuple[list[DayKpi], list[CategoryKpi]]:
    keys = {ORDERS: "order_id", ITEMS: "id", PRODUCTS: "id"}
    current: dict[FileKind, dict[int, Version]] = {ORDERS: {}, ITEMS: {}, PRODUCTS: {}}
    for seq, (kind, rows) in enumerate(history, start=1):
        for line, row in enumerate(rows, start=2):
            known = current[kind].get(row[keys[kind]])
            if known is None or (seq, line) > (known.seq, known.line):
                current[kind][row[keys[kind]]] = Version(seq, line, row)
    counted_orders = {
        oid: v.row
        for oid, v in current[ORDERS].items()
        if v.row["status"].lower() != "cancelled" and v.row["created_at"].date() in dates
    }
    counted_items = [
        {**v.row, "category": current[PRODUCTS][v.row["product_id"]].row["category"]}
        for v in current[ITEMS].values()
        if v.row["order_id"] in counted_orders
        and v.row["product_id"] in current[PRODUCTS]
        and v.row["user_id"] == counted_orders[v.row["order_id"]]["user_id"]
    ]

    def returned(order_items: list[dict[str, Any]]) -> bool:
        return any(i["status"].lower() == "returned" for i in order_items)

    days = []
    for d in sorted(dates):
        day_orders = [o for o in counted_orders.values() if o["created_at"].date() == d]
        if not day_orders:
            continue
        per_order = [
            [i for i in counted_items if i["order_id"] == o["order_id"]] for o in day_orders
        ]
        days.append(
            DayKpi(
                order_date=d,
                total_orders=len(day_orders),
                total_revenue=sum(
                    (i["sale_price"] for its in per_order for i in its), Decimal("0.00")
                ),
                total_items_sold=sum(len(its) for its in per_order),
                return_rate=round_2dp(
                    Fraction(100 * sum(returned(its) for its in per_order), len(day_orders))
                ),
                unique_customers=len({o["user_id"] for o in day_orders}),
            )
        )
    categories = []
    for d, category in itertools.product(
        sorted(dates), sorted({i["category"] for i in counted_items})
    ):
        scoped = [
            i
            for i in counted_items
            if i["category"] == category and counted_orders[i["order_id"]]["created_at"].date() == d
        ]
        order_ids = {i["order_id"] for i in scoped}
        if not order_ids:
            continue
        revenue = sum((i["sale_price"] for i in scoped), Decimal("0.00"))
        returned_orders = sum(
            returned([i for i in scoped if i["order_id"] == oid]) for oid in order_ids
        )
        categories.append(
            CategoryKpi(
                category=category,
                order_date=d,
                daily_revenue=revenue,
                avg_order_value=round_2dp(Fraction(revenue) / len(order_ids)),
                avg_return_rate=round_2dp(Fraction(100 * returned_orders, len(order_ids))),
            )
        )
    return days, categories


ALL_DATES = {(DAY0 + timedelta(days=n)).date() for n in range(3)}
_lake_counter = itertools.count()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=uploads)
def test_sql_matches_the_reference_and_touched_dates_miss_nothing(
    tmp_path: Path, history: list[tuple[FileKind, list[dict[str, Any]]]]
) -> None:
    # Given the uploads, one batch each, applied one after the other with only the touched
    # dates recomputed each time, as the service does
    lake = CuratedLake(tmp_path / f"lake-{next(_lake_counter)}")
    kept_days: dict[date, DayKpi] = {}
    kept_categories: dict[tuple[str, date], CategoryKpi] = {}
    for n, (kind, rows) in enumerate(history):
        lake.add(f"b{n}", kind, rows)
        with duckdb.connect() as con:
            register_curated(con, lake.paths())
            dates = touched_dates(con, lake.paths(f"b{n}"))
            days, categories = compute_kpis(con, dates)
        for d in dates:
            kept_days.pop(d, None)
        kept_categories = {k: v for k, v in kept_categories.items() if k[1] not in dates}
        kept_days.update({row.order_date: row for row in days})
        kept_categories.update({(row.category, row.order_date): row for row in categories})
    # When everything is computed at once, by the SQL and by the reference
    with duckdb.connect() as con:
        register_curated(con, lake.paths())
        all_days, all_categories = compute_kpis(con, ALL_DATES)
        every_date, every_days, every_categories = compute_all_kpis(con)
        dates_present = all_order_dates(con)
    expected_days, expected_categories = reference(history, ALL_DATES)
    # Then
    assert all_days == expected_days
    assert all_categories == expected_categories
    # and the one-pass computation of every date agrees with the narrowed one
    assert every_date == dates_present
    assert (every_days, every_categories) == (expected_days, expected_categories)
    assert sorted(kept_days.values(), key=lambda r: r.order_date) == expected_days
    assert (
        sorted(kept_categories.values(), key=lambda r: (r.order_date, r.category))
        == expected_categories
    )


def test_an_empty_lake_has_no_touched_dates() -> None:
    with duckdb.connect() as con:
        register_curated(con, CuratedPaths())
        assert touched_dates(con, CuratedPaths()) == []
