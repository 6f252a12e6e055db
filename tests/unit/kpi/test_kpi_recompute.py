"""A recompute run (``KpiScope.mode == "recompute"``): the KPI rows of a date range, from all
curated data, equal to a computation from scratch; dates outside the range left alone."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from kpi_fakes import Pipeline, item, order
from kpi_lake import CuratedLake
from shopflow_contracts.rows import FileKind
from shopflow_kpi.domain import CategoryKpi
from shopflow_kpi.ports import Stamp

ORDERS, ITEMS, PRODUCTS = FileKind.ORDERS, FileKind.ORDER_ITEMS, FileKind.PRODUCTS
MAR1, MAR2, MAR3, MAR4 = (date(2024, 3, day) for day in (1, 2, 3, 4))


@pytest.fixture
def pipeline(lake: CuratedLake, tmp_path: Path) -> Pipeline:
    # Orders on Mar 1, 2 and 4 over two batches, each computed as it came
    lake.add("b0", PRODUCTS, [{"id": 1, "category": "Jeans"}, {"id": 2, "category": "Tops"}])
    lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00"), order(2, "2024-03-02 09:00:00+00")])
    lake.add("b1", ITEMS, [item(1, 1, 1, "10.00"), item(2, 2, 2, "3.50")])
    lake.add("b2", ORDERS, [order(3, "2024-03-04 11:00:00+00"), order(4, "2024-03-02 12:00:00+00")])
    lake.add("b2", ITEMS, [item(3, 3, 1, "7.25"), item(4, 4, 1, "1.10")])
    pipeline = Pipeline(lake, tmp_path / "work")
    for batch in ("b0", "b1", "b2"):
        pipeline.run(batch)
    return pipeline


def from_scratch(lake: CuratedLake, work: Path) -> Pipeline:
    """A new worker with an empty state and empty tables, recomputing everything."""
    fresh = Pipeline(lake, work)
    fresh.recompute()
    return fresh


def spoil(pipeline: Pipeline) -> None:
    """KPI rows gone wrong: every day's orders doubled, a row on a day without orders."""
    repository = pipeline.repository
    for day, (row, stamp) in list(repository.days.items()):
        repository.days[day] = (
            row.model_copy(update={"total_orders": row.total_orders * 2}),
            stamp,
        )
    stale = Stamp("old", repository.days[MAR1][1].computed_at)
    repository.days[MAR3] = (
        repository.days[MAR1][0].model_copy(update={"order_date": MAR3}),
        stale,
    )
    zero = Decimal("0.00")
    repository.categories[("Tops", MAR3)] = (
        CategoryKpi(
            category="Tops",
            order_date=MAR3,
            daily_revenue=zero,
            avg_order_value=zero,
            avg_return_rate=zero,
        ),
        stale,
    )


def test_a_range_is_recomputed_as_from_scratch_and_other_dates_are_left(
    pipeline: Pipeline, lake: CuratedLake, tmp_path: Path
) -> None:
    # Given KPI rows gone wrong on every day, and rows on Mar 3, which has no orders
    spoil(pipeline)
    spoiled_mar4 = pipeline.repository.days[MAR4]
    # When Mar 1 to Mar 3 are recomputed
    outcome = pipeline.recompute(MAR1, MAR3)
    # Then the range holds exactly what a computation from scratch gives, Mar 3 none
    expected = from_scratch(lake, tmp_path / "fresh").repository
    assert outcome.order_dates == [MAR1, MAR2, MAR3]
    for day in (MAR1, MAR2):
        assert pipeline.repository.days[day][0] == expected.days[day][0]
        assert pipeline.repository.days[day][1].batch_id == "recompute-1"
    assert MAR3 not in pipeline.repository.days
    assert {
        key: row for key, (row, _) in pipeline.repository.categories.items() if key[1] != MAR4
    } == {key: row for key, (row, _) in expected.categories.items() if key[1] != MAR4}
    # And Mar 4, outside the range, is as it was
    assert pipeline.repository.days[MAR4] == spoiled_mar4
    assert (outcome.day_rows_written, outcome.settled_files) == (2, [])


def test_a_recompute_without_a_range_equals_a_computation_from_scratch(
    pipeline: Pipeline, lake: CuratedLake, tmp_path: Path
) -> None:
    # Given KPI rows gone wrong
    spoil(pipeline)
    # When everything is recomputed
    outcome = pipeline.recompute()
    # Then every row equals the computation from scratch, and the stale day is gone
    expected = from_scratch(lake, tmp_path / "fresh").repository
    assert outcome.order_dates == [MAR1, MAR2, MAR3, MAR4]
    assert {d: row for d, (row, _) in pipeline.repository.days.items()} == {
        d: row for d, (row, _) in expected.days.items()
    }
    assert {k: row for k, (row, _) in pipeline.repository.categories.items()} == {
        k: row for k, (row, _) in expected.categories.items()
    }
    assert set(pipeline.repository.days) == {MAR1, MAR2, MAR4}
