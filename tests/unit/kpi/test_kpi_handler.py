"""KpiHandler against in-memory fakes of its ports (real DuckDB, no AWS)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from kpi_fakes import NOW, Pipeline, item, order
from kpi_lake import CuratedLake, write_curated
from shopflow_contracts.messages import TaskErrorName
from shopflow_contracts.rows import FileKind
from shopflow_kpi.domain import DayKpi
from shopflow_kpi.ports import CuratedObjectsMissingError, Stamp
from shopflow_runtime.worker import TaskError

ORDERS, ITEMS, PRODUCTS = FileKind.ORDERS, FileKind.ORDER_ITEMS, FileKind.PRODUCTS
MAR1, MAR2 = date(2024, 3, 1), date(2024, 3, 2)


@pytest.fixture
def pipeline(lake: CuratedLake, tmp_path: Path) -> Pipeline:
    lake.add("b0", PRODUCTS, [{"id": 1, "category": "Jeans"}, {"id": 2, "category": "Tops"}])
    return Pipeline(lake, tmp_path / "work")


def test_first_batch_writes_day_and_category_rows_of_its_dates(pipeline: Pipeline) -> None:
    # Given a batch with orders on two days
    pipeline.lake.add(
        "b1", ORDERS, [order(1, "2024-03-02 10:00:00+00"), order(2, "2024-03-01 10:00:00+00")]
    )
    pipeline.lake.add("b1", ITEMS, [item(1, 1, 1, "10.00"), item(2, 2, 2, "3.50")])
    # When
    outcome = pipeline.run("b1")
    # Then
    assert outcome.batch_id == "b1"
    assert outcome.order_dates == [MAR1, MAR2]
    assert (outcome.day_rows_written, outcome.category_rows_written) == (2, 2)
    assert pipeline.repository.days[MAR1] == (
        DayKpi(
            order_date=MAR1,
            total_orders=1,
            total_revenue=Decimal("3.50"),
            total_items_sold=1,
            return_rate=Decimal("0.00"),
            unique_customers=1,
        ),
        Stamp("b1", NOW),
    )
    assert set(pipeline.repository.categories) == {("Tops", MAR1), ("Jeans", MAR2)}


def test_dates_the_batch_does_not_touch_are_left_alone(pipeline: Pipeline) -> None:
    # Given Mar 1 computed by batch b1, then a batch b2 about Mar 2 only
    pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.run("b1")
    pipeline.lake.add("b2", ORDERS, [order(2, "2024-03-02 10:00:00+00")])
    # When
    outcome = pipeline.run("b2")
    # Then: Mar 1 still carries the stamp of b1
    assert outcome.order_dates == [MAR2]
    assert pipeline.repository.days[MAR1][1].batch_id == "b1"
    assert pipeline.repository.days[MAR2][1].batch_id == "b2"


def test_a_date_whose_orders_were_all_cancelled_loses_its_rows(pipeline: Pipeline) -> None:
    # Given the only order of Mar 1 with a Jeans item, computed
    pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.lake.add("b1", ITEMS, [item(1, 1, 1, "10.00")])
    pipeline.run("b1")
    assert MAR1 in pipeline.repository.days
    # When a correction cancels it
    pipeline.lake.add("b2", ORDERS, [order(1, "2024-03-01 10:00:00+00", status="cancelled")])
    outcome = pipeline.run("b2")
    # Then
    assert outcome.order_dates == [MAR1]
    assert (outcome.day_rows_written, outcome.category_rows_written) == (0, 0)
    assert pipeline.repository.days == {}
    assert pipeline.repository.categories == {}


def test_an_order_moved_to_another_day_moves_its_rows(pipeline: Pipeline) -> None:
    # Given order 1 on Mar 1, computed; then a correction moving it to Mar 2
    pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.lake.add("b1", ITEMS, [item(1, 1, 1, "10.00")])
    pipeline.run("b1")
    pipeline.lake.add("b2", ORDERS, [order(1, "2024-03-02 10:00:00+00")])
    # When
    outcome = pipeline.run("b2")
    # Then
    assert outcome.order_dates == [MAR1, MAR2]
    assert set(pipeline.repository.days) == {MAR2}
    assert set(pipeline.repository.categories) == {("Jeans", MAR2)}


def test_a_category_without_orders_left_on_a_date_loses_its_row(pipeline: Pipeline) -> None:
    # Given a Jeans item on Mar 1, computed; then product 1 re-filed under "Denim"
    pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.lake.add("b1", ITEMS, [item(1, 1, 1, "10.00")])
    pipeline.run("b1")
    pipeline.lake.add("b2", PRODUCTS, [{"id": 1, "category": "Denim"}])
    # When
    outcome = pipeline.run("b2")
    # Then
    assert outcome.order_dates == [MAR1]
    assert set(pipeline.repository.categories) == {("Denim", MAR1)}
    assert pipeline.repository.days[MAR1][1].batch_id == "b2"


def test_the_batchs_files_count_even_when_the_listing_misses_them(pipeline: Pipeline) -> None:
    # Given a batch file the store's listing does not show yet
    path = pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.store.unlisted.add(path.relative_to(pipeline.lake.root).as_posix())
    # When
    outcome = pipeline.run("b1")
    # Then
    assert outcome.order_dates == [MAR1]
    assert pipeline.repository.days[MAR1][0].total_orders == 1


def test_a_missing_curated_file_of_the_batch_is_a_typed_failure(pipeline: Pipeline) -> None:
    # Given a batch whose curated file is gone from the store
    path = pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    key = path.relative_to(pipeline.lake.root).as_posix()
    pipeline.store.lost.add(key)
    # When / Then
    with pytest.raises(TaskError) as failure:
        pipeline.run("b1")
    assert failure.value.error is TaskErrorName.STAGED_OBJECT_MISSING
    assert failure.value.files == [key]
    assert pipeline.repository.days == {}


def test_an_older_file_vanishing_mid_run_is_left_to_the_retry(pipeline: Pipeline) -> None:
    # Given an earlier batch's file that disappears between listing and download
    old = pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.store.lost.add(old.relative_to(pipeline.lake.root).as_posix())
    pipeline.lake.add("b2", ORDERS, [order(2, "2024-03-01 11:00:00+00")])
    # When / Then: not a typed data failure, so the worker reports it as transient
    with pytest.raises(CuratedObjectsMissingError):
        pipeline.run("b2")


def test_a_batch_without_curated_files_computes_nothing(pipeline: Pipeline) -> None:
    # When
    outcome = pipeline.run("nothing")
    # Then
    assert (outcome.order_dates, outcome.day_rows_written, outcome.category_rows_written) == (
        [],
        0,
        0,
    )
    assert pipeline.repository.days == {} and pipeline.repository.categories == {}


def test_the_run_leaves_no_scratch_files_behind_only_its_state_cache(pipeline: Pipeline) -> None:
    pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.run("b1")
    assert [p.name for p in pipeline.work_dir.iterdir()] == ["curated-state.duckdb"]


def test_the_result_envelope_answers_the_command(pipeline: Pipeline) -> None:
    pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    command = pipeline.command("b1")
    result = pipeline.handler.handle(command)
    assert result.message_type == "shopflow.kpi.result"
    assert result.run_id == command.run_id
    assert result.message_id != command.message_id
    assert result.task_token is None


def test_a_later_batch_fetches_only_its_own_files(pipeline: Pipeline) -> None:
    # Given a first batch already computed
    pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.lake.add("b1", ITEMS, [item(1, 1, 1, "10.00")])
    pipeline.run("b1")
    first_fetch = len(pipeline.store.fetched)
    # When a second batch arrives
    pipeline.lake.add("b2", ITEMS, [item(2, 1, 2, "4.00")])
    pipeline.run("b2")
    # Then only its file was downloaded, and the KPIs include both batches
    newly = pipeline.store.fetched[first_fetch:]
    assert [obj.key.split("/")[2] for obj in newly] == ["batch=b2"]
    day, _ = pipeline.repository.days[MAR1]
    assert day.total_revenue == Decimal("14.00")


def test_a_rewritten_curated_file_replaces_its_earlier_rows(pipeline: Pipeline) -> None:
    # Given a batch whose curated file is later rewritten with other content
    path = pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.lake.add("b1", ITEMS, [item(1, 1, 1, "10.00")])
    pipeline.run("b1")
    write_curated(
        path,
        ORDERS,
        [order(1, "2024-03-01 10:00:00+00"), order(2, "2024-03-01 11:00:00+00")],
        ingest_seq="000001",
        source_key="raw/batch=b1/orders/orders-1.csv",
    )
    # When the batch is computed again
    pipeline.run("b1")
    # Then the state holds the new version of the file, not both
    day, _ = pipeline.repository.days[MAR1]
    assert day.total_orders == 2


def test_a_lost_state_cache_is_rebuilt_with_the_same_result(pipeline: Pipeline) -> None:
    pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.lake.add("b1", ITEMS, [item(1, 1, 1, "10.00")])
    pipeline.run("b1")
    before = pipeline.repository.days[MAR1][0]
    (pipeline.work_dir / "curated-state.duckdb").unlink()
    pipeline.run("b1")
    assert pipeline.repository.days[MAR1][0] == before


def test_files_gone_from_the_store_leave_the_state(pipeline: Pipeline) -> None:
    pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    gone = pipeline.lake.add("b2", ORDERS, [order(2, "2024-03-01 11:00:00+00")])
    pipeline.run("b1")
    assert pipeline.repository.days[MAR1][0].total_orders == 2
    gone.unlink()
    pipeline.run("b1")
    assert pipeline.repository.days[MAR1][0].total_orders == 1


def test_a_rewritten_file_that_moves_an_order_recomputes_the_day_it_left(
    pipeline: Pipeline,
) -> None:
    # Given order 1 on Mar 1, computed; then its curated file rewritten with the order on Mar 2
    path = pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.lake.add("b1", ITEMS, [item(1, 1, 1, "10.00")])
    pipeline.run("b1")
    write_curated(
        path,
        ORDERS,
        [order(1, "2024-03-02 10:00:00+00")],
        ingest_seq="000002",
        source_key="raw/batch=b1/orders/orders-1.csv",
    )
    # When the batch runs again
    pipeline.run("b1")
    # Then Mar 1 lost the order and Mar 2 has it
    assert MAR1 not in pipeline.repository.days
    assert pipeline.repository.days[MAR2][0].total_orders == 1


def test_a_change_to_another_batchs_file_is_recomputed_by_the_next_run(
    pipeline: Pipeline,
) -> None:
    # Given batch b1's order on Mar 1, computed
    path = pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.run("b1")
    # When b1's curated file is rewritten (the order cancelled), then batch b2 runs for Mar 2
    write_curated(
        path,
        ORDERS,
        [order(1, "2024-03-01 10:00:00+00", status="cancelled")],
        ingest_seq="000002",
        source_key="raw/batch=b1/orders/orders-1.csv",
    )
    pipeline.lake.add("b2", ORDERS, [order(2, "2024-03-02 10:00:00+00")])
    outcome = pipeline.run("b2")
    # Then the run also recomputed the day the rewrite changed
    assert outcome.order_dates == [MAR1, MAR2]
    assert MAR1 not in pipeline.repository.days


def test_a_deleted_file_of_another_batch_is_recomputed_by_the_next_run(
    pipeline: Pipeline,
) -> None:
    gone = pipeline.lake.add("b1", ORDERS, [order(1, "2024-03-01 10:00:00+00")])
    pipeline.run("b1")
    pipeline.lake.add("b2", ORDERS, [order(2, "2024-03-02 10:00:00+00")])
    gone.unlink()
    pipeline.run("b2")
    assert MAR1 not in pipeline.repository.days
