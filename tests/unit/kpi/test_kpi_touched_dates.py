"""Which order dates a batch of curated files touches."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from kpi_lake import CuratedLake
from shopflow_contracts.rows import FileKind
from shopflow_kpi.domain import CuratedPaths, touched_dates

ORDERS, ITEMS, PRODUCTS = FileKind.ORDERS, FileKind.ORDER_ITEMS, FileKind.PRODUCTS
MAR1, MAR2, MAR3, MAR4 = (date(2024, 3, d) for d in range(1, 5))


def order(order_id: int, created_at: str, status: str = "complete") -> dict[str, Any]:
    return {"order_id": order_id, "user_id": 1, "status": status, "created_at": created_at}


def item(item_id: int, order_id: int, product_id: int) -> dict[str, Any]:
    return {
        "id": item_id,
        "order_id": order_id,
        "user_id": 1,
        "product_id": product_id,
        "sale_price": Decimal("1.00"),
    }


def touched(lake: CuratedLake, batch: str) -> list[date]:
    with lake.connect() as con:
        return touched_dates(con, lake.paths(batch))


def test_dates_of_the_batchs_orders(lake: CuratedLake) -> None:
    # Given an earlier batch on Mar 3 and a batch with orders on Mar 2 and Mar 1
    lake.add("b0", ORDERS, [order(1, "2024-03-03 10:00:00+00")])
    lake.add("b1", ORDERS, [order(2, "2024-03-02 10:00:00+00"), order(3, "2024-03-01 23:00:00+00")])
    # When / Then: sorted, and the other batch's date is not touched
    assert touched(lake, "b1") == [MAR1, MAR2]


def test_an_order_moved_to_another_date_touches_both_dates(lake: CuratedLake) -> None:
    # Given order 1 on Mar 1, then a correction moving it to Mar 2
    lake.add("b0", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    lake.add("b1", ORDERS, [order(1, "2024-03-02 10:00:00+00")])
    # When / Then
    assert touched(lake, "b1") == [MAR1, MAR2]


def test_an_order_corrected_to_cancelled_touches_its_date(lake: CuratedLake) -> None:
    lake.add("b0", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00", status="cancelled")])
    assert touched(lake, "b1") == [MAR1]


def test_items_touch_the_dates_of_their_orders_from_earlier_batches(lake: CuratedLake) -> None:
    # Given orders uploaded earlier, and a batch of items only (one of an unknown order)
    lake.add("b0", ORDERS, [order(1, "2024-03-01 10:00:00+00"), order(2, "2024-03-03 10:00:00+00")])
    lake.add("b1", ITEMS, [item(10, 2, 5), item(11, 99, 5)])
    # When / Then: only order 2's date; order 99 has not arrived, so it has no date yet
    assert touched(lake, "b1") == [MAR3]


def test_an_item_moved_to_another_order_touches_both_orders_dates(lake: CuratedLake) -> None:
    # Given item 10 of order 1 (Mar 1), then a correction moving it to order 2 (Mar 2)
    lake.add("b0", ORDERS, [order(1, "2024-03-01 10:00:00+00"), order(2, "2024-03-02 10:00:00+00")])
    lake.add("b0", ITEMS, [item(10, 1, 5)])
    lake.add("b1", ITEMS, [item(10, 2, 5)])
    # When / Then
    assert touched(lake, "b1") == [MAR1, MAR2]


def test_products_touch_the_dates_of_the_orders_of_their_items(lake: CuratedLake) -> None:
    # Given items of products 5 (orders on Mar 1 and Mar 4) and 6 (Mar 2), then a batch
    # with product 5 only
    lake.add(
        "b0",
        ORDERS,
        [
            order(1, "2024-03-01 10:00:00+00"),
            order(2, "2024-03-02 10:00:00+00"),
            order(4, "2024-03-04 10:00:00+00"),
        ],
    )
    lake.add("b0", ITEMS, [item(10, 1, 5), item(11, 2, 6), item(12, 4, 5)])
    lake.add("b1", PRODUCTS, [{"id": 5, "category": "Jeans"}])
    # When / Then
    assert touched(lake, "b1") == [MAR1, MAR4]


def test_an_empty_batch_touches_nothing(lake: CuratedLake) -> None:
    lake.add("b0", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    with lake.connect() as con:
        assert touched_dates(con, CuratedPaths()) == []
