"""The ``shopflow`` command as a user runs it: real processes, a real local stack.

Every command runs as its own process (``python -m shopflow_cli.main``) in a scratch
directory with its own state file, so nothing here depends on the repository's ``.shopflow``
or on in-process state. Every process a test starts, directly or through ``shopflow``, is
stopped by that test.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from reference_kpis import read_rows, reference_kpis
from shopflow_cli import operations
from shopflow_cli.clients import aws_client
from shopflow_cli.commands.kpis import CATEGORY_TABLE, DAY_TABLE
from shopflow_cli.localstack import StackState
from shopflow_cli.output import Column, format_cell
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "thelook-small"
CLI = [sys.executable, "-m", "shopflow_cli.main"]
BATCH_WINDOW = "1.5"
# Names that say nothing about the content: the loader must recognise files by their header.
MEANINGLESS_NAMES = {
    "orders.csv": "export-7f3a.csv",
    "order_items.csv": "a.csv",
    "products.csv": "zz-latest.csv",
}
COMMAND_TIMEOUT = 60
DEMO_TIMEOUT = 300


def as_csv(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    return operations.render(rows, columns, "csv")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pid reused by another user's process: not ours any more
        return False
    return True


def kill_listed(state_file: Path) -> None:
    """Stop what a ``shopflow`` process started but could not stop (it was killed itself)."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        for pid in StackState.load(state_file).pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def shopflow(
    *args: str | Path, cwd: Path, state_file: Path, timeout: float = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [*CLI, *map(str, args), "--state-file", str(state_file)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        kill_listed(state_file)
        raise


def copy_sample(target: Path) -> list[Path]:
    target.mkdir(parents=True)
    copies = []
    for original, name in MEANINGLESS_NAMES.items():
        copies.append(target / name)
        shutil.copy(SAMPLE / original, copies[-1])
    return copies


def records_of(path: Path) -> int:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return sum(1 for cells in csv.reader(handle) if cells) - 1


def table_cells(line: str) -> list[str]:
    """The cells of one line of a plain (piped) table: columns are 2+ spaces apart."""
    return re.split(r"\s{2,}", line.strip())


def accounting_line(stdout: str, source_key: str) -> list[str]:
    """The cells after the key of the file's line in the demo's accounting table."""
    (cells,) = [
        table_cells(line)[1:]
        for line in stdout.splitlines()
        if table_cells(line)[:1] == [source_key]
    ]
    return cells


def count(cell: str) -> int:
    return int(cell.replace(",", ""))


def shown_as_table_line(row: dict[str, str], columns: tuple[Column, ...]) -> str:
    """The pattern of a KPI row in a printed table (thousands separators, 2 decimals)."""
    cells = [format_cell(column, typed(column, row[column.name])) for column in columns]
    return r"^\s*" + r"\s+".join(map(re.escape, cells)) + r"\s*$"


def typed(column: Column, text: str) -> object:
    if column.kind == "count":
        return int(text)
    if column.kind in {"money", "percent"}:
        return Decimal(text)
    return text


# --- shopflow demo ------------------------------------------------------------------------


def test_demo_on_renamed_sample_files_exports_exact_kpis_and_accounts_for_every_row(
    tmp_path: Path,
) -> None:
    # Given the bundled sample under names that give away nothing
    files = copy_sample(tmp_path / "data")
    state_file = tmp_path / "stack" / "stack.json"
    # When 'shopflow demo --export' runs on them
    result = shopflow(
        "demo", "--data", tmp_path / "data", "--export", tmp_path / "out",
        "--batch-window", BATCH_WINDOW, "--timeout", "240",
        cwd=tmp_path, state_file=state_file, timeout=DEMO_TIMEOUT,
    )  # fmt: skip
    # Then it succeeds and stops everything it started
    assert result.returncode == 0, result.stdout + result.stderr
    assert not state_file.exists()
    # And both exports equal an independent computation from the same files, to the cent
    expected_categories, expected_days = reference_kpis(files)
    assert (tmp_path / "out" / "order_kpis.csv").read_text() == as_csv(
        expected_days, DAY_KPI_COLUMNS
    )
    assert (tmp_path / "out" / "category_kpis.csv").read_text() == as_csv(
        expected_categories, CATEGORY_KPI_COLUMNS
    )
    # And stdout shows both tables exactly as 'shopflow kpis' renders them
    for rows, columns in ((expected_days, DAY_TABLE), (expected_categories, CATEGORY_TABLE)):
        for row in rows:
            assert re.search(shown_as_table_line(row, columns), result.stdout, re.MULTILINE), row
    # And the accounting recognises each file by its header and places every row once:
    # what the reference rejects is rejected, the rest is accepted, duplicate or pending
    assert "file accounting" in result.stdout
    for path, original in zip(files, MEANINGLESS_NAMES, strict=True):
        kind, *counts_and_reasons = accounting_line(result.stdout, f"landing/{path.name}")
        rows_in, accepted, rejected, duplicates, pending = map(count, counts_and_reasons[:5])
        valid = sum(1 for _ in read_rows(path))
        assert kind == original.removesuffix(".csv")
        assert rows_in == records_of(path) == accepted + rejected + duplicates + pending
        assert rejected == rows_in - valid > 0
        assert counts_and_reasons[5:] and counts_and_reasons[5] != "-", "no reason shown"


def test_demo_on_an_unrecognisable_file_fails_and_says_which_file_and_why(
    tmp_path: Path,
) -> None:
    # Given a directory holding only a CSV that is no shop export
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "meeting-notes.csv").write_text("topic,owner\nbudget,alice\n")
    state_file = tmp_path / "stack" / "stack.json"
    # When 'shopflow demo' runs on it
    result = shopflow(
        "demo", "--data", tmp_path / "data", "--batch-window", BATCH_WINDOW, "--timeout", "240",
        cwd=tmp_path, state_file=state_file, timeout=DEMO_TIMEOUT,
    )  # fmt: skip
    # Then it exits non-zero, naming the file, the typed error and the reason
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED" in result.stdout
    assert "landing/meeting-notes.csv" in result.stdout
    assert "shopflow.UnrecognisedFile" in result.stdout
    assert "header 'topic,owner' is not an orders, order_items or products header" in (
        result.stdout
    )
    assert not state_file.exists()


# --- shopflow up, and the commands that talk to it ----------------------------------------


def _as_a_background_job() -> None:
    # A non-interactive shell starts background jobs with SIGINT ignored, and children
    # inherit that: 'shopflow up' must still stop on the Ctrl-C (SIGINT) it promises.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def running_stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """'shopflow up' in the background, up once its state file exists; always stopped."""
    state_file = tmp_path / "up" / "stack.json"
    with (tmp_path / "up.log").open("wb") as log:
        up = subprocess.Popen(
            [*CLI, "up", "--state-file", str(state_file), "--batch-window", BATCH_WINDOW],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_as_a_background_job,
        )
        pids: dict[str, int] = {}
        try:
            deadline = time.monotonic() + 120
            while not state_file.exists():
                assert up.poll() is None, (tmp_path / "up.log").read_text()
                assert time.monotonic() < deadline, "shopflow up wrote no state file in 120 s"
                time.sleep(0.2)
            pids = StackState.load(state_file).pids
            yield up, state_file
        finally:
            if up.poll() is None:
                up.send_signal(signal.SIGINT)
                try:
                    up.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    up.kill()
                    up.wait(timeout=10)
            for pid in pids.values():
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


def execution_output(endpoint_url: str, execution: operations.Execution) -> dict[str, Any]:
    described = aws_client("stepfunctions", endpoint_url).describe_execution(
        executionArn=execution.arn
    )
    return dict(json.loads(described["output"]))


def test_up_serves_upload_status_kpis_and_report_until_interrupted(
    tmp_path: Path, running_stack: tuple[subprocess.Popen[bytes], Path]
) -> None:
    up, state_file = running_stack
    state = StackState.load(state_file)
    bucket = state.outputs["data_bucket"]
    assert set(state.pids) == {"moto", "loader", "validator", "kpi", "api"}
    # And the dashboard's API answers where the state file says
    assert state.api_url is not None
    with urllib.request.urlopen(f"{state.api_url}/healthz", timeout=10) as health:
        assert json.loads(health.read()) == {"status": "ok"}
    files = copy_sample(tmp_path / "data")

    # When the renamed sample is uploaded through 'shopflow upload'
    uploaded = shopflow("upload", *files, cwd=tmp_path, state_file=state_file)
    # Then each file is reported at its landing key
    assert uploaded.returncode == 0, uploaded.stderr
    assert uploaded.stdout.splitlines() == [f"s3://{bucket}/landing/{p.name}" for p in files]

    # When the pipeline has settled
    (execution,) = operations.wait_until_settled(
        aws_client("stepfunctions", state.endpoint_url),
        aws_client("sqs", state.endpoint_url),
        state.outputs["state_machine_arn"],
        state.outputs["arrivals_queue_url"],
        expected_at_least=1,
        quiet_seconds=float(BATCH_WINDOW) + 2,
        timeout=240,
    )
    assert execution.status == "SUCCEEDED"
    # Then 'shopflow status' shows the run succeeded and nothing waiting
    status = shopflow("status", cwd=tmp_path, state_file=state_file)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[0] == "arrivals waiting: 0"
    assert re.search(
        rf"SUCCEEDED\s+\d+\.\d\s+-\s+{execution.name}$", status.stdout, re.MULTILINE
    ), status.stdout

    # And 'shopflow kpis days --format csv' prints exactly the reference day KPIs
    expected_categories, expected_days = reference_kpis(files)
    days = shopflow("kpis", "days", "--format", "csv", cwd=tmp_path, state_file=state_file)
    assert days.returncode == 0, days.stderr
    assert days.stdout.rstrip("\n") == as_csv(expected_days, DAY_KPI_COLUMNS).rstrip("\n")

    # And one category on one day reads back as exactly its reference row
    chosen = expected_categories[len(expected_categories) // 2]
    day = chosen["order_date"]
    one = shopflow(
        "kpis", "categories", "--category", chosen["category"], "--from", day, "--to", day,
        "--format", "json", cwd=tmp_path, state_file=state_file,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr
    # (as JSON numbers, exact to the cent: parsed as Decimal, not float)
    assert json.loads(one.stdout, parse_float=Decimal) == [
        {name: typed(column, chosen[name]) for column in CATEGORY_TABLE if (name := column.name)}
    ]
    assert f'"daily_revenue": {chosen["daily_revenue"]}' in one.stdout

    # And 'shopflow report' on the orders file's name shows what its run's validation found
    orders_name = MEANINGLESS_NAMES["orders.csv"]
    (validated,) = [
        item
        for item in execution_output(state.endpoint_url, execution)["validation"]["payload"][
            "files"
        ]
        if item["source_key"] == f"landing/{orders_name}"
    ]
    shown = shopflow("report", orders_name, cwd=tmp_path, state_file=state_file)
    assert shown.returncode == 0, shown.stderr
    assert f"batch {execution.name}" in shown.stdout
    assert f"landing/{orders_name}  (orders)" in shown.stdout
    assert (
        f"in {validated['rows_in']}, accepted {validated['accepted']}, "
        f"rejected {validated['rejected']}" in shown.stdout
    )
    assert validated["rejects_key"] and validated["rejects_key"] in shown.stdout
    for reason in validated["top_reasons"]:
        assert re.search(rf"^\s+{re.escape(reason['rule'])}\s+{reason['count']}$", shown.stdout,
                         re.MULTILINE)  # fmt: skip
    # And its first rejected rows are the rejects file's first rows
    rejects = (
        aws_client("s3", state.endpoint_url)
        .get_object(Bucket=bucket, Key=validated["rejects_key"])["Body"]
        .read()
        .decode()
    )
    first_rows = list(csv.DictReader(rejects.splitlines()))[:10]
    assert first_rows
    for row in first_rows:
        assert re.search(
            rf"^\s+line\s+{row['line']}\s+{re.escape(row['rule'])}\s", shown.stdout, re.MULTILINE
        ), f"rejected line {row['line']} not shown"

    # And a file that was never uploaded is a clear error
    missing = shopflow("report", "never-uploaded.csv", cwd=tmp_path, state_file=state_file)
    assert missing.returncode == 1
    assert "no validation report for 'never-uploaded.csv'" in missing.stderr

    # When 'shopflow up' gets Ctrl-C
    up.send_signal(signal.SIGINT)
    code = up.wait(timeout=60)
    # Then it exits cleanly, removes its state file and leaves no process behind
    assert code == 0, (tmp_path / "up.log").read_text()
    assert not state_file.exists()
    deadline = time.monotonic() + 10
    while still := [name for name, pid in state.pids.items() if alive(pid)]:
        assert time.monotonic() < deadline, f"still running after shopflow up stopped: {still}"
        time.sleep(0.2)
