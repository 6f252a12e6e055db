"""The fault suite's one local stack, its clean-run reference, and the table of results.

Every test here is marked ``faults`` and ``slow``: ``make test`` runs them, the quick gate
(``-m "not e2e and not slow"``) does not. One stack (two workers per stage) serves the whole
session; each scenario starts from an emptied stack (``FaultStack.reset``).

With ``SHOPFLOW_FAULT_REPORT=docs/reliability.md`` the session rewrites that document's
scenario table (between its ``scenario-table`` markers) with what it measured.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from fault_scenarios import (
    CleanRun,
    ReportRow,
    Scenarios,
    small_sample,
    write_report,
)
from shopflow_bench.reliability.stack import FaultStack

SESSION_ROWS: list[ReportRow] = []
REPLICAS = {"loader": 2, "validator": 2, "kpi": 2}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    with FaultStack(root=tmp_path_factory.mktemp("fault-stack"), replicas=REPLICAS) as stack:
        yield stack


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    return small_sample(tmp_path_factory.mktemp("fault-sample"))


@pytest.fixture(scope="session")
def clean(fault_stack: FaultStack, sample_files: list[tuple[str, bytes]]) -> CleanRun:
    """The sample through the stack with no fault: what every scenario must end with."""
    return CleanRun.of(fault_stack, sample_files)


@pytest.fixture
def scenarios(
    fault_stack: FaultStack, clean: CleanRun, request: pytest.FixtureRequest
) -> Iterator[Scenarios]:
    started = time.monotonic()
    runner = Scenarios(fault_stack, clean)
    yield runner
    for row in runner.rows:
        row.seconds = time.monotonic() - started
        row.nodeid = request.node.nodeid
        SESSION_ROWS.append(row)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    runner = getattr(item, "funcargs", {}).get("scenarios")
    if report.when == "call" and isinstance(runner, Scenarios):
        for row in runner.rows:
            row.passed = report.passed
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("SHOPFLOW_FAULT_REPORT")
    if target and SESSION_ROWS:
        write_report(Path(target), SESSION_ROWS)
