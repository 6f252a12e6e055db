"""Each KPI definition, on small data whose expected KPIs are computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from kpi_lake import CuratedLake
from shopflow_contracts.rows import FileKind
from shopflow_kpi.domain import CategoryKpi, DayKpi, compute_kpis

ORDERS, ITEMS, PRODUCTS = FileKind.ORDERS, FileKind.ORDER_ITEMS, FileKind.PRODUCTS
MAR1, MAR2 = date(2024, 3, 1), date(2024, 3, 2)


def order(
    order_id: int, created_at: str, user_id: int = 1, status: str = "complete"
) -> dict[str, Any]:
    return {"order_id": order_id, "user_id": user_id, "status": status, "created_at": created_at}


def item(
    item_id: int,
    order_id: int,
    product_id: int,
    price: str,
    status: str = "complete",
    created_at: str = "2024-03-01 12:00:00+00",
    user_id: int = 1,
) -> dict[str, Any]:
    return {
        "id": item_id,
        "order_id": order_id,
        "user_id": user_id,
        "product_id": product_id,
        "status": status,
        "created_at": created_at,
        "sale_price": Decimal(price),
    }


def product(product_id: int, category: str) -> dict[str, Any]:
    return {"id": product_id, "category": category}


def kpis(
    lake: CuratedLake, *dates: date
) -> tuple[dict[date, DayKpi], dict[tuple[str, date], CategoryKpi]]:
    with lake.connect() as con:
        days, categories = compute_kpis(con, dates)
    return {d.order_date: d for d in days}, {(c.category, c.order_date): c for c in categories}


def day(
    on: date, orders: int, revenue: str, items: int, return_rate: str, customers: int
) -> DayKpi:
    return DayKpi(
        order_date=on,
        total_orders=orders,
        total_revenue=Decimal(revenue),
        total_items_sold=items,
        return_rate=Decimal(return_rate),
        unique_customers=customers,
    )


def category(name: str, on: date, revenue: str, aov: str, return_rate: str) -> CategoryKpi:
    return CategoryKpi(
        category=name,
        order_date=on,
        daily_revenue=Decimal(revenue),
        avg_order_value=Decimal(aov),
        avg_return_rate=Decimal(return_rate),
    )


@pytest.fixture
def catalogue(lake: CuratedLake) -> CuratedLake:
    lake.add("b0", PRODUCTS, [product(1, "Jeans"), product(2, "Tops")])
    return lake


def test_returned_item_marks_the_order_returned_for_the_day_but_only_in_its_own_category(
    catalogue: CuratedLake,
) -> None:
    # Given order 10 with a returned Jeans item and a kept Tops item, and order 11 (Tops)
    catalogue.add(
        "b1",
        ORDERS,
        [
            order(10, "2024-03-01 09:00:00+00", user_id=100),
            order(11, "2024-03-01 10:00:00+00", user_id=101),
        ],
    )
    catalogue.add(
        "b1",
        ITEMS,
        [
            item(1, 10, 1, "50.00", status="returned", user_id=100),
            item(2, 10, 2, "30.00", user_id=100),
            item(3, 11, 2, "20.00", user_id=101),
        ],
    )
    # When
    days, categories = kpis(catalogue, MAR1)
    # Then: 1 of 2 orders returned on the day; Jeans: 1 of 1; Tops: 0 of 2
    assert days == {MAR1: day(MAR1, 2, "100.00", 3, "50.00", 2)}
    assert categories == {
        ("Jeans", MAR1): category("Jeans", MAR1, "50.00", "50.00", "100.00"),
        ("Tops", MAR1): category("Tops", MAR1, "50.00", "25.00", "0.00"),
    }


def test_cancelled_order_counts_nowhere_whatever_the_case_of_its_status(
    catalogue: CuratedLake,
) -> None:
    # Given two cancelled orders (one spelled "Cancelled") with items, and one kept order
    catalogue.add(
        "b1",
        ORDERS,
        [
            order(20, "2024-03-01 09:00:00+00", 200, "cancelled"),
            order(21, "2024-03-01 09:30:00+00", 201, "Cancelled"),
            order(22, "2024-03-01 10:00:00+00", 202),
        ],
    )
    catalogue.add(
        "b1",
        ITEMS,
        [
            item(1, 20, 1, "99.00", status="returned", user_id=200),
            item(2, 21, 1, "77.00", user_id=201),
            item(3, 22, 2, "10.00", user_id=202),
        ],
    )
    # When
    days, categories = kpis(catalogue, MAR1)
    # Then: neither the cancelled orders, their items, customers nor their category count
    assert days == {MAR1: day(MAR1, 1, "10.00", 1, "0.00", 1)}
    assert categories == {("Tops", MAR1): category("Tops", MAR1, "10.00", "10.00", "0.00")}


def test_mixed_case_returned_status_counts_as_returned(catalogue: CuratedLake) -> None:
    # Given an item whose status is spelled "RETURNED" and an order spelled "Complete"
    catalogue.add("b1", ORDERS, [order(10, "2024-03-01 09:00:00+00", status="Complete")])
    catalogue.add("b1", ITEMS, [item(1, 10, 1, "40.00", status="RETURNED")])
    # When
    days, categories = kpis(catalogue, MAR1)
    # Then
    assert days[MAR1].return_rate == Decimal("100.00")
    assert categories[("Jeans", MAR1)].avg_return_rate == Decimal("100.00")


def test_item_counts_on_its_orders_utc_date_not_its_own(catalogue: CuratedLake) -> None:
    # Given an order late on Mar 1 (UTC) whose item was created after midnight, and an order
    # placed on Mar 1 evening in UTC-5, which is Mar 2 in UTC
    catalogue.add(
        "b1", ORDERS, [order(10, "2024-03-01 23:59:00+00"), order(11, "2024-03-01 23:30:00-05:00")]
    )
    catalogue.add(
        "b1",
        ITEMS,
        [
            item(1, 10, 1, "5.00", created_at="2024-03-02 00:05:00+00"),
            item(2, 11, 2, "7.00", created_at="2024-03-02 04:31:00+00"),
        ],
    )
    # When
    days, categories = kpis(catalogue, MAR1, MAR2)
    # Then
    assert days == {
        MAR1: day(MAR1, 1, "5.00", 1, "0.00", 1),
        MAR2: day(MAR2, 1, "7.00", 1, "0.00", 1),
    }
    assert set(categories) == {("Jeans", MAR1), ("Tops", MAR2)}


def test_order_without_items_counts_for_the_day_but_in_no_category(catalogue: CuratedLake) -> None:
    # Given on Mar 1 an order without items and one with an item; on Mar 2 only an empty order
    catalogue.add(
        "b1",
        ORDERS,
        [
            order(30, "2024-03-01 09:00:00+00", user_id=300),
            order(31, "2024-03-01 10:00:00+00", user_id=301),
            order(32, "2024-03-02 10:00:00+00", user_id=302),
        ],
    )
    catalogue.add("b1", ITEMS, [item(1, 31, 2, "15.00", user_id=301)])
    # When
    days, categories = kpis(catalogue, MAR1, MAR2)
    # Then
    assert days == {
        MAR1: day(MAR1, 2, "15.00", 1, "0.00", 2),
        MAR2: day(MAR2, 1, "0.00", 0, "0.00", 1),
    }
    assert categories == {("Tops", MAR1): category("Tops", MAR1, "15.00", "15.00", "0.00")}


def test_same_customer_twice_is_one_unique_customer(catalogue: CuratedLake) -> None:
    # Given two orders of user 7 and one of user 8 on the same day
    catalogue.add(
        "b1",
        ORDERS,
        [
            order(1, "2024-03-01 01:00:00+00", user_id=7),
            order(2, "2024-03-01 02:00:00+00", user_id=7),
            order(3, "2024-03-01 03:00:00+00", user_id=8),
        ],
    )
    # When
    days, _ = kpis(catalogue, MAR1)
    # Then
    assert (days[MAR1].total_orders, days[MAR1].unique_customers) == (3, 2)


def test_duplicate_rows_count_once(catalogue: CuratedLake) -> None:
    # Given the same order and item twice in one upload, and the item again in another file
    # of the same upload
    catalogue.add("b1", ORDERS, [order(10, "2024-03-01 09:00:00+00")] * 2, seq="000009")
    catalogue.add("b1", ITEMS, [item(1, 10, 1, "12.50")] * 2, seq="000009")
    catalogue.add("b1", ITEMS, [item(1, 10, 1, "12.50")], seq="000009")
    # When
    days, categories = kpis(catalogue, MAR1)
    # Then
    assert days == {MAR1: day(MAR1, 1, "12.50", 1, "0.00", 1)}
    assert categories[("Jeans", MAR1)].daily_revenue == Decimal("12.50")


def test_later_ingest_seq_corrects_a_row_and_an_earlier_one_does_not(
    catalogue: CuratedLake,
) -> None:
    # Given an item priced 10.00, corrected to 12.00 by a later upload, and a late-arriving
    # file carrying an older version (smaller _ingest_seq) priced 99.00
    catalogue.add("b1", ORDERS, [order(10, "2024-03-01 09:00:00+00")], seq="000100")
    catalogue.add("b1", ITEMS, [item(1, 10, 1, "10.00")], seq="000100")
    catalogue.add("b2", ITEMS, [item(1, 10, 1, "12.00", status="returned")], seq="000200")
    catalogue.add("b3", ITEMS, [item(1, 10, 1, "99.00")], seq="000150")
    # When
    days, _ = kpis(catalogue, MAR1)
    # Then
    assert days == {MAR1: day(MAR1, 1, "12.00", 1, "100.00", 1)}


def test_order_corrected_to_cancelled_leaves_its_date_without_kpis(catalogue: CuratedLake) -> None:
    # Given the only order of Mar 1, then a correction cancelling it
    catalogue.add("b1", ORDERS, [order(10, "2024-03-01 09:00:00+00")])
    catalogue.add("b1", ITEMS, [item(1, 10, 1, "10.00")])
    catalogue.add("b2", ORDERS, [order(10, "2024-03-01 09:00:00+00", status="cancelled")])
    # When
    days, categories = kpis(catalogue, MAR1)
    # Then
    assert days == {}
    assert categories == {}


def test_order_moved_to_another_date_counts_only_on_the_new_date(catalogue: CuratedLake) -> None:
    # Given order 10 on Mar 1 with an item, then a correction moving it to Mar 2
    catalogue.add(
        "b1", ORDERS, [order(10, "2024-03-01 09:00:00+00"), order(11, "2024-03-01 11:00:00+00")]
    )
    catalogue.add("b1", ITEMS, [item(1, 10, 1, "10.00"), item(2, 11, 2, "4.00")])
    catalogue.add("b2", ORDERS, [order(10, "2024-03-02 09:00:00+00")])
    # When
    days, categories = kpis(catalogue, MAR1, MAR2)
    # Then
    assert days == {
        MAR1: day(MAR1, 1, "4.00", 1, "0.00", 1),
        MAR2: day(MAR2, 1, "10.00", 1, "0.00", 1),
    }
    assert set(categories) == {("Tops", MAR1), ("Jeans", MAR2)}


def test_item_whose_order_or_product_has_not_arrived_does_not_count(lake: CuratedLake) -> None:
    # Given products 1 only; item 1 of unknown product 99, item 2 of unknown order 77
    lake.add("b0", PRODUCTS, [product(1, "Jeans")])
    lake.add("b1", ORDERS, [order(10, "2024-03-01 09:00:00+00")])
    lake.add(
        "b1",
        ITEMS,
        [
            item(1, 10, 99, "80.00", status="returned"),
            item(2, 77, 1, "60.00"),
            item(3, 10, 1, "5.00"),
        ],
    )
    # When
    days, categories = kpis(lake, MAR1)
    # Then
    assert days == {MAR1: day(MAR1, 1, "5.00", 1, "0.00", 1)}
    assert categories == {("Jeans", MAR1): category("Jeans", MAR1, "5.00", "5.00", "0.00")}


def test_category_comes_from_the_current_version_of_the_product(lake: CuratedLake) -> None:
    # Given product 1 first filed under "Jeans", then corrected to "Trousers"
    lake.add("b0", PRODUCTS, [product(1, "Jeans")])
    lake.add("b1", ORDERS, [order(10, "2024-03-01 09:00:00+00")])
    lake.add("b1", ITEMS, [item(1, 10, 1, "5.00")])
    lake.add("b2", PRODUCTS, [product(1, "Trousers")])
    # When
    _, categories = kpis(lake, MAR1)
    # Then
    assert set(categories) == {("Trousers", MAR1)}


def test_only_the_requested_dates_are_computed(catalogue: CuratedLake) -> None:
    # Given orders on Mar 1 and Mar 2
    catalogue.add(
        "b1", ORDERS, [order(10, "2024-03-01 09:00:00+00"), order(11, "2024-03-02 09:00:00+00")]
    )
    catalogue.add("b1", ITEMS, [item(1, 10, 1, "1.00"), item(2, 11, 1, "2.00")])
    # When
    days, categories = kpis(catalogue, MAR2)
    # Then
    assert set(days) == {MAR2}
    assert set(categories) == {("Jeans", MAR2)}


def test_no_dates_computes_nothing(catalogue: CuratedLake) -> None:
    catalogue.add("b1", ORDERS, [order(10, "2024-03-01 09:00:00+00")])
    assert kpis(catalogue) == ({}, {})


def test_empty_lake_computes_nothing(lake: CuratedLake) -> None:
    assert kpis(lake, MAR1) == ({}, {})


# --- numbers ---------------------------------------------------------------------------


def test_average_order_value_rounds_half_away_from_zero(catalogue: CuratedLake) -> None:
    # Given two Jeans orders worth 0.10 and 0.15: the average is exactly 0.125
    catalogue.add(
        "b1", ORDERS, [order(10, "2024-03-01 09:00:00+00"), order(11, "2024-03-01 10:00:00+00")]
    )
    catalogue.add("b1", ITEMS, [item(1, 10, 1, "0.10"), item(2, 11, 1, "0.15")])
    # When
    _, categories = kpis(catalogue, MAR1)
    # Then
    assert categories[("Jeans", MAR1)] == category("Jeans", MAR1, "0.25", "0.13", "0.00")


def test_rates_round_thirds_to_two_places(catalogue: CuratedLake) -> None:
    # Given three Jeans orders on Mar 1 of which 1 is returned, three on Mar 2 with 2 returned
    orders, items = [], []
    for n, (created, returned) in enumerate(
        [
            ("2024-03-01", True),
            ("2024-03-01", False),
            ("2024-03-01", False),
            ("2024-03-02", True),
            ("2024-03-02", True),
            ("2024-03-02", False),
        ]
    ):
        orders.append(order(100 + n, f"{created} 08:00:00+00", user_id=n))
        items.append(
            item(n, 100 + n, 1, "1.00", status="returned" if returned else "shipped", user_id=n)
        )
    catalogue.add("b1", ORDERS, orders)
    catalogue.add("b1", ITEMS, items)
    # When
    days, categories = kpis(catalogue, MAR1, MAR2)
    # Then
    assert (days[MAR1].return_rate, days[MAR2].return_rate) == (Decimal("33.33"), Decimal("66.67"))
    assert categories[("Jeans", MAR1)].avg_return_rate == Decimal("33.33")
    assert categories[("Jeans", MAR2)].avg_return_rate == Decimal("66.67")
    assert categories[("Jeans", MAR1)].avg_order_value == Decimal("1.00")


def test_results_are_exact_decimals_and_integers_never_floats(catalogue: CuratedLake) -> None:
    # Given prices whose float sum is not exact (0.1 + 0.2)
    catalogue.add("b1", ORDERS, [order(10, "2024-03-01 09:00:00+00")])
    catalogue.add("b1", ITEMS, [item(1, 10, 1, "0.10"), item(2, 10, 1, "0.20")])
    # When
    days, categories = kpis(catalogue, MAR1)
    # Then
    result = days[MAR1]
    assert result.total_revenue == Decimal("0.30")
    for money in (result.total_revenue, result.return_rate):
        assert type(money) is Decimal
        assert money.as_tuple().exponent == -2
    for count in (result.total_orders, result.total_items_sold, result.unique_customers):
        assert type(count) is int
    jeans = categories[("Jeans", MAR1)]
    for money in (jeans.daily_revenue, jeans.avg_order_value, jeans.avg_return_rate):
        assert type(money) is Decimal
        assert money.as_tuple().exponent == -2
    assert jeans.daily_revenue == Decimal("0.30")


def test_duckdb_round_on_decimal_is_half_away_from_zero_but_decimal_division_is_float() -> None:
    # Why the SQL divides in integers: DuckDB's ROUND on a DECIMAL rounds half away from
    # zero, but DECIMAL / DECIMAL yields a DOUBLE, whose rounding would not be exact.
    with duckdb.connect() as con:
        rounded = con.execute(
            "SELECT round(CAST(0.125 AS DECIMAL(18,3)), 2), round(CAST(-0.125 AS DECIMAL(18,3)), 2)"
        ).fetchone()
        quotient_type = con.execute(
            "SELECT typeof(CAST(1 AS DECIMAL(18,2)) / CAST(3 AS DECIMAL(18,2)))"
        ).fetchone()
    assert rounded == (Decimal("0.13"), Decimal("-0.13"))
    assert quotient_type == ("DOUBLE",)


def test_an_item_naming_another_customer_than_its_order_never_counts(
    catalogue: CuratedLake,
) -> None:
    # Given order 10 of user 100, with one item of user 100 and one of user 999, each
    # uploaded in its own batch (so the validator's same-batch check never saw them)
    catalogue.add("b1", ORDERS, [order(10, "2024-03-01 09:00:00+00", user_id=100)])
    catalogue.add("b2", ITEMS, [item(1, 10, 1, "10.00", user_id=100)])
    catalogue.add("b3", ITEMS, [item(2, 10, 1, "99.00", user_id=999)])
    # When
    days, categories = kpis(catalogue, MAR1)
    # Then only the consistent item counts
    assert days == {MAR1: day(MAR1, 1, "10.00", 1, "0.00", 1)}
    assert categories[("Jeans", MAR1)].daily_revenue == Decimal("10.00")
