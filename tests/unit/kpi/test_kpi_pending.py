"""Items whose order or product has not arrived: held, released, and reported as orphans."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from kpi_fakes import Pipeline, item, order
from kpi_lake import CuratedLake
from shopflow_contracts.rows import FileKind
from shopflow_kpi.handler import PENDING_REPORT_KEY

ORDERS, ITEMS, PRODUCTS = FileKind.ORDERS, FileKind.ORDER_ITEMS, FileKind.PRODUCTS
MAR1 = date(2024, 3, 1)
# Uploaded long before the pipeline's clock (2024-03-05 08:00 UTC): beyond a 1-day grace.
OLD_UPLOAD = "20240301T080000.000000Z/0000000000000001/landing/items.csv"
RECENT_UPLOAD = "20240305T070000.000000Z/0000000000000002/landing/items.csv"


@pytest.fixture
def pipeline(lake: CuratedLake, tmp_path: Path) -> Pipeline:
    lake.add("b0", PRODUCTS, [{"id": 1, "category": "Jeans"}])
    return Pipeline(lake, tmp_path / "work")


def test_items_before_their_order_wait_then_count_on_the_orders_date(pipeline: Pipeline) -> None:
    # Given items whose order has not arrived
    pipeline.lake.add("b1", ITEMS, [item(1, 7, 1, "10.00"), item(2, 7, 1, "5.00")])
    # When their batch is computed
    first = pipeline.run("b1")
    # Then they are pending, said per file, and count nowhere yet
    assert (first.pending_items, first.released_items) == (2, 0)
    assert [f.pending for f in first.settled_files] == [2]
    assert first.order_dates == [] and pipeline.repository.days == {}
    # When the order arrives, created just before midnight
    pipeline.lake.add("b2", ORDERS, [order(7, "2024-03-01 23:58:00+00")])
    second = pipeline.run("b2")
    # Then the items are released and count on the order's date
    assert (second.pending_items, second.released_items) == (0, 2)
    assert second.order_dates == [MAR1]
    day, _ = pipeline.repository.days[MAR1]
    assert (day.total_items_sold, day.total_revenue) == (2, Decimal("15.00"))


def test_an_item_waits_for_its_product_too(pipeline: Pipeline) -> None:
    pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.lake.add("b1", ITEMS, [item(1, 1, 99, "10.00")])
    assert pipeline.run("b1").pending_items == 1
    assert pipeline.repository.days[MAR1][0].total_items_sold == 0
    pipeline.lake.add("b2", PRODUCTS, [{"id": 99, "category": "Swim"}])
    released = pipeline.run("b2")
    assert (released.pending_items, released.released_items) == (0, 1)
    assert pipeline.repository.days[MAR1][0].total_items_sold == 1
    assert ("Swim", MAR1) in pipeline.repository.categories


def test_items_still_waiting_after_the_grace_period_are_reported_as_orphans(
    pipeline: Pipeline,
) -> None:
    # Given one item uploaded four days ago and one an hour ago, neither with an order
    pipeline.lake.add("b1", ITEMS, [item(1, 41, 1, "10.00")], seq=OLD_UPLOAD)
    pipeline.lake.add("b2", ITEMS, [item(2, 42, 1, "12.00")], seq=RECENT_UPLOAD)
    # When a run computes (grace period: one day)
    outcome = pipeline.run("b2")
    # Then both are pending, only the old one is an orphan, and the report names it
    assert (outcome.pending_items, outcome.orphaned_items) == (2, 1)
    report = pipeline.reports.documents[PENDING_REPORT_KEY]
    assert outcome.pending_report_key == PENDING_REPORT_KEY
    assert report["orphaned_items"] == 1
    orphans = report["orphans"]
    assert isinstance(orphans, list)
    (orphan,) = orphans
    assert orphan["item_id"] == 1 and orphan["missing"] == "order"
    assert orphan["pending_since"] == "2024-03-01T08:00:00+00:00"
    assert orphan["source_line"] == 2


def test_rows_identical_to_the_version_before_them_are_duplicates(pipeline: Pipeline) -> None:
    # Given an order, then the same order again in another file
    pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.run("b1")
    pipeline.lake.add("b2", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    again = pipeline.run("b2")
    # Then the second file's row is a duplicate that changes nothing
    assert [(f.duplicates, f.pending) for f in again.settled_files] == [(1, 0)]
    assert pipeline.repository.days[MAR1][0].total_orders == 1
    # When a correction comes, then the original again: both are changes, not duplicates
    pipeline.lake.add("b3", ORDERS, [order(1, "2024-03-01 10:00:00+00", status="cancelled")])
    assert [f.duplicates for f in pipeline.run("b3").settled_files] == [0]
    assert MAR1 not in pipeline.repository.days
    pipeline.lake.add("b4", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    assert [f.duplicates for f in pipeline.run("b4").settled_files] == [0]
    assert pipeline.repository.days[MAR1][0].total_orders == 1


def test_an_identical_reupload_of_a_waiting_item_is_a_duplicate_not_pending_again(
    pipeline: Pipeline,
) -> None:
    # Given item 1 waiting for order 9
    pipeline.lake.add("b1", ITEMS, [item(1, 9, 1, "5.00")])
    pipeline.run("b1")
    # When it comes again, identical, beside an item whose order is there
    pipeline.lake.add("b2", ORDERS, [order(2, "2024-03-01 10:00:00+00")])
    pipeline.lake.add("b2", ITEMS, [item(1, 9, 1, "5.00"), item(2, 2, 1, "7.00")])
    outcome = pipeline.run("b2")
    # Then the file's two rows are one duplicate and one counted item; one item still waits
    items_file = next(f for f in outcome.settled_files if "order_items" in f.curated_key)
    assert (items_file.duplicates, items_file.pending) == (1, 0)
    assert outcome.pending_items == 1
