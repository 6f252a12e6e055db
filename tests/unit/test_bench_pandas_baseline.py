"""The benchmark's pandas baseline computes the same KPIs as the plain-Python reference."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from reference_kpis import reference_kpis
from shopflow_bench import pandas_baseline
from shopflow_bench.datagen import generate_bulk
from shopflow_bench.e2e import corrections

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "samples" / "thelook-small"


def pandas_kpis(files: list[Path]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(category rows, day rows) like ``reference_kpis``."""
    validated = pandas_baseline.validate_files(files)
    days, categories = pandas_baseline.compute_kpis(pandas_baseline.current_tables(validated))
    return categories, days


def test_on_the_bundled_sample_with_its_broken_rows() -> None:
    files = [SAMPLE / "orders.csv", SAMPLE / "order_items.csv", SAMPLE / "products.csv"]
    assert pandas_kpis(files) == reference_kpis(files)


ORDERS = """order_id,user_id,status,created_at,returned_at,shipped_at,delivered_at,num_of_item
1,10,Complete,2025-03-01T10:00:00,,2025-03-02 10:00:00 UTC,2025-03-03T10:00:00,2
2,11,returned,2025-03-01 23:59:00 UTC,2025-03-09T10:00:00Z,2025-03-02T10:00:00,2025-03-04T10:00:00,1
3,10,cancelled,2025-03-01T12:00:00,,,,1
4,12,processing,2025-03-02T01:00:00+02:00,,,,1
5,13,pending, 2025-03-02T08:00 ,,,,1
6,14,shipped?,2025-03-02T08:00:00,,,,1
7,15,pending,2025-02-30T08:00:00,,,,1
8,16,returned,2025-03-02T08:00:00,,,,1
9,17,pending,2025-03-02T08:00:00,,,,0
ORD-10,17,pending,2025-03-02T08:00:00,,,,1
"""
ITEMS = (
    "id,order_id,user_id,product_id,status,created_at,shipped_at,delivered_at,returned_at,"
    "sale_price\n"
    """1,1,10,1,complete,2025-03-01T10:05:00,,,,10.01
2,1,10,2,Complete,2025-03-01T10:06:00,,,,0.02
3,2,11,1,returned,2025-03-02T00:01:00,,,2025-03-09T10:00:00,5
4,3,10,1,complete,2025-03-01T12:01:00,,,,7.00
5,4,12,2,processing,2025-03-01T23:30:00Z,,,,1.5
6,5,13,1,pending,2025-03-02T08:01:00,,,,-1.00
7,5,13,1,pending,2025-03-02T08:01:00,,,,1.005
8,5,13,1,pending,2025-03-02T08:01:00,,,,"1,000.00"
9,5,13,99,pending,2025-03-02T08:01:00,,,,3.00
10,5,13,2,pending,2025-03-02T08:01:00,2025-03-01T08:01:00,,,3.00
1,1,10,1,complete,2025-03-01T10:05:00,,,,10.02
"""
)
PRODUCTS = """id,cost,category,name,brand,retail_price,department,sku,distribution_center_id
1,1.00,Jeans,"Slim Jean, Indigo",Levi's,20.00,Women,A,1
2,,Swim,,,,,,
3,1.00,,No category,,1.00,,,
"""


@pytest.fixture
def edge_files(tmp_path: Path) -> list[Path]:
    files = []
    for name, text in (
        ("orders.csv", ORDERS),
        ("order_items.csv", ITEMS),
        ("products.csv", PRODUCTS),
    ):
        path = tmp_path / name
        path.write_text(text)
        files.append(path)
    return files


def test_on_edge_cases_of_types_rules_corrections_and_rounding(edge_files: list[Path]) -> None:
    categories, days = pandas_kpis(edge_files)
    assert (categories, days) == reference_kpis(edge_files)
    # The later row of item 1 corrects its price; order 4 is on 1 March in UTC.
    assert days[0]["order_date"] == "2025-03-01"
    assert days[0]["total_revenue"] == "16.54"


def test_rows_with_broken_rules_are_dropped(edge_files: list[Path]) -> None:
    orders, items, products = pandas_baseline.validate_files(edge_files)
    assert sorted(orders.frame["order_id"].tolist()) == [1, 2, 3, 4, 5]
    # Item 7 (1.005) is rounded to 1.01, not dropped.
    assert sorted(items.frame["id"].tolist()) == [1, 1, 2, 3, 4, 5, 7, 9]
    assert products.frame["id"].tolist() == [1, 2]
    assert items.frame["sale_price"].tolist()[:2] == [1001, 2]


def test_half_cents_round_away_from_zero() -> None:
    hundredths = pandas_baseline._hundredths(pd.Series([1, 5, 2]), pd.Series([2, 2, 3]))
    assert hundredths.tolist() == [1, 3, 1]
    assert pandas_baseline._two_places(pd.Series([5, 1234, 100])).tolist() == [
        "0.05",
        "12.34",
        "1.00",
    ]


def test_on_bulk_generated_data_with_its_broken_rows(tmp_path: Path) -> None:
    dataset = generate_bulk(tmp_path / "bulk", order_items=3000, days=20)
    files = [dataset.orders_csv, dataset.order_items_csv, dataset.products_csv]
    categories, days = pandas_kpis(files)
    assert (categories, days) == reference_kpis(files)
    assert len(days) == 20
    assert abs(dataset.order_items - 3000) < 300


def test_e2e_corrections_come_from_valid_rows_of_one_date() -> None:
    plans = corrections()
    assert len(plans) > 20
    body = plans[0].body(4).decode().splitlines()
    assert body[0].startswith("id,order_id")
    assert len(body) == 21
