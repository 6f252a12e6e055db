"""Succeeded with quarantine, and a failed run that changes nothing, on the whole local stack
(moto server, the deployed template, the service processes; ``shopflow status`` as its own
process)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_stack import BATCH_WINDOW, SAMPLE, Pipeline, as_csv
from reference_kpis import reference_kpis
from shopflow_cli import operations
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS
from shopflow_contracts.messages import RunFailed, RunPartial, RunSucceeded, TaskFailure

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "shopflow_cli.main"]
ORDERS_HEADER = (
    "order_id,user_id,status,created_at,returned_at,shipped_at,delivered_at,num_of_item\n"
)
ITEMS_HEADER = (
    "id,order_id,user_id,product_id,status,created_at,shipped_at,delivered_at,returned_at,"
    "sale_price\n"
)


def shopflow_status(pipeline: Pipeline) -> str:
    done = subprocess.run(
        [*CLI, "status", "--state-file", str(pipeline.stack.state_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def expected_export(files: list[Path]) -> tuple[str, str]:
    categories, days = reference_kpis(files)
    return (
        as_csv(categories, CATEGORY_KPI_COLUMNS),
        as_csv(days, DAY_KPI_COLUMNS),
    )


def test_good_files_and_one_junk_file_end_partial_with_the_good_files_kpis(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given the bundled sample and, in the same batch, an orders file mostly broken
    batch = tmp_path / "batch"
    batch.mkdir()
    good = [batch / path.name for path in operations.csv_files_under(SAMPLE)]
    for copy in good:
        shutil.copy(SAMPLE / copy.name, copy)
    junk = batch / "orders-junk.csv"
    junk.write_text(
        ORDERS_HEADER + "1,7,complete,2025-03-01T16:14:26,,,,1\n"
        "x2,7,complete,2025-03-01T16:14:26,,,,1\n"
        "3,7,lost,2025-03-01T16:14:26,,,,1\n"
        "4,7,complete,yesterday,,,,1\n"
    )
    # When they are uploaded with 'shopflow upload --wait' and the pipeline settles
    state_file = str(pipeline.stack.state_file)
    uploaded = subprocess.run(
        [
            *CLI,
            "upload",
            str(batch),
            "--wait",
            "--batch-window",
            str(BATCH_WINDOW),
            "--state-file",
            state_file,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    (execution,) = pipeline.settle()
    # Then upload says the run was PARTIAL, names the junk file, and exits 1: rows are missing
    assert uploaded.returncode == 1, uploaded.stdout + uploaded.stderr
    assert f"run {execution.name} PARTIAL" in uploaded.stdout
    assert "quarantined landing/orders-junk.csv (orders): " in uploaded.stdout
    # And the run succeeded, through NotifyPartial
    assert execution.status == "SUCCEEDED"
    states = pipeline.entered_states(execution)
    assert states[-2:] == ["RunOutcome", "NotifyPartial"] and "NotifySuccess" not in states
    # And the good files' KPIs are in DynamoDB, to the cent, with none of the junk's rows
    assert pipeline.exported(tmp_path / "export") == expected_export(good)
    # And the notification is a run.partial naming the junk file, its counts and reasons
    (notice,) = pipeline.notifications()
    partial = RunPartial.model_validate_json(notice)
    (quarantined,) = partial.quarantined
    assert quarantined.source_key == "landing/orders-junk.csv"
    assert (quarantined.rows_in, quarantined.rejected) == (4, 3)
    assert quarantined.reason.cause == "reject_threshold"
    assert {reason.rule for reason in quarantined.top_reasons} >= {"unknown_status"}
    assert partial.run_id == execution.name and partial.day_rows_written > 30
    # And shopflow status shows the run as PARTIAL, naming the quarantined file and why
    status = shopflow_status(pipeline)
    (run_line,) = [line for line in status.splitlines() if line.rstrip().endswith(execution.name)]
    assert "PARTIAL" in run_line
    assert f"{execution.name} PARTIAL: quarantined landing/orders-junk.csv (orders): " in status
    assert "3 of 4 rows rejected" in status
    assert f"file accounting of {execution.name} (PARTIAL)" in status


def wait_until_entered(pipeline: Pipeline, state: str, timeout: float = 120) -> str:
    """The name of the execution running ``state`` (the first one found in it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for execution in operations.list_executions(
            pipeline.sfn, pipeline.outputs.state_machine_arn
        ):
            if execution.status == "RUNNING" and state in pipeline.entered_states(execution):
                return execution.name
        time.sleep(0.3)
    raise AssertionError(f"no execution entered {state} within {timeout:.0f}s")


def test_a_run_failing_after_validation_leaves_no_trace_and_its_replay_counts(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given the sample computed
    sample = operations.csv_files_under(SAMPLE)
    pipeline.upload(*sample)
    pipeline.settle()
    (first,) = pipeline.notifications()
    waiting_before = RunSucceeded.model_validate_json(first).pending_items
    before = pipeline.exported(tmp_path / "before")
    assert before == expected_export(sample)

    # And a batch of new orders (a day of their own) with their items, validated, whose
    # run then fails in ComputeKpis: one of its curated files is gone when the kpi worker
    # (held back until then) gets to it
    new_orders = tmp_path / "orders-new-day.csv"
    new_orders.write_text(
        ORDERS_HEADER
        + "".join(
            f"{900000 + n},{n},complete,2025-06-01 10:0{n}:00 UTC,,,,1\n" for n in range(1, 6)
        )
    )
    their_items = tmp_path / "items-new-day.csv"
    their_items.write_text(
        ITEMS_HEADER
        + "".join(
            f"{900000 + n},{900000 + n},{n},{n},complete,2025-06-01 10:0{n}:00 UTC,,,,1{n}.50\n"
            for n in range(1, 6)
        )
    )
    pipeline.stack.stop_service("kpi")
    pipeline.upload(new_orders, their_items)
    failed_run = wait_until_entered(pipeline, "ComputeKpis")
    bucket = pipeline.outputs.data_bucket
    listed = pipeline.s3.list_objects_v2(
        Bucket=bucket, Prefix=f"curated/order_items/batch={failed_run}/"
    )["Contents"]
    for entry in listed:
        pipeline.s3.delete_object(Bucket=bucket, Key=entry["Key"])
    pipeline.stack.start_service("kpi")
    executions = pipeline.settle(expected_at_least=2)
    assert {e.name: e.status for e in executions}[failed_run] == "FAILED"
    (notice,) = pipeline.notifications()
    failure = TaskFailure.model_validate_json(RunFailed.model_validate_json(notice).cause)
    assert (failure.error.value, failure.stage) == ("shopflow.StagedObjectMissing", "kpi")
    # (its orders' curated file is still in the bucket)
    assert pipeline.s3.list_objects_v2(
        Bucket=bucket, Prefix=f"curated/orders/batch={failed_run}/"
    ).get("KeyCount")

    # When a later run brings items for those orders
    later_items = tmp_path / "items-later.csv"
    later_items.write_text(
        ITEMS_HEADER
        + "".join(
            f"{910000 + n},{900000 + n},{n},{n},complete,2025-06-01 11:0{n}:00 UTC,,,,2{n}.25\n"
            for n in range(1, 6)
        )
    )
    pipeline.upload(later_items)
    executions = pipeline.settle(expected_at_least=3)
    assert executions[-1].status == "SUCCEEDED"
    # Then the failed run left no trace: the orders it validated do not count, so the later
    # items wait for them and the KPIs are exactly those of before
    later = RunSucceeded.model_validate_json(pipeline.notifications()[0])
    assert later.pending_items == waiting_before + 5
    assert pipeline.exported(tmp_path / "after-later-run") == before

    # When the failed run's orders are uploaded again (a replay)
    pipeline.upload(new_orders)
    executions = pipeline.settle(expected_at_least=4)
    assert executions[-1].status == "SUCCEEDED"
    # Then they count, with the items that waited for them, as a computation from scratch
    # over everything that was applied
    assert pipeline.exported(tmp_path / "after-replay") == expected_export(
        [*sample, new_orders, later_items]
    )
