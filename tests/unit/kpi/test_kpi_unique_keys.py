"""A full recomputation skips picking versions where the curated files say there is none."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kpi_lake import CuratedLake
from shopflow_contracts.rows import FileKind
from shopflow_kpi.domain import compute_all_kpis, compute_kpis
from shopflow_kpi.domain.kpis import all_order_dates, keys_known_unique

ORDERS, ITEMS, PRODUCTS = FileKind.ORDERS, FileKind.ORDER_ITEMS, FileKind.PRODUCTS


def order(order_id: int, day: int, status: str = "complete") -> dict[str, Any]:
    return {
        "order_id": order_id,
        "user_id": order_id,
        "status": status,
        "created_at": f"2024-03-{day:02d} 10:00:00+00",
    }


def item(item_id: int, order_id: int, price: str, status: str = "complete") -> dict[str, Any]:
    return {
        "id": item_id,
        "order_id": order_id,
        "user_id": order_id,
        "product_id": 1,
        "status": status,
        "sale_price": Decimal(price),
    }


def test_files_of_disjoint_unique_keys_are_known_unique_and_give_the_same_kpis(
    lake: CuratedLake,
) -> None:
    # Given two order files and two item files of consecutive ids, each saying its keys are
    # unique, as the validator writes them
    lake.add("b1", PRODUCTS, [{"id": 1, "category": "Jeans"}], key_repeats=0)
    lake.add("b1", ORDERS, [order(1, 1), order(2, 1)], key_repeats=0)
    lake.add("b2", ORDERS, [order(3, 2), order(4, 2, "cancelled")], key_repeats=0)
    lake.add("b1", ITEMS, [item(1, 1, "3.50"), item(2, 2, "1.25", "returned")], key_repeats=0)
    lake.add("b2", ITEMS, [item(3, 3, "2.00"), item(4, 4, "9.99")], key_repeats=0)
    with lake.connect() as con:
        # When every date is computed
        unique = keys_known_unique(con)
        dates, days, categories = compute_all_kpis(con)
        # Then orders and items need no pick, and the KPIs are those of the narrowed path,
        # which always picks
        assert unique == {ORDERS, ITEMS, PRODUCTS}
        assert (days, categories) == compute_kpis(con, all_order_dates(con))
    assert [(d.order_date.day, d.total_orders, d.total_revenue) for d in days] == [
        (1, 2, Decimal("4.75")),
        (2, 1, Decimal("2.00")),
    ]
    assert dates == [d.order_date for d in days]


def test_overlapping_key_ranges_or_a_file_with_repeats_or_without_the_count_are_not(
    lake: CuratedLake,
) -> None:
    # Given orders whose second file corrects an order of the first (ranges overlap), items
    # of one file with a repeated key, and products without the metadata
    lake.add("b1", PRODUCTS, [{"id": 1, "category": "Jeans"}])
    lake.add("b1", ORDERS, [order(1, 1), order(2, 1)], key_repeats=0)
    lake.add("b2", ORDERS, [order(2, 2)], key_repeats=0)
    lake.add("b1", ITEMS, [item(1, 1, "3.50"), item(1, 1, "4.00")], key_repeats=1)
    with lake.connect() as con:
        # When the registration looks at the files
        unique = keys_known_unique(con)
        _, days, _ = compute_all_kpis(con)
    # Then no kind is taken as unique, and the corrections count as corrections
    assert unique == set()
    assert [(d.order_date.day, d.total_orders, d.total_revenue) for d in days] == [
        (1, 1, Decimal("4.00")),
        (2, 1, Decimal("0.00")),
    ]
