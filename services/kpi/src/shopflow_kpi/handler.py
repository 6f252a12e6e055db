"""ComputeKpis: recompute the KPI rows of every order date a batch touches, or (a recompute
run, ``KpiScope.mode == "recompute"``) of every date of a range, from all curated data."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from shopflow_contracts.messages import (
    CuratedFile,
    KpiCommand,
    KpiOutcome,
    KpiResult,
    KpiScope,
    SettledFile,
    TaskErrorName,
)
from shopflow_contracts.storage import UncommittedBatch, batch_of_curated
from shopflow_runtime.faults import fault_point
from shopflow_runtime.worker import TaskError

from shopflow_kpi.domain import CategoryKpi, DayKpi, PendingSummary
from shopflow_kpi.domain.sources import KPI_INPUTS
from shopflow_kpi.ports import (
    BatchCommits,
    CuratedFileRef,
    CuratedObject,
    CuratedObjectsMissingError,
    CuratedStore,
    KpiEngine,
    KpiRepository,
    KpiState,
    ReportSink,
    Stamp,
    StateLease,
)

log = logging.getLogger("shopflow.kpi")

# The KPI state's database inside the work dir (see ports.KpiState): kept between runs.
STATE_DATABASE = "curated-state.duckdb"
# Orphaned items (pending beyond the grace period), rewritten by every run.
PENDING_REPORT_KEY = "reports/pending/pending-items.json"
MAX_LISTED_ORPHANS = 1000
# Where a recompute without --from starts looking for KPI rows to delete (none are older).
EARLIEST_KPI_DATE = date(2000, 1, 1)


@dataclass(frozen=True)
class LeaseWait:
    """How long a run waits for the KPI state lease before giving up (and being retried)."""

    poll_seconds: float = 0.5
    max_seconds: float = 600.0
    sleep: Callable[[float], None] = time.sleep


def _utc_now() -> datetime:
    return datetime.now(UTC)


class KpiHandler:
    def __init__(
        self,
        store: CuratedStore,
        repository: KpiRepository,
        engine: KpiEngine,
        work_dir: Path,
        clock: Callable[[], datetime] = _utc_now,
        lease: StateLease | None = None,
        lease_wait: LeaseWait | None = None,
        reports: ReportSink | None = None,
        orphan_grace: timedelta = timedelta(days=1),
        commits: BatchCommits | None = None,
    ) -> None:
        self._commits = commits
        self._reports = reports
        self._orphan_grace = orphan_grace
        self._lease = lease
        self._lease_wait = lease_wait or LeaseWait()
        self._store = store
        self._repository = repository
        self._engine = engine
        self._work_dir = work_dir
        self._clock = clock

    def handle(self, command: KpiCommand) -> KpiResult:
        request = command.payload
        outcome = self._recompute(
            request.batch_id,
            request.curated,
            owner=f"{command.run_id}/{command.message_id}",
            scope=request.scope,
        )
        log.info(
            "kpis recomputed",
            extra={
                "batch_id": request.batch_id,
                "order_dates": len(outcome.order_dates),
                "day_rows": outcome.day_rows_written,
                "category_rows": outcome.category_rows_written,
                "pending_items": outcome.pending_items,
                "orphaned_items": outcome.orphaned_items,
            },
        )
        return KpiResult(
            message_id=uuid4(), run_id=command.run_id, occurred_at=self._clock(), payload=outcome
        )

    def _recompute(
        self,
        batch_id: str,
        curated: Sequence[CuratedFile],
        *,
        owner: str,
        scope: KpiScope | None = None,
    ) -> KpiOutcome:
        """Bring this worker's curated state up to date, then recompute under the lease.

        Only curated files the state has not loaded (or whose version changed) are fetched,
        so a small batch costs a small download whatever the history. The bulk of that
        loading (all of history, for a new container) happens before the lease is taken:
        it only reads immutable curated objects into this worker's own cache.

        Curated files of uncommitted batches (a run that failed after validation, or one
        still under way) count only for their own batch's command. A failed batch's KPI stage
        may have written some rows before it failed: their dates are recomputed here,
        without it.
        """
        batch = list(
            dict.fromkeys(
                CuratedObject(f.kind, f.bucket, f.key) for f in curated if f.kind in KPI_INPUTS
            )
        )
        batch_keys = [obj.key for obj in batch]
        self._work_dir.mkdir(parents=True, exist_ok=True)
        with (
            tempfile.TemporaryDirectory(dir=self._work_dir, prefix="kpi-run-") as scratch_dir,
            self._engine.open_state(self._work_dir / STATE_DATABASE, Path(scratch_dir)) as state,
        ):
            self._synchronise(state, batch, Path(scratch_dir) / "prefetch", self._uncommitted())
            with self._holding_lease(owner):
                # Whatever landed (or was committed) while the lease was awaited.
                uncommitted = self._uncommitted()
                self._synchronise(state, batch, Path(scratch_dir) / "curated", uncommitted)
                failed = [u for u in uncommitted if u.batch_id != batch_id and u.order_dates]
                fault_point("kpi.mid_duckdb", run_id=batch_id)
                if scope is not None and scope.mode == "recompute":
                    dates, days, categories = self._recompute_range(state, scope)
                elif set(state.loaded_versions()) <= set(batch_keys):
                    # The batch is the whole history (a shop's first run): every date is
                    # touched, and one pass over each table beats narrowing to them.
                    every_date, days, categories = state.compute_all_kpis()
                    dates = sorted({*every_date, *state.dirty_dates()})
                else:
                    dates = sorted({*state.touched_dates(batch_keys), *state.dirty_dates()})
                    days, categories = state.compute_kpis(dates)
                left_behind = sorted({d for u in failed for d in u.order_dates} - set(dates))
                if left_behind:
                    more_days, more_categories = state.compute_kpis(left_behind)
                    dates = sorted({*dates, *left_behind})
                    days, categories = [*days, *more_days], [*categories, *more_categories]
                pending = state.pending(now=self._clock(), grace=self._orphan_grace)
                duplicates = state.duplicates(batch_keys)
                self._confirm_lease(owner)
                stamp = Stamp(batch_id=batch_id, computed_at=self._clock())
                if self._commits is not None:
                    self._commits.writing(batch_id, dates)
                self._repository.begin(stamp)
                day_rows = self._repository.write_day_rows(days, stamp)
                fault_point("kpi.between_tables", run_id=batch_id)
                category_rows = self._repository.write_category_rows(categories, stamp)
                self._delete_absent(dates, days, categories)
                fault_point("kpi.before_publish", run_id=batch_id)
                # Both tables written: readers now see the new rows of both at once.
                self._repository.publish(stamp)
                state.clear_dirty(dates)
                report_key = self._report_pending(pending)
                if self._commits is not None:
                    self._commits.commit(batch_id)
                    self._commits.recomputed(failed)
                fault_point("kpi.after_outputs", run_id=batch_id)
        return KpiOutcome(
            batch_id=batch_id,
            order_dates=dates,
            day_rows_written=day_rows,
            category_rows_written=category_rows,
            pending_items=pending.pending,
            released_items=pending.released,
            orphaned_items=len(pending.orphaned),
            settled_files=[
                SettledFile(
                    source_key=file.source_key,
                    curated_key=file.key,
                    duplicates=duplicates.get(file.key, 0),
                    pending=pending.pending_by_file.get(file.key, 0),
                )
                for file in curated
            ],
            pending_report_key=report_key,
        )

    def _recompute_range(
        self, state: KpiState, scope: KpiScope
    ) -> tuple[list[date], list[DayKpi], list[CategoryKpi]]:
        """Every date of the scope's range from all curated data, as from scratch; the dates
        of the range that have KPI rows but no data any more are among the dates (so their
        rows are deleted)."""
        with_data = state.order_dates()
        first = scope.from_date or min([*with_data[:1], EARLIEST_KPI_DATE])
        last = scope.to_date or max([*with_data[-1:], self._clock().date()])
        in_range = [d for d in with_data if first <= d <= last]
        dates = sorted({*in_range, *self._repository.days_with_rows(first, last)})
        if scope.from_date is None and scope.to_date is None:
            # The whole history: one pass over each table, as a first run does.
            _, days, categories = state.compute_all_kpis()
        else:
            days, categories = state.compute_kpis(in_range)
        return dates, days, categories

    def _confirm_lease(self, owner: str) -> None:
        """Renew the lease right before writing; a run that lost it must not write.

        Renewal succeeds only for the holder of an unexpired lease or an expired one nobody
        took; if another run holds it now, ours expired while computing and its results may
        be stale. Untyped on purpose: the state machine retries the run.
        """
        if self._lease is not None and not self._lease.acquire(owner):
            raise TimeoutError("KPI state lease lost before writing; the run will be retried")

    def _report_pending(self, pending: PendingSummary) -> str | None:
        """Keep the list of orphaned items (pending beyond the grace period) in the bucket."""
        if self._reports is None:
            return None
        shown = pending.orphaned[:MAX_LISTED_ORPHANS]
        self._reports.put_json(
            PENDING_REPORT_KEY,
            {
                "generated_at": self._clock().isoformat(),
                "grace_seconds": int(self._orphan_grace.total_seconds()),
                "pending_items": pending.pending,
                "orphaned_items": len(pending.orphaned),
                "orphans_listed": len(shown),
                "orphans": [
                    {
                        "item_id": item.item_id,
                        "order_id": item.order_id,
                        "product_id": item.product_id,
                        "missing": item.missing,
                        "pending_since": item.since.isoformat() if item.since else None,
                        "source_key": item.source_key,
                        "source_line": item.source_line,
                    }
                    for item in shown
                ],
            },
        )
        return PENDING_REPORT_KEY

    @contextmanager
    def _holding_lease(self, owner: str) -> Iterator[None]:
        """Read, compute and write under the state lease (see ``StateLease``)."""
        if self._lease is None:
            yield
            return
        waited = 0.0
        while not self._lease.acquire(owner):
            if waited >= self._lease_wait.max_seconds:
                # Untyped on purpose: the state machine retries it later with backoff.
                raise TimeoutError(f"KPI state lease still held after {waited:.0f}s")
            self._lease_wait.sleep(self._lease_wait.poll_seconds)
            waited += self._lease_wait.poll_seconds
        try:
            yield
        finally:
            self._lease.release(owner)

    def _uncommitted(self) -> list[UncommittedBatch]:
        return [] if self._commits is None else self._commits.uncommitted()

    def _synchronise(
        self,
        state: KpiState,
        batch: list[CuratedObject],
        into: Path,
        uncommitted: Sequence[UncommittedBatch],
    ) -> None:
        left_out = {marker.batch_id for marker in uncommitted}
        listed = [
            obj
            for kind in KPI_INPUTS
            for obj in self._store.list_curated(kind)
            if batch_of_curated(obj.key) not in left_out
        ]
        loaded = state.loaded_versions()
        # The batch's own files are named explicitly so they count even if the listing
        # does not show them yet (or their batch is not committed yet).
        known = {obj.key for obj in listed}
        wanted = [*listed, *(obj for obj in batch if obj.key not in known)]
        to_load = [
            obj
            for obj in wanted
            if obj.key not in loaded or (obj.version and obj.version != loaded[obj.key])
        ]
        local = self._fetch(to_load, batch, into)
        state.load(
            [
                CuratedFileRef(obj.kind.value, obj.key, obj.version, str(local[obj]))
                for obj in to_load
            ]
        )
        state.forget(set(loaded) - {obj.key for obj in wanted})
        if to_load:
            log.info("curated state loaded %d new file(s)", len(to_load))

    def _fetch(
        self, everything: list[CuratedObject], batch: list[CuratedObject], into: Path
    ) -> Mapping[CuratedObject, Path]:
        if everything:
            fault_point("kpi.mid_download", files=str(len(everything)))
        try:
            return self._store.fetch(everything, into)
        except CuratedObjectsMissingError as missing:
            of_batch = [obj for obj in missing.objects if obj in set(batch)]
            if of_batch:
                raise TaskError(
                    TaskErrorName.STAGED_OBJECT_MISSING,
                    f"{len(of_batch)} curated file(s) of the batch are missing",
                    files=[obj.key for obj in of_batch],
                ) from missing
            # An older file vanished between listing and download: worth a retry.
            raise

    def _delete_absent(
        self, dates: list[date], days: list[DayKpi], categories: list[CategoryKpi]
    ) -> None:
        with_day_row = {day.order_date for day in days}
        with_category_row = {(row.category, row.order_date) for row in categories}
        stale_days = [d for d in dates if d not in with_day_row]
        stale_categories = [
            (category, d)
            for d in dates
            for category in sorted(self._repository.categories_on(d))
            if (category, d) not in with_category_row
        ]
        if stale_days or stale_categories:
            log.info(
                "deleting kpi rows without data",
                extra={"days": len(stale_days), "categories": len(stale_categories)},
            )
        self._repository.delete_rows(stale_days, stale_categories)
