"""The two KPI tables change together for readers.

Issue 14 found a kpi worker killed between the day and the category writes leaving the day
table with 42 rows and the category table with none until the retry. Rows now carry their
run's version and readers follow the published one (``shopflow_runtime.kpi_versions``): a
reader sees the old version of both tables until the flip, then the new version of both.
"""

from __future__ import annotations

import time
from typing import Any

from fault_scenarios import Scenarios, cancel_first_orders, expected_for, seconds_text
from shopflow_bench.reliability.checks import KpiTables, kpi_tables
from shopflow_bench.reliability.stack import FaultStack, Upload, now_utc
from shopflow_runtime.faults import FaultPlan, PointRule
from shopflow_runtime.kpi_versions import VERSION, read_published


def unpublished_rows(stack: FaultStack) -> int:
    """Rows of the day table written by a version readers do not see yet."""
    published = read_published(stack.dynamodb, stack.outputs.ledger_table)
    pages = stack.dynamodb.get_paginator("scan").paginate(TableName=stack.outputs.daily_kpis_table)
    return sum(
        1
        for page in pages
        for item in page["Items"]
        if VERSION in item and not published.shows(int(item[VERSION]["N"]))
    )


def test_readers_see_the_old_kpis_of_both_tables_then_the_new_of_both(
    scenarios: Scenarios, sample_files: list[tuple[str, bytes]]
) -> None:
    stack = scenarios.stack
    correction = ("orders.csv", cancel_first_orders(dict(sample_files)["orders.csv"], 80))
    old = scenarios.clean.kpis
    new = expected_for(stack, [*sample_files, correction])
    assert new != old
    seen: list[str] = []
    observed: dict[str, Any] = {}

    def reader_sees(tables: KpiTables) -> str:
        if tables == old:
            return "old"
        if tables == new:
            return "new"
        return "MIXED: " + "; ".join(tables.difference(new)[:3])

    def act(stack: FaultStack) -> list[Upload]:
        # Given the sample's KPIs published
        uploads = stack.upload(sample_files)
        stack.settle(since)
        assert reader_sees(kpi_tables(stack)) == "old"
        # When a correction is uploaded and its kpi worker is killed between the day table
        # and the category table, a reader reading all along
        stack.arm(FaultPlan(points=(PointRule(id="between", point="kpi.between_tables"),)))
        uploads += stack.upload([correction])
        deadline = time.monotonic() + 240
        while True:
            assert time.monotonic() < deadline, f"readers saw {seen[-5:]}"
            stack.local.supervise()
            view = reader_sees(kpi_tables(stack))
            if not seen or seen[-1] != view:
                seen.append(view)
            if stack.fired() and "killed_with" not in observed:
                observed["killed_with"] = unpublished_rows(stack)
            if view == "new":
                return uploads
            time.sleep(0.2)

    since = now_utc()
    outcome = scenarios.run(act=act, expected_runs=2)

    # Then the kill left the day table half-way (new rows nobody sees yet) ...
    assert observed["killed_with"] > 0
    # ... and the reader saw the old KPIs of both tables, then the new of both, nothing else
    assert seen == ["old", "new"], seen
    scenarios.assert_survived(outcome, new)
    (fired,) = outcome.fired
    scenarios.record(
        "kpi worker SIGKILLed between the day and the category table; a reader polling",
        f"1 kill at `kpi.between_tables` ({observed['killed_with']} unpublished day rows left)",
        seconds_text(outcome.recoveries[fired.rule]),
        "the reader saw the old version of both tables, then the new of both",
    )
