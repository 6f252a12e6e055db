"""Hand-computed expectations for the reference KPIs (tests/reference_kpis.py).

Every expected number below is worked out by hand from the tiny CSVs in the test, so these
tests pin the KPI definitions, not the implementation.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import pytest
from reference_kpis import reference_kpis
from shopflow_cli.sampledata import generate_sample
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS

ORDERS = "order_id,user_id,status,created_at,returned_at,shipped_at,delivered_at,num_of_item"
ITEMS = (
    "id,order_id,user_id,product_id,status,created_at,shipped_at,delivered_at,returned_at,"
    "sale_price"
)
PRODUCTS = "id,cost,category,name,brand,retail_price,department,sku,distribution_center_id"

# 1 and 4 are Jeans, 2 Dresses, 3 Swim.
CATALOGUE = (
    "1,20.00,Jeans,Slim Jean,Levi's,49.00,Women,SKU1,1",
    "2,10.00,Dresses,Wrap Dress,,35.00,Women,,2",
    "3,5.00,Swim,,Speedo,19.00,,SKU3,3",
    '4,12.00,Jeans,"Bootcut Jean, Indigo",Levi\'s,39.00,Men,SKU4,1',
)


def write(path: Path, header: str, *lines: str) -> Path:
    path.write_text("\n".join((header, *lines)) + "\n", encoding="utf-8")
    return path


def day(
    order_date: str,
    total_orders: int,
    total_revenue: str,
    total_items_sold: int,
    return_rate: str,
    unique_customers: int,
) -> dict[str, str]:
    return {
        "order_date": order_date,
        "total_orders": str(total_orders),
        "total_revenue": total_revenue,
        "total_items_sold": str(total_items_sold),
        "return_rate": return_rate,
        "unique_customers": str(unique_customers),
    }


def category(
    name: str, order_date: str, revenue: str, avg_order_value: str, avg_return_rate: str
) -> dict[str, str]:
    return {
        "category": name,
        "order_date": order_date,
        "daily_revenue": revenue,
        "avg_order_value": avg_order_value,
        "avg_return_rate": avg_return_rate,
    }


@pytest.fixture
def products(tmp_path: Path) -> Path:
    return write(tmp_path / "products.csv", PRODUCTS, *CATALOGUE)


def test_two_category_order_with_one_returned_item(tmp_path: Path, products: Path) -> None:
    orders = write(
        tmp_path / "orders.csv",
        ORDERS,
        "1,10,returned,2025-03-01T10:00:00,2025-03-06T09:00:00,2025-03-02T08:00:00,"
        "2025-03-03T08:00:00,2",
        "2,11,Complete,2025-03-01 12:00:00 UTC,,,,1",
    )
    items = write(
        tmp_path / "order_items.csv",
        ITEMS,
        "1,1,10,1,complete,2025-03-01T10:03:00,,,,40.00",
        "2,1,10,2,returned,2025-03-01 10:04:00 UTC,2025-03-02T08:00:00,2025-03-03T08:00:00,"
        "2025-03-06T09:00:00,25.50",
        "3,2,11,4,COMPLETE,2025-03-01T12:05:00,,,,19.97",
    )
    categories, days = reference_kpis([orders, items, products])

    # Jeans: orders 1 and 2, 40.00 + 19.97 = 59.97, 59.97 / 2 = 29.985 -> 29.99 (half up),
    # neither order returned a pair of jeans.
    # Dresses: order 1 only, returned its dress.
    assert categories == [
        category("Dresses", "2025-03-01", "25.50", "25.50", "100.00"),
        category("Jeans", "2025-03-01", "59.97", "29.99", "0.00"),
    ]
    # Order 1 is returned at day scope (one returned item), order 2 is not.
    assert days == [day("2025-03-01", 2, "85.47", 3, "50.00", 2)]
    assert all(tuple(row) == CATEGORY_KPI_COLUMNS for row in categories)
    assert all(tuple(row) == DAY_KPI_COLUMNS for row in days)


def test_rates_round_half_away_from_zero_to_two_places(tmp_path: Path, products: Path) -> None:
    orders = write(
        tmp_path / "orders.csv",
        ORDERS,
        "1,10,returned,2025-03-01T10:00:00,2025-03-05T10:00:00,,,1",
        "2,10,returned,2025-03-01T11:00:00,2025-03-05T10:00:00,,,1",
        "3,12,complete,2025-03-01T12:00:00,,,,1",
    )
    items = write(
        tmp_path / "order_items.csv",
        ITEMS,
        "1,1,10,3,returned,2025-03-01T10:05:00,,,2025-03-05T10:00:00,0.01",
        "2,2,10,3,returned,2025-03-01T11:05:00,,,2025-03-05T10:00:00,0.01",
        "3,3,12,3,complete,2025-03-01T12:05:00,,,,0.03",
    )
    categories, days = reference_kpis([products, orders, items])
    # 0.05 / 3 = 0.01666.. -> 0.02; 2 of 3 returned = 66.666.. -> 66.67.
    assert categories == [category("Swim", "2025-03-01", "0.05", "0.02", "66.67")]
    assert days == [day("2025-03-01", 3, "0.05", 3, "66.67", 2)]


def test_cancelled_orders_count_nowhere(tmp_path: Path, products: Path) -> None:
    orders = write(
        tmp_path / "orders.csv",
        ORDERS,
        "1,10,complete,2025-03-01T10:00:00,,,,1",
        "2,11,CANCELLED,2025-03-01T11:00:00,,,,1",
        "3,12,cancelled,2025-03-02T11:00:00,,,,1",
    )
    items = write(
        tmp_path / "order_items.csv",
        ITEMS,
        "1,1,10,1,complete,2025-03-01T10:01:00,,,,10.00",
        "2,2,11,2,cancelled,2025-03-01T11:01:00,,,,99.00",
        "3,3,12,1,cancelled,2025-03-02T11:01:00,,,,50.00",
    )
    categories, days = reference_kpis([orders, items, products])
    # 2025-03-02 has only a cancelled order: no row at all; no Dresses row either.
    assert categories == [category("Jeans", "2025-03-01", "10.00", "10.00", "0.00")]
    assert days == [day("2025-03-01", 1, "10.00", 1, "0.00", 1)]


def test_an_item_counts_on_its_orders_utc_date(tmp_path: Path, products: Path) -> None:
    orders = write(
        tmp_path / "orders.csv",
        ORDERS,
        "1,10,complete,2025-03-01 23:59:00 UTC,,,,1",
        # 23:30 at UTC-2 is 01:30 UTC the next day.
        "2,11,processing,2025-03-01T23:30:00-02:00,,,,1",
    )
    items = write(
        tmp_path / "order_items.csv",
        ITEMS,
        "1,1,10,2,complete,2025-03-02T00:02:00,,,,30.00",
        "2,2,11,2,processing,2025-03-02T01:35:00,,,,12.00",
    )
    categories, days = reference_kpis([orders, items, products])
    assert categories == [
        category("Dresses", "2025-03-01", "30.00", "30.00", "0.00"),
        category("Dresses", "2025-03-02", "12.00", "12.00", "0.00"),
    ]
    assert days == [
        day("2025-03-01", 1, "30.00", 1, "0.00", 1),
        day("2025-03-02", 1, "12.00", 1, "0.00", 1),
    ]


def test_an_order_without_items_counts_only_in_the_day(tmp_path: Path, products: Path) -> None:
    orders = write(
        tmp_path / "orders.csv",
        ORDERS,
        "1,10,returned,2025-03-01T10:00:00,2025-03-04T10:00:00,,,1",
        "2,11,pending,2025-03-01T11:00:00,,,,2",
        "3,10,pending,2025-03-01T12:00:00,,,,1",
    )
    items = write(
        tmp_path / "order_items.csv",
        ITEMS,
        "1,1,10,1,returned,2025-03-01T10:01:00,,,2025-03-04T10:00:00,10.00",
    )
    categories, days = reference_kpis([orders, items, products])
    assert categories == [category("Jeans", "2025-03-01", "10.00", "10.00", "100.00")]
    # Three orders, customers 10 and 11; 1 of 3 returned = 33.333.. -> 33.33.
    assert days == [day("2025-03-01", 3, "10.00", 1, "33.33", 2)]


def test_a_repeated_row_counts_once(tmp_path: Path, products: Path) -> None:
    order = "1,10,complete,2025-03-01T10:00:00,,,,1"
    item = "1,1,10,1,complete,2025-03-01T10:01:00,,,,10.00"
    first = write(tmp_path / "a.csv", ORDERS, order, order)
    items = write(tmp_path / "b.csv", ITEMS, item, item)
    again = write(tmp_path / "c.csv", ITEMS, item)
    categories, days = reference_kpis([first, items, products, again])
    assert categories == [category("Jeans", "2025-03-01", "10.00", "10.00", "0.00")]
    assert days == [day("2025-03-01", 1, "10.00", 1, "0.00", 1)]


def test_a_later_valid_row_corrects_an_earlier_one(tmp_path: Path, products: Path) -> None:
    orders = write(
        tmp_path / "orders.csv",
        ORDERS,
        "1,10,complete,2025-03-01T10:00:00,,,,1",
        "2,11,complete,2025-03-01T11:00:00,,,,1",
    )
    items = write(
        tmp_path / "items.csv",
        ITEMS,
        "1,1,10,1,returned,2025-03-01T10:01:00,,,2025-03-03T10:00:00,10.00",
        "2,2,11,2,complete,2025-03-01T11:01:00,,,,20.00",
    )
    corrections = write(
        tmp_path / "items-fix.csv",
        ITEMS,
        # Price and status corrected, and the product moved to Swim.
        "1,1,10,3,complete,2025-03-01T10:01:00,,,,12.00",
        # Invalid (thousands separator): must not replace the valid row 2.
        '2,2,11,2,complete,2025-03-01T11:01:00,,,,"1,020.00"',
    )
    order_fix = write(
        tmp_path / "orders-fix.csv", ORDERS, "2,11,cancelled,2025-03-01T11:00:00,,,,1"
    )

    categories, days = reference_kpis([orders, items, products, corrections])
    assert categories == [
        category("Dresses", "2025-03-01", "20.00", "20.00", "0.00"),
        category("Swim", "2025-03-01", "12.00", "12.00", "0.00"),
    ]
    assert days == [day("2025-03-01", 2, "32.00", 2, "0.00", 2)]

    categories, days = reference_kpis([orders, items, products, corrections, order_fix])
    assert categories == [category("Swim", "2025-03-01", "12.00", "12.00", "0.00")]
    assert days == [day("2025-03-01", 1, "12.00", 1, "0.00", 1)]

    # Order matters for corrections: the earlier file given last wins again.
    categories, _ = reference_kpis([corrections, orders, products, items])
    assert categories == [
        category("Dresses", "2025-03-01", "20.00", "20.00", "0.00"),
        category("Jeans", "2025-03-01", "10.00", "10.00", "100.00"),
    ]


def test_invalid_and_orphaned_rows_do_not_count(tmp_path: Path) -> None:
    products = write(
        tmp_path / "products.csv",
        PRODUCTS,
        *CATALOGUE,
        "5,1.00,,Nameless,,2.00,,,1",  # empty category: rejected
    )
    orders = write(
        tmp_path / "orders.csv",
        ORDERS,
        "1,10,complete,2025-03-01T10:00:00,,,,1",
        "2,11,returned,2025-03-01T10:00:00,,,,1",  # returned without returned_at
        "3,12,shipped?,2025-03-01T10:00:00,,,,1",
        "4,13,complete,,,,,1",
        "5,14,complete,2025-03-01T10:00:00,,,,0",
        "6,15,shipped,2025-03-01T10:00:00,,2025-03-01T09:00:00,,1",  # shipped before created
    )
    items = write(
        tmp_path / "order_items.csv",
        ITEMS,
        "1,1,10,1,complete,2025-03-01T10:01:00,,,,10.00",
        "2,1,10,1,complete,2025-03-01T10:01:00,,,,-1.00",
        "3,1,10,1,complete,2025-03-01T10:01:00,,,,1.0.5",
        "4,1,10,1,returned,2025-03-01T10:01:00,,,,1.00",
        "5,1,10,1,complete,2025-03-01T10:01:00,2025-03-01T10:00:00,,,1.00",
        "x6,1,10,1,complete,2025-03-01T10:01:00,,,,1.00",
        "7,1,10,5,complete,2025-03-01T10:01:00,,,,1.00",  # product rejected
        "8,1,10,99,complete,2025-03-01T10:01:00,,,,1.00",  # product unknown
        "9,2,11,1,complete,2025-03-01T10:01:00,,,,1.00",  # order rejected
        "10,1,10,1,complete,2025-03-01T10:01:00,,,,1.00,extra",  # too many cells
    )
    categories, days = reference_kpis([products, orders, items])
    assert categories == [category("Jeans", "2025-03-01", "10.00", "10.00", "0.00")]
    assert days == [day("2025-03-01", 1, "10.00", 1, "0.00", 1)]


def test_files_are_recognised_by_header_and_their_order_does_not_matter(
    tmp_path: Path,
) -> None:
    # Disjoint keys across files, so no row corrects another and any order must agree.
    files = [
        write(tmp_path / "export-1.csv", PRODUCTS, *CATALOGUE[:2]),
        write(tmp_path / "export-2.csv", PRODUCTS, *CATALOGUE[2:]),
        write(
            tmp_path / "export-3.csv",
            ORDERS,
            "1,10,returned,2025-03-01T10:00:00,2025-03-04T10:00:00,,,2",
            "2,11,complete,2025-03-02 09:00:00 UTC,,,,1",
        ),
        write(tmp_path / "export-4.csv", ORDERS, "3,10,shipped,2025-03-02T10:00:00,,,,1"),
        write(
            tmp_path / "export-5.csv",
            ITEMS,
            "1,1,10,1,returned,2025-03-01T10:01:00,,,2025-03-04T10:00:00,10.00",
            "2,1,10,3,complete,2025-03-01T10:01:00,,,,5.25",
        ),
        write(
            tmp_path / "export-6.csv",
            ITEMS,
            "3,2,11,4,complete,2025-03-02T09:01:00,,,,7.10",
            "4,3,10,1,shipped,2025-03-02T10:01:00,,,,3.33",
        ),
    ]
    expected = (
        [
            category("Jeans", "2025-03-01", "10.00", "10.00", "100.00"),
            category("Jeans", "2025-03-02", "10.43", "5.22", "0.00"),
            category("Swim", "2025-03-01", "5.25", "5.25", "0.00"),
        ],
        [
            day("2025-03-01", 1, "15.25", 2, "100.00", 1),
            day("2025-03-02", 2, "10.43", 2, "0.00", 2),
        ],
    )
    for permutation in itertools.permutations(files):
        assert reference_kpis(permutation) == expected


def test_category_revenue_adds_up_to_the_day_on_a_generated_sample(tmp_path: Path) -> None:
    manifest = generate_sample(tmp_path, orders=600, days=10)
    categories, days = reference_kpis(
        [manifest.order_items_csv, manifest.products_csv, manifest.orders_csv]
    )
    assert len(days) == 10
    for row in days:
        in_day = [c for c in categories if c["order_date"] == row["order_date"]]
        assert sum(Decimal(c["daily_revenue"]) for c in in_day) == Decimal(row["total_revenue"])
