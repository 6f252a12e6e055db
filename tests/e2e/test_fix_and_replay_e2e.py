"""The fix-and-replay loop on the whole local stack, the ``shopflow`` commands as processes.

- rejected rows come back with ``shopflow rejects``, are fixed and uploaded, and count;
- a quarantined file is validated again with ``shopflow reprocess`` under a higher
  threshold, without being uploaded again, as a run of its own with its own notification;
- ``shopflow recompute`` of a date range gives exactly what a computation from scratch gives
  there, and leaves the dates outside it alone.

The expected KPIs always come from tests/reference_kpis.py over the files the shop sent, in
the order it sent them (a later row of a key replaces an earlier one).
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from e2e_stack import SAMPLE, Pipeline, as_csv
from reference_kpis import reference_kpis
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS
from shopflow_contracts.messages import RunFailed, RunSucceeded

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "shopflow_cli.main"]
ORDERS_HEADER = "order_id,user_id,status,created_at,returned_at,shipped_at,delivered_at,num_of_item"


def shopflow(pipeline: Pipeline, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args), "--state-file", str(pipeline.stack.state_file)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def sample_files(target: Path) -> list[Path]:
    target.mkdir(parents=True)
    names = ("products.csv", "orders.csv", "order_items.csv")
    return [Path(shutil.copy(SAMPLE / name, target / name)) for name in names]


def with_status(line: str, status: str) -> str:
    cells = line.split(",")
    cells[2] = status
    return ",".join(cells)


def kpi_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def expected(files: list[Path]) -> tuple[str, str]:
    categories, days = reference_kpis(files)
    return (
        as_csv(categories, CATEGORY_KPI_COLUMNS),
        as_csv(days, DAY_KPI_COLUMNS),
    )


def notices(pipeline: Pipeline) -> list[dict[str, Any]]:
    import json

    return [json.loads(body) for body in pipeline.notifications()]


def test_rejected_rows_fixed_and_uploaded_again_count_in_the_kpis(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given the sample with three orders broken (an unknown status): rejected, their items
    # waiting for them
    files = sample_files(tmp_path / "upload")
    orders = files[1]
    lines = orders.read_text().splitlines()
    broken = {4: "lost", 5: "lost", 6: "shipped?"}
    originals = {index: lines[index] for index in broken}
    for index, status in broken.items():
        lines[index] = with_status(lines[index], status)
    orders.write_text("\n".join(lines) + "\n")
    pipeline.upload(*files)
    (first,) = pipeline.settle()
    assert first.status == "SUCCEEDED"
    assert pipeline.exported(tmp_path / "before") == expected(files)
    # When the rejected rows are fetched with 'shopflow rejects'
    fixes = tmp_path / "fixes" / "orders-fixed.csv"
    fetched = shopflow(pipeline, "rejects", "orders.csv", "--out", fixes, cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    # Then they come as the original header and the exact original lines (the sample's own
    # broken rows among them), and beside them line, rule and message of each, in order
    rows = fixes.read_text().splitlines()
    reasons = list(csv.DictReader((tmp_path / "fixes" / "orders-fixed.reasons.csv").open()))
    assert rows[0] == lines[0] and len(rows) == len(reasons) + 1
    assert [lines[int(r["line"]) - 1] for r in reasons] == rows[1:]
    assert {(index + 1, "unknown_status") for index in broken} <= {
        (int(r["line"]), r["rule"]) for r in reasons
    }
    # When the three are fixed in place, the rows that cannot be fixed deleted, and the file
    # uploaded (left in, the unfixable ones would get it quarantined: 5 of 8 rejected)
    fixed = [originals[int(r["line"]) - 1] for r in reasons if int(r["line"]) - 1 in originals]
    fixes.write_text("\n".join([rows[0], *fixed]) + "\n")
    uploaded = shopflow(pipeline, "upload", fixes, "--wait", "--batch-window", "1.5", cwd=tmp_path)
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    runs = pipeline.settle(expected_at_least=2)
    # Then the KPIs include them (and the items that waited for them), to the cent
    assert [run.status for run in runs] == ["SUCCEEDED", "SUCCEEDED"]
    after = pipeline.exported(tmp_path / "after")
    assert after == expected([*files, fixes])
    assert after != expected(files)


def test_a_quarantined_file_reprocessed_with_a_higher_threshold_is_applied(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given the sample applied, then a corrections file whose good row cancels order 10 and
    # whose three other rows are broken: quarantined at the default threshold (0.5)
    files = sample_files(tmp_path / "upload")
    pipeline.upload(*files)
    pipeline.settle()
    order_lines = files[1].read_text().splitlines()
    corrections = tmp_path / "corrections" / "orders-corrections.csv"
    corrections.parent.mkdir()
    corrections.write_text(
        "\n".join(
            [
                ORDERS_HEADER,
                with_status(order_lines[10], "Cancelled"),
                *(with_status(order_lines[n], "lost") for n in (11, 12, 13)),
            ]
        )
        + "\n"
    )
    pipeline.upload(corrections)
    runs = pipeline.settle(expected_at_least=2)
    assert [run.status for run in runs] == ["SUCCEEDED", "FAILED"]
    assert pipeline.exported(tmp_path / "quarantined") == expected(files)
    failed = RunFailed.model_validate(notices(pipeline)[-1])
    assert failed.error == "shopflow.AllFilesQuarantined"
    # When it is reprocessed under a threshold of 0.8, without uploading it again
    done = shopflow(
        pipeline, "reprocess", "orders-corrections.csv", "--reject-threshold", "0.8", cwd=tmp_path
    )
    # Then a run of its own validated the staged copy and applied its good row
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCEEDED" in done.stdout and "1 accepted + 3 rejected" in done.stdout
    runs = pipeline.settle(expected_at_least=3)
    reprocess = runs[-1]
    assert reprocess.name.startswith("reprocess-") and reprocess.status == "SUCCEEDED"
    assert pipeline.entered_states(reprocess)[:3] == ["RouteRun", "PlanReprocess", "ValidateData"]
    after = pipeline.exported(tmp_path / "after")
    assert after == expected([*files, corrections])
    assert after != expected(files)
    # And its own notification says it was a reprocess
    (notice,) = notices(pipeline)
    succeeded = RunSucceeded.model_validate(notice)
    assert (succeeded.run_kind, succeeded.run_id) == ("reprocess", reprocess.name)
    # And a file no longer quarantined is not reprocessed again
    again = shopflow(pipeline, "reprocess", "orders-corrections.csv", cwd=tmp_path)
    assert again.returncode == 1 and "was not quarantined" in again.stderr


def spoil_day(pipeline: Pipeline, day: date, total_orders: int = 0) -> None:
    """A day row gone wrong (or one for a day without orders), as a bad definition left it."""
    pipeline.dynamodb.put_item(
        TableName=pipeline.outputs.daily_kpis_table,
        Item={
            "order_year": {"S": f"{day.year:04d}"},
            "order_date": {"S": day.isoformat()},
            "total_orders": {"N": str(total_orders)},
            "total_revenue": {"N": "1.00"},
            "total_items_sold": {"N": "1"},
            "return_rate": {"N": "0.00"},
            "unique_customers": {"N": "1"},
            "computed_at": {"S": "2025-01-01T00:00:00+00:00"},
            "batch_id": {"S": "spoiled"},
        },
    )


def test_recompute_of_a_range_equals_the_full_computation_and_leaves_other_dates(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given the sample applied, then KPI rows spoiled inside and outside a range, and a row
    # for a day of the range without any order
    files = sample_files(tmp_path / "upload")
    pipeline.upload(*files)
    pipeline.settle()
    categories, days = expected(files)
    for day in (date(2025, 3, 2), date(2025, 3, 4), date(2025, 4, 11)):
        spoil_day(pipeline, day)
    spoil_day(pipeline, date(2025, 2, 27), total_orders=5)
    # When the range Feb 25 to Mar 5 is recomputed
    done = shopflow(
        pipeline, "recompute", "--from", "2025-02-25", "--to", "2025-03-05", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCEEDED" in done.stdout
    # Then the range holds exactly the reference rows, the empty day's row is gone
    exported_categories, exported_days = pipeline.exported(tmp_path / "range")
    in_range = [
        r for r in kpi_rows(exported_days) if "2025-02-25" <= r["order_date"] <= "2025-03-05"
    ]
    reference = [r for r in kpi_rows(days) if r["order_date"] <= "2025-03-05"]
    assert in_range == reference and len(reference) == 5
    assert exported_categories == categories
    # And Apr 11, outside the range, is still as spoiled
    (april,) = [r for r in kpi_rows(exported_days) if r["order_date"] == "2025-04-11"]
    assert april["total_orders"] == "0"
    # When everything is recomputed
    everything = shopflow(pipeline, "recompute", cwd=tmp_path)
    assert everything.returncode == 0, everything.stdout + everything.stderr
    # Then both tables equal the full computation, to the cent
    assert pipeline.exported(tmp_path / "all") == (categories, days)
    # And each recompute was a run through ComputeKpis with its own notification
    runs = pipeline.settle(expected_at_least=3)
    assert [run.name.split("-")[0] for run in runs[1:]] == ["recompute", "recompute"]
    assert pipeline.entered_states(runs[-1])[:3] == ["RouteRun", "PlanRecompute", "ComputeKpis"]
    kinds = [RunSucceeded.model_validate(n).run_kind for n in notices(pipeline)]
    assert kinds == ["upload", "recompute", "recompute"]


def test_a_fixed_correction_replaces_the_earlier_version_of_its_key(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given the sample applied, then an update cancelling orders 20 to 23, one row of it
    # misspelt (rejected: order 21 stays as the sample had it)
    files = sample_files(tmp_path / "upload")
    pipeline.upload(*files)
    pipeline.settle()
    order_lines = files[1].read_text().splitlines()
    update = tmp_path / "update" / "orders-update.csv"
    update.parent.mkdir()
    statuses = {20: "Cancelled", 21: "cancelled?", 22: "Cancelled", 23: "Cancelled"}
    update.write_text(
        "\n".join([ORDERS_HEADER, *(with_status(order_lines[n], s) for n, s in statuses.items())])
        + "\n"
    )
    pipeline.upload(update)
    pipeline.settle(expected_at_least=2)
    before = pipeline.exported(tmp_path / "before")
    assert before == expected([*files, update])
    # When its rejected row is fetched, fixed and uploaded
    fix = tmp_path / "fix" / "orders-update-fixed.csv"
    fetched = shopflow(pipeline, "rejects", "orders-update.csv", "--out", fix, cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert fix.read_text().splitlines() == [
        ORDERS_HEADER,
        with_status(order_lines[21], "cancelled?"),
    ]
    fix.write_text(fix.read_text().replace("cancelled?", "Cancelled"))
    uploaded = shopflow(pipeline, "upload", fix, "--wait", "--batch-window", "1.5", cwd=tmp_path)
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    pipeline.settle(expected_at_least=3)
    # Then the later upload wins for order 21: it is cancelled, its day counts it no more
    after = pipeline.exported(tmp_path / "after")
    assert after == expected([*files, update, fix])
    assert after != before
