"""The same command twice (late, and concurrently to two workers); an arrival twice and out
of order. At-least-once delivery must be exactly-once in effect.

Issue 14 found a stale LoadData, redelivered after a correction of the same file was
uploaded, overwriting the old batch's raw/ copy with the corrected bytes and moving the
FILE# ledger entry to the old batch; and stale commands run in full.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from fault_scenarios import (
    Scenarios,
    arrival_messages,
    cancel_first_orders,
    expected_for,
    seconds_text,
)
from shopflow_bench.reliability.checks import kpi_tables
from shopflow_bench.reliability.stack import FaultStack, Run, Upload, now_utc
from shopflow_runtime.faults import FaultPlan, PointRule

STATES = ("LoadData", "ValidateData", "ComputeKpis")


def commands_of(stack: FaultStack, run: Run) -> dict[str, tuple[str, str]]:
    """State name -> (queue URL, message body) of the last command each state sent."""
    found: dict[str, tuple[str, str]] = {}
    state = ""
    for event in stack.history(run):
        entered = event.get("stateEnteredEventDetails")
        if entered:
            state = entered["name"]
        details = event.get("taskScheduledEventDetails")
        if details and details.get("resource") == "sendMessage.waitForTaskToken":
            parameters = json.loads(details["parameters"])
            body = parameters["MessageBody"]
            found[state] = (
                parameters["QueueUrl"],
                body if isinstance(body, str) else json.dumps(body),
            )
    return found


def stored_objects(stack: FaultStack, *prefixes: str) -> set[tuple[str, str, str]]:
    """Every version of every object under the prefixes: (key, version id, ETag)."""
    found = set()
    for prefix in prefixes:
        pages = stack.s3.get_paginator("list_object_versions").paginate(
            Bucket=stack.outputs.data_bucket, Prefix=prefix
        )
        for page in pages:
            for version in page.get("Versions", []):
                found.add((version["Key"], version["VersionId"], version["ETag"]))
    return found


def ledger_files(stack: FaultStack) -> dict[str, str]:
    """FILE#<sha256> -> the batch holding it."""
    pages = stack.dynamodb.get_paginator("scan").paginate(
        TableName=stack.outputs.ledger_table,
        FilterExpression="begins_with(pk, :file)",
        ExpressionAttributeValues={":file": {"S": "FILE#"}},
    )
    return {item["pk"]["S"]: item["batch_id"]["S"] for page in pages for item in page["Items"]}


def wait_until_consumed(stack: FaultStack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while any(stack.queue_counts(name) != (0, 0) for name in ("loader", "validator", "kpi")):
        assert time.monotonic() < deadline, stack.depths()
        stack.local.supervise()
        time.sleep(0.3)


def test_commands_delivered_again_after_a_correction_change_nothing(
    scenarios: Scenarios, sample_files: list[tuple[str, bytes]]
) -> None:
    stack = scenarios.stack
    orders = dict(sample_files)["orders.csv"]
    correction = ("orders.csv", cancel_first_orders(orders, 40))
    resent: dict[str, float] = {}
    after: dict[str, Any] = {}

    def act(stack: FaultStack) -> list[Upload]:
        # Given the sample's run A, then a correction of orders.csv in run B
        uploads = stack.upload(sample_files)
        first_runs = stack.settle(since)
        uploads += stack.upload([correction])
        stack.settle(since, expected_runs=len(first_runs) + 1)
        before = (stored_objects(stack, "raw/", "curated/"), ledger_files(stack), kpi_tables(stack))
        # When run A's three commands are delivered again (a worker died after answering
        # each, before deleting it), LoadData first, as the issue saw it
        for first in first_runs:
            for state, (queue_url, body) in commands_of(stack, first).items():
                resent[state] = time.time()
                stack.sqs.send_message(QueueUrl=queue_url, MessageBody=body)
                wait_until_consumed(stack)
        after["before"] = before
        return uploads

    since = now_utc()
    outcome = scenarios.run(act=act, expected_runs=2)

    # Then nothing changed: raw/ and curated/ objects (every version), the FILE# ledger and
    # the KPI tables are as they were before the stale copies came
    objects, files, tables = after["before"]
    assert stored_objects(stack, "raw/", "curated/") == objects
    assert ledger_files(stack) == files
    assert outcome.kpis == tables
    # And each copy was dropped as stale, without being worked on
    drops = scenarios.stale_drops(outcome)
    assert {record["stage"] for record in drops} >= {"load", "validate", "kpi"}
    # And the KPIs are the final data's (the correction wins), every upload in one run
    scenarios.assert_survived(outcome, expected_for(stack, [*sample_files, correction]))
    for state in STATES:
        scenarios.record(
            f"{state} command of a finished run delivered again",
            "1 stale copy (after a correction of the same file)",
            "0 s (dropped on receipt)",
            "raw/, curated/, FILE# ledger and KPIs unchanged",
        )


def test_the_same_command_delivered_twice_at_once_to_two_workers(scenarios: Scenarios) -> None:
    # Given each stage's worker pauses 3 s right after receiving a command (every copy)
    plan = FaultPlan(
        points=tuple(
            PointRule(
                id=f"hold-{stage}",
                point=f"{stage}.after_receive",
                action="pause",
                pause_seconds=3,
                times=20,
            )
            for stage in ("load", "validate", "kpi")
        )
    )
    copied: set[tuple[str, str]] = set()
    deadline = time.monotonic() + 240

    def act(stack: FaultStack) -> list[Upload]:
        # (one run: the sample's arrivals all go to one trigger; the second loader joins as
        # soon as that run has started, to take the copies)
        for name in ("loader", "loader-2"):
            stack.local.stop_service(name)
        uploads = stack.upload(scenarios.clean.files)
        stack.local.start_service("loader")
        while not stack.runs(since):
            assert time.monotonic() < deadline, "no run started"
            time.sleep(0.2)
        stack.local.start_service("loader-2")
        # When, while each command is held, a second copy of it is put on its queue (the
        # other replica takes it: both work on the same command at once)
        while True:
            assert time.monotonic() < deadline, f"commands copied: {sorted(copied)}"
            runs = stack.runs(since)
            for run in runs:
                for state, (queue_url, body) in commands_of(stack, run).items():
                    if (run.name, state) not in copied:
                        stack.sqs.send_message(QueueUrl=queue_url, MessageBody=body)
                        copied.add((run.name, state))
            if runs and all(run.status != "RUNNING" for run in runs):
                return uploads
            time.sleep(0.2)

    since = now_utc()
    outcome = scenarios.run(plan, act=act)

    # Then every command of every run was copied, and both copies were worked on (each of
    # them was held at receipt: at least twice as many holds as commands; a copy may also be
    # received once more, when its visibility lapsed on a loaded machine: SQS's at-least-once,
    # which the KPI and accounting checks of scenarios.run cover)
    assert len(outcome.runs) == 1
    assert copied == {(run.name, state) for run in outcome.runs for state in STATES}
    holds = Counter(fired.point.split(".", 1)[0] for fired in outcome.fired)
    assert set(holds) == {"load", "validate", "kpi"}
    assert all(holds[stage] >= 2 * len(outcome.runs) for stage in holds), holds
    worked = Counter(
        (record["run_id"], record["stage"])
        for instance in scenarios.stack.workers()
        for record in scenarios.stack.log_records(instance, outcome.started)
        if record.get("outcome") == "succeeded"
    )
    assert set(worked.values()) == {2}, worked
    # And the outcome is the clean run's: its KPIs, every row once
    scenarios.assert_survived(outcome)
    for state in STATES:
        scenarios.record(
            f"{state} command delivered twice at once (two workers)",
            "1 duplicate per command, both copies worked on concurrently",
            seconds_text(0.0),
            "the second answer is ignored; writes are idempotent",
        )


def test_an_arrival_delivered_twice_and_out_of_order(
    scenarios: Scenarios, sample_files: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    stack = scenarios.stack
    orders = dict(sample_files)["orders.csv"]
    correction = ("orders.csv", cancel_first_orders(orders, 60))
    loaders = [name for name in stack.workers() if name.startswith("loader")]

    def act(stack: FaultStack) -> list[Upload]:
        # Given the loaders stopped while the sample and then a correction of orders.csv land
        for name in loaders:
            stack.local.stop_service(name)
        uploads = stack.upload(sample_files)
        time.sleep(1.1)  # S3 event times have one-second steps: the correction is later
        uploads += stack.upload([correction])
        events = arrival_messages(stack, len(uploads))
        # When their events come back in reverse order, the correction's twice
        by_key_time = sorted(events, key=lambda m: json.loads(m["Body"])["time"], reverse=True)
        for message in [by_key_time[0], *by_key_time]:
            stack.sqs.send_message(
                QueueUrl=stack.queue_url("arrivals"), MessageBody=message["Body"]
            )
        for name in loaders:
            stack.local.start_service(name)
        return uploads

    outcome = scenarios.run(act=act)

    # Then each upload is in exactly one run, none twice, and the later upload (by its time,
    # not by delivery) wins: the KPIs are those of the sample with the correction applied
    scenarios.assert_survived(outcome, expected_for(stack, [*sample_files, correction]))
    scenarios.record(
        "arrivals delivered out of order, one twice",
        "4 uploads' events reversed + 1 duplicate event",
        "n/a",
        f"{len(outcome.runs)} run(s); the later upload wins by event time",
    )
