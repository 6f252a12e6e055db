"""Two runs touching the same date race; the settled KPI rows must be the fresh ones.

Run A reads the curated data before batch B's files exist and is slow to write. Run B
starts while A is writing. Without serialisation B writes the complete result and A then
overwrites it with its stale one; under the state lease B waits, reads everything and
writes last.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from kpi_fakes import NOW, FakeCuratedStore, FakeKpiRepository, kpi_command
from kpi_lake import CuratedLake
from shopflow_contracts.rows import FileKind
from shopflow_kpi.adapters.duckdb_engine import DuckDbEngine
from shopflow_kpi.domain import DayKpi
from shopflow_kpi.handler import KpiHandler, LeaseWait
from shopflow_kpi.ports import Stamp, StateLease

MAR1 = date(2024, 3, 1)


class ThreadLease:
    """The lease's contract (exclusive, re-entrant for its owner) with a thread lock."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self.owner: str | None = None
        self.acquisitions: list[str] = []

    def acquire(self, owner: str) -> bool:
        with self._guard:
            if self.owner not in (None, owner):
                return False
            self.owner = owner
            self.acquisitions.append(owner)
            return True

    def release(self, owner: str) -> None:
        with self._guard:
            if self.owner == owner:
                self.owner = None


class SlowFirstWriter(FakeKpiRepository):
    """Pauses the first day-row write and runs ``during_pause`` meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.during_pause: threading.Thread | None = None
        self._paused = False

    def write_day_rows(self, rows: Sequence[DayKpi], stamp: Stamp) -> int:
        if not self._paused and self.during_pause is not None:
            self._paused = True
            self.during_pause.start()
            time.sleep(1.0)  # run B gets every chance to overtake
        return super().write_day_rows(rows, stamp)


def race(tmp_path: Path, lease: StateLease | None) -> FakeKpiRepository:
    lake = CuratedLake(tmp_path / "lake")
    lake.add("b0", FileKind.PRODUCTS, [{"id": 1, "category": "Jeans"}])
    lake.add(
        "b1",
        FileKind.ORDERS,
        [
            {
                "order_id": 1,
                "user_id": 1,
                "status": "complete",
                "created_at": "2024-03-01 09:00:00+00",
            }
        ],
    )
    lake.add(
        "b1",
        FileKind.ORDER_ITEMS,
        [{"id": 1, "order_id": 1, "user_id": 1, "product_id": 1, "sale_price": Decimal("10")}],
    )
    # Batch b2 is validated while run b1 is already computing: not listed yet.
    b2_orders = lake.add(
        "b2",
        FileKind.ORDERS,
        [
            {
                "order_id": 2,
                "user_id": 2,
                "status": "complete",
                "created_at": "2024-03-01 10:00:00+00",
            }
        ],
    )
    store = FakeCuratedStore(lake)
    store.unlisted.add(b2_orders.relative_to(lake.root).as_posix())
    repository = SlowFirstWriter()

    # Two workers, as on two machines: each with its own curated-state cache.
    def handler(worker: str) -> KpiHandler:
        return KpiHandler(
            store=store,
            repository=repository,
            engine=DuckDbEngine(memory_limit="256MB", threads=1),
            work_dir=tmp_path / worker,
            clock=lambda: NOW,
            lease=lease,
            lease_wait=LeaseWait(poll_seconds=0.05, max_seconds=30),
        )

    def run_b2() -> None:
        store.unlisted.clear()
        handler("worker-2").handle(kpi_command(lake, "b2"))

    repository.during_pause = threading.Thread(target=run_b2)
    handler("worker-1").handle(kpi_command(lake, "b1"))
    repository.during_pause.join(timeout=60)
    return repository


def test_under_the_state_lease_the_last_writer_is_the_fresh_one(tmp_path: Path) -> None:
    # Given the race above, with the lease
    lease = ThreadLease()
    repository = race(tmp_path, lease)
    # Then the settled day row counts both orders, written by run b2
    row, stamp = repository.days[MAR1]
    assert row.total_orders == 2
    assert row.total_revenue == Decimal("10.00")
    assert stamp.batch_id == "b2"
    # Each run takes the lease and renews it before writing; b2's turn starts after b1's
    holders = [owner.split("/")[0] for owner in lease.acquisitions]
    assert [run for run, _ in itertools.groupby(holders)] == ["run-b1", "run-b2"]
    assert lease.owner is None


def test_without_serialisation_the_stale_result_wins_the_race(tmp_path: Path) -> None:
    # The control: the same race with no lease loses run b2's order, so the test above
    # really exercises an overtaking writer.
    repository = race(tmp_path, lease=None)
    row, stamp = repository.days[MAR1]
    assert row.total_orders == 1
    assert stamp.batch_id == "b1"


def test_a_run_whose_lease_was_taken_over_does_not_write(tmp_path: Path) -> None:
    # Given a run whose lease expired while it computed, and another run holding it now
    class TakenOver(ThreadLease):
        def acquire(self, owner: str) -> bool:
            if self.acquisitions:  # the renewal before writing
                return False
            return super().acquire(owner)

    lake = CuratedLake(tmp_path / "lake")
    lake.add(
        "b1",
        FileKind.ORDERS,
        [
            {
                "order_id": 1,
                "user_id": 1,
                "status": "complete",
                "created_at": "2024-03-01 09:00:00+00",
            }
        ],
    )
    repository = FakeKpiRepository()
    handler = KpiHandler(
        store=FakeCuratedStore(lake),
        repository=repository,
        engine=DuckDbEngine(memory_limit="256MB", threads=1),
        work_dir=tmp_path / "work",
        clock=lambda: NOW,
        lease=TakenOver(),
    )
    # When it reaches its writes
    with pytest.raises(TimeoutError, match="lease lost"):
        handler.handle(kpi_command(lake, "b1"))
    # Then it wrote nothing
    assert repository.days == {} and repository.categories == {}
