"""Races: two loader triggers on one arrivals queue, a KPI lease holder killed mid-run, a
worker stopped with SIGTERM mid-task.

Issue 14 found two trigger instances claiming the same arrivals when their claims
interleaved (B checks, A claims and starts, B claims): B took over A's live claims and both
runs staged the same files.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

from fault_scenarios import (
    Scenarios,
    arrival_messages,
    cancel_first_orders,
    expected_for,
    seconds_text,
)
from shopflow_bench.reliability.soak import shards
from shopflow_bench.reliability.stack import FaultStack, Upload
from shopflow_runtime.faults import FaultPlan, PointRule


def test_two_triggers_with_a_burst_of_uploads_delivered_twice_put_each_file_in_one_run(
    scenarios: Scenarios, sample_files: list[tuple[str, bytes]]
) -> None:
    stack = scenarios.stack
    files = dict(sample_files)
    burst = [
        ("products.csv", files["products.csv"]),
        *shards("orders.csv", files["orders.csv"], 8),
        *shards("order_items.csv", files["order_items.csv"], 12),
    ]
    loaders = [name for name in stack.workers() if name.startswith("loader")]
    assert len(loaders) == 2
    # Given both triggers pausing a moment between checking their arrivals and claiming
    # them (so that their passes overlap), for the whole burst
    plan = FaultPlan(
        points=(
            PointRule(
                id="widen-claims",
                point="trigger.before_claim",
                action="pause",
                pause_seconds=1.0,
                times=200,
            ),
        )
    )

    def act(stack: FaultStack) -> list[Upload]:
        # When a burst of 21 uploads lands while the loaders are stopped, and each upload's
        # event is then delivered twice, shuffled, to the two triggers started together
        for name in loaders:
            stack.local.stop_service(name)
        uploads = stack.upload(burst, pause_seconds=0.05)
        events = arrival_messages(stack, len(uploads))
        twice = [message["Body"] for message in events] * 2
        random.Random(14).shuffle(twice)
        for body in twice:
            stack.sqs.send_message(QueueUrl=stack.queue_url("arrivals"), MessageBody=body)
        for name in loaders:
            stack.local.start_service(name)
        return uploads

    outcome = scenarios.run(plan, act=act, timeout=300)

    # Then no file is in two runs and none in none, and the KPIs are the clean run's (the
    # same rows, in other files)
    in_runs = Counter(
        landed["key"] for run in outcome.runs for landed in run.input.get("objects", [])
    )
    assert set(in_runs) == {f"landing/{name}" for name, _ in burst}
    assert set(in_runs.values()) == {1}, in_runs
    scenarios.assert_survived(outcome)
    contended = [
        record
        for instance in stack.workers()
        for record in stack.log_records(instance, outcome.started)
        if str(record.get("message", "")).startswith("claims contended")
    ]
    scenarios.record(
        "two loader triggers, a burst of 21 uploads, every event delivered twice",
        f"{len(outcome.fired)} claim passes held 1 s; {len(contended)} contended",
        seconds_text(outcome.seconds) + " for the burst",
        f"{len(outcome.runs)} run(s); each file in exactly one",
    )


def lease_item(stack: FaultStack) -> dict[str, Any] | None:
    item: dict[str, Any] | None = stack.dynamodb.get_item(
        TableName=stack.outputs.ledger_table,
        Key={"pk": {"S": "LEASE#kpi-state"}, "sk": {"S": "entry"}},
        ConsistentRead=True,
    ).get("Item")
    return item


def test_a_kpi_lease_holder_killed_mid_run_holds_nobody_up_for_long_and_no_stale_kpi_wins(
    scenarios: Scenarios, sample_files: list[tuple[str, bytes]]
) -> None:
    stack = scenarios.stack
    correction = ("orders.csv", cancel_first_orders(dict(sample_files)["orders.csv"], 50))
    held: dict[str, Any] = {}
    # Given the first kpi worker to compute killed while it holds the KPI state lease
    plan = FaultPlan(points=(PointRule(id="lease-holder", point="kpi.mid_duckdb", action="kill"),))

    def act(stack: FaultStack) -> list[Upload]:
        # When the sample and, in a second run right behind it, a correction are uploaded
        uploads = stack.upload(sample_files)
        time.sleep(stack.batch_window_seconds + 1.5)
        uploads += stack.upload([correction])
        deadline = time.monotonic() + 120
        while not stack.fired():
            assert time.monotonic() < deadline, "the lease holder was not killed"
            stack.local.supervise()
            time.sleep(0.1)
        time.sleep(0.5)
        item = lease_item(stack)
        held["owner"] = item["owner"]["S"] if item else None
        return uploads

    outcome = scenarios.run(plan, act=act, expected_runs=2)

    # Then the dead holder's lease was left standing (it did not release it) ...
    (fired,) = outcome.fired
    assert held["owner"] is not None and held["owner"].startswith(fired.context["run_id"])
    # ... and yet every run succeeded (two or more: the two loaders may split the sample's
    # uploads), the KPIs are the final data's (the correction wins), and no lease is left
    assert len(outcome.runs) >= 2
    scenarios.assert_survived(outcome, expected_for(stack, [*sample_files, correction]))
    assert lease_item(stack) is None
    recovery = outcome.recoveries[fired.rule]
    assert recovery < stack.lease_seconds * 3, recovery
    scenarios.record(
        "KPI state lease holder SIGKILLed mid-run, a second run waiting for the lease",
        "1 kill at `kpi.mid_duckdb` (lease held)",
        seconds_text(recovery),
        "the redelivered command takes its own lease back (owner: run and command), the other "
        f"run waits; a lease of a command never redelivered expires after {stack.lease_seconds} s"
        " (harness)",
    )


def test_a_worker_stopped_with_sigterm_mid_task_finishes_it_and_exits(
    scenarios: Scenarios,
) -> None:
    stack = scenarios.stack
    points = ("load.mid_download", "validate.mid_duckdb", "kpi.mid_duckdb")
    # Given every stage's worker asked to stop (SIGTERM, as ECS stops a task) mid-task
    plan = FaultPlan(
        points=tuple(
            PointRule(
                id=f"stop-{point.split('.')[0]}",
                point=point,
                action="terminate",
                delay_seconds=0.1,
            )
            for point in points
        )
    )
    restarts_before = sum(stack.local.restarts(worker) for worker in stack.workers())

    # When the sample goes through
    outcome = scenarios.run(plan)

    # Then each stopped worker finished its task, answered it, and exited (and was replaced)
    assert sorted(outcome.fired_points()) == sorted(points)
    records = [
        record
        for instance in stack.workers()
        for record in stack.log_records(instance, outcome.started)
    ]
    assert sum(1 for r in records if r.get("message") == "stop requested") == len(points)
    assert sum(1 for r in records if r.get("message") == "worker stopped") >= len(points)
    restarts = sum(stack.local.restarts(worker) for worker in stack.workers())
    assert restarts - restarts_before == len(points)
    # And nothing was handed to another worker: each stage of each run (the two loaders may
    # split the sample into two runs) worked once, none dropped stale
    worked = Counter(
        (record["run_id"], record["stage"])
        for record in records
        if record.get("outcome") == "succeeded"
    )
    assert len(worked) >= 3 and set(worked.values()) == {1}, worked
    assert scenarios.stale_drops(outcome) == []
    scenarios.assert_survived(outcome)
    for fired in outcome.fired:
        scenarios.record(
            f"SIGTERM at `{fired.point}`",
            "1 stop request (as ECS stops a task)",
            seconds_text(outcome.recoveries[fired.rule]) + " (the task finished)",
            "the worker finished, answered and exited; restarted as ECS would",
        )
