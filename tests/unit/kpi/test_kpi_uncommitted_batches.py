"""The kpi handler and the uncommitted-batch markers, on fakes of its ports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from kpi_fakes import (
    NOW,
    FakeBatchCommits,
    FakeCuratedStore,
    FakeKpiRepository,
    item,
    kpi_command,
    order,
)
from kpi_lake import CuratedLake
from shopflow_contracts.rows import FileKind
from shopflow_kpi.adapters.duckdb_engine import DuckDbEngine
from shopflow_kpi.domain import CategoryKpi
from shopflow_kpi.handler import KpiHandler
from shopflow_kpi.ports import Stamp

MAR1, MAR2 = date(2024, 3, 1), date(2024, 3, 2)


class CategoryWritesFail(FakeKpiRepository):
    """Day rows are written, then the category table cannot be reached."""

    def write_category_rows(self, rows: Sequence[CategoryKpi], stamp: Stamp) -> int:
        raise ConnectionError("category table unreachable")


def handler(
    lake: CuratedLake, repository: FakeKpiRepository, commits: FakeBatchCommits, work: Path
) -> KpiHandler:
    return KpiHandler(
        store=FakeCuratedStore(lake),
        repository=repository,
        engine=DuckDbEngine(memory_limit="256MB", threads=1),
        work_dir=work,
        clock=lambda: NOW,
        commits=commits,
    )


def test_a_kpi_stage_failing_half_way_leaves_its_dates_for_the_next_run(tmp_path: Path) -> None:
    # Given committed history on Mar 1 and a validated batch on Mar 1 and Mar 2
    lake, commits, repository = (
        CuratedLake(tmp_path / "lake"),
        FakeBatchCommits(),
        FakeKpiRepository(),
    )
    lake.add("b1", FileKind.PRODUCTS, [{"id": 1, "category": "Jeans"}])
    lake.add("b1", FileKind.ORDERS, [order(10, "2024-03-01 09:00:00+00")])
    lake.add("b1", FileKind.ORDER_ITEMS, [item(1, 10, 1, "50.00")])
    handler(lake, repository, commits, tmp_path / "w").handle(kpi_command(lake, "b1"))
    commits.validated("bad")
    lake.add(
        "bad",
        FileKind.ORDERS,
        [order(20, "2024-03-01 10:00:00+00"), order(21, "2024-03-02 10:00:00+00")],
    )
    lake.add("bad", FileKind.ORDER_ITEMS, [item(2, 20, 1, "7.00"), item(3, 21, 1, "8.00")])
    # When its kpi stage writes the day rows and then fails
    failing = CategoryWritesFail()
    failing.days = repository.days
    with pytest.raises(ConnectionError):
        handler(lake, failing, commits, tmp_path / "w").handle(kpi_command(lake, "bad"))
    # Then it is not committed, and its marker names the dates it was writing
    assert commits.markers["bad"].order_dates == [MAR1, MAR2]
    assert repository.days[MAR2][0].total_orders == 1
    # And the next batch's run (on a date of its own) writes those dates again without it
    commits.validated("b2")
    lake.add("b2", FileKind.ORDERS, [order(30, "2024-03-05 10:00:00+00")])
    lake.add("b2", FileKind.ORDER_ITEMS, [item(4, 30, 1, "1.00")])
    outcome = (
        handler(lake, repository, commits, tmp_path / "w").handle(kpi_command(lake, "b2")).payload
    )
    assert outcome.order_dates == [MAR1, MAR2, date(2024, 3, 5)]
    assert repository.days[MAR1][0].total_orders == 1 and MAR2 not in repository.days
    assert list(commits.markers) == ["bad"] and commits.markers["bad"].order_dates == []
