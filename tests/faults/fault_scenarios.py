"""Running one fault scenario on the shared stack and judging it.

A scenario empties the stack, arms a fault plan, makes uploads (or delivers messages), waits
until everything has settled and then checks what ``shopflow_bench.reliability.checks``
checks. How long each fault took to recover from is read from the fault's firing (its marker
file) and the run's execution history.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from reference_kpis import reference_kpis
from shopflow_bench.reliability.checks import (
    Accounting,
    KpiTables,
    accounting,
    failed_runs,
    kpi_tables,
    nothing_in_flight,
    recovery_seconds,
)
from shopflow_bench.reliability.stack import FaultStack, Fired, Run, Upload, now_utc
from shopflow_cli.sampledata import generate_sample
from shopflow_runtime.faults import FaultPlan

REPORT_START = "<!-- scenario-table:start (written by tests/faults with SHOPFLOW_FAULT_REPORT) -->"
REPORT_END = "<!-- scenario-table:end -->"


def small_sample(directory: Path) -> list[tuple[str, bytes]]:
    """A small TheLook-style export (orders, items, products; a few broken rows): each stage
    takes about a second on it, so the faults, not the data, set a scenario's length."""
    manifest = generate_sample(directory, seed=14, orders=400, days=10, broken_rows=6)
    return [
        (path.name, path.read_bytes())
        for path in (manifest.products_csv, manifest.orders_csv, manifest.order_items_csv)
    ]


@dataclass
class CleanRun:
    """The sample's KPIs from a run without faults, checked against the plain reference."""

    files: list[tuple[str, bytes]]
    kpis: KpiTables
    seconds: float

    @classmethod
    def of(cls, stack: FaultStack, files: list[tuple[str, bytes]]) -> CleanRun:
        stack.reset()
        since = now_utc()
        started = time.monotonic()
        stack.upload(files)
        runs = stack.settle(since)
        assert failed_runs(runs) == []
        tables = kpi_tables(stack)
        directory = stack.root / "clean-files"
        directory.mkdir(exist_ok=True)
        paths = []
        for name, body in files:
            (directory / name).write_bytes(body)
            paths.append(directory / name)
        categories, days = reference_kpis(paths)
        reference = KpiTables(days=days, categories=categories)
        assert tables.difference(reference) == [], "the clean run differs from the reference"
        assert tables.days and tables.categories
        return cls(files=files, kpis=tables, seconds=time.monotonic() - started)


@dataclass
class Outcome:
    runs: list[Run]
    uploads: list[Upload]
    kpis: KpiTables
    accounting: Accounting
    fired: list[Fired]
    injected: list[dict[str, Any]]
    recoveries: dict[str, float]
    since: datetime
    started: float
    seconds: float

    def fired_points(self) -> list[str]:
        return [fired.point for fired in self.fired]


@dataclass
class ReportRow:
    scenario: str
    faults: str
    recovery: str
    notes: str = ""
    passed: bool = True
    seconds: float = 0.0
    nodeid: str = ""


@dataclass
class Scenarios:
    stack: FaultStack
    clean: CleanRun
    rows: list[ReportRow] = field(default_factory=list)

    def run(
        self,
        plan: FaultPlan | None = None,
        *,
        files: Sequence[tuple[str, bytes]] | None = None,
        act: Callable[[FaultStack], list[Upload]] | None = None,
        expected_runs: int = 1,
        timeout: float = 240,
    ) -> Outcome:
        """Reset, arm ``plan``, upload ``files`` (or do ``act``), settle, and collect."""
        stack = self.stack
        stack.reset()
        if plan is not None:
            stack.arm(plan)
        since = now_utc()
        started = time.time()
        uploads = act(stack) if act is not None else stack.upload(files or self.clean.files)
        runs = stack.settle(since, expected_runs=expected_runs, timeout=timeout)
        stack.disarm()
        fired = stack.fired()
        return Outcome(
            runs=runs,
            uploads=uploads,
            kpis=kpi_tables(stack),
            accounting=accounting(stack, runs, uploads),
            fired=fired,
            injected=stack.injected(),
            recoveries={f.rule: recovery_seconds(stack, runs, f) for f in fired},
            since=since,
            started=started,
            seconds=time.time() - started,
        )

    def assert_survived(self, outcome: Outcome, expected: KpiTables | None = None) -> None:
        """The promises: the clean run's KPIs, every upload and row accounted for, every run
        succeeded, nothing left on any queue."""
        assert failed_runs(outcome.runs) == []
        assert outcome.kpis.difference(expected or self.clean.kpis) == []
        assert outcome.accounting.problems == []
        assert nothing_in_flight(self.stack) == []

    def stale_drops(self, outcome: Outcome) -> list[dict[str, Any]]:
        """The workers' log lines saying a redelivered command was dropped as stale."""
        return [
            record
            for instance in self.stack.workers()
            for record in self.stack.log_records(instance, outcome.started)
            if str(record.get("message", "")).startswith("stale command dropped")
        ]

    def record(self, scenario: str, faults: str, recovery: str, notes: str = "") -> None:
        self.rows.append(ReportRow(scenario, faults, recovery, notes))


def cancel_first_orders(orders: bytes, count: int) -> bytes:
    """A correction of orders.csv: its first ``count`` orders cancelled (they count nowhere)."""
    rows = list(csv.reader(io.StringIO(orders.decode())))
    status = rows[0].index("status")
    for row in rows[1 : count + 1]:
        row[status] = "Cancelled"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def expected_for(stack: FaultStack, files: list[tuple[str, bytes]]) -> KpiTables:
    """The plain reference over the files in upload order (a later row replaces an earlier)."""
    directory = stack.root / f"expected-{time.monotonic_ns()}"
    directory.mkdir()
    paths = []
    for position, (name, body) in enumerate(files):
        path = directory / f"{position:03d}-{name}"
        path.write_bytes(body)
        paths.append(path)
    categories, days = reference_kpis(paths)
    return KpiTables(days=days, categories=categories)


def arrival_messages(stack: FaultStack, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """Take ``count`` messages off the arrivals queue (with no loader polling it)."""
    taken: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(taken) < count:
        assert time.monotonic() < deadline, f"{len(taken)} of {count} arrivals came"
        taken += stack.drain(stack.queue_url("arrivals"))
        time.sleep(0.2)
    return taken


def seconds_text(value: float) -> str:
    return "n/a" if value != value else f"{value:.1f} s"  # NaN: nothing to measure


def write_report(path: Path, rows: Sequence[ReportRow]) -> None:
    """Rewrite the scenario table between the markers of ``path`` (added at its end if
    missing)."""
    lines = [
        REPORT_START,
        "| scenario | faults injected | outcome | time to recover | notes | test time |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        outcome = "passed" if row.passed else "FAILED"
        lines.append(
            f"| {row.scenario} | {row.faults} | {outcome} | {row.recovery} | {row.notes} "
            f"| {row.seconds:.0f} s |"
        )
    lines.append(REPORT_END)
    table = "\n".join(lines)
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(REPORT_START) + ".*?" + re.escape(REPORT_END), re.S)
    text = pattern.sub(lambda _: table, text) if pattern.search(text) else f"{text}\n{table}\n"
    path.write_text(text)
