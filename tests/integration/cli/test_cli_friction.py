"""What a new user ran into with ``shopflow``, each held by a test (issue 10): dates and
categories answered with what is expected, exact JSON numbers, CSV without a blank last
line, tables with units and totals, one-line errors, a quiet closed pipe, help for every
option, ``--version``, ``upload DIR`` and ``sample --out``.

In-process against the session's moto server (a state file pointing at real tables), and
as a subprocess where the process boundary is the point (pipes, exit codes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pytest
from aws_resources import create_kpi_tables, create_ledger_table
from shopflow_cli import main as cli
from shopflow_cli.deploy import StackOutputs
from shopflow_cli.localstack import StackState

CLI = [sys.executable, "-m", "shopflow_cli.main"]
DAYS = [
    ("2025-03-07", 10, "1000.00", "10.00"),
    ("2025-03-13", 8, "800.00", "12.50"),
    ("2025-03-14", 12, "1234.56", "8.33"),
]
CATEGORIES = [
    ("Jeans", "2025-03-14", "900.00", "90.00", "0.00"),
    ("Socks", "2025-03-14", "334.56", "33.46", "10.00"),
    ("Jeans", "2025-03-13", "800.00", "100.00", "12.50"),
]


@pytest.fixture
def state_file(
    tmp_path: Path, moto_endpoint: str, aws_client: Callable[[str], Any], unique_name: Any
) -> Path:
    """A state file whose bucket, KPI tables and ledger (the published KPI version readers
    follow: none, the rows here carry no version) exist, holding three days of KPIs."""
    bucket, daily, category = unique_name("data"), unique_name("days"), unique_name("cats")
    aws_client("s3").create_bucket(Bucket=bucket)
    dynamodb = aws_client("dynamodb")
    create_kpi_tables(dynamodb, daily, category, index_projection="ALL")  # as the template has it
    ledger = create_ledger_table(dynamodb, unique_name("ledger"))
    for day, orders, revenue, rate in DAYS:
        dynamodb.put_item(
            TableName=daily,
            Item={
                "order_year": {"S": day[:4]}, "order_date": {"S": day},
                "total_orders": {"N": str(orders)}, "total_revenue": {"N": revenue},
                "total_items_sold": {"N": str(orders * 2)}, "return_rate": {"N": rate},
                "unique_customers": {"N": str(orders - 1)},
            },
        )  # fmt: skip
    for name, day, revenue, value, rate in CATEGORIES:
        dynamodb.put_item(
            TableName=category,
            Item={
                "category": {"S": name}, "order_date": {"S": day},
                "daily_revenue": {"N": revenue}, "avg_order_value": {"N": value},
                "avg_return_rate": {"N": rate},
            },
        )  # fmt: skip
    outputs = {name: f"unused-{name}" for name in StackOutputs.model_fields}
    outputs.update(
        data_bucket=bucket,
        daily_kpis_table=daily,
        category_kpis_table=category,
        ledger_table=ledger,
    )
    path = tmp_path / "stack.json"
    StackState(moto_endpoint, "test", outputs, {}).save(path)
    return path


def run(state_file: Path, *args: str) -> int:
    return cli.main([*args, "--state-file", str(state_file)])


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# --- dates, categories ----------------------------------------------------------------------


def test_a_wrong_date_is_answered_with_the_format_expected(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(state_file, "kpis", "days", "--from", "2025-13-01")
    error = one_line(capsys.readouterr().err)
    assert code == 2
    assert "'2025-13-01' is not a date: expected YYYY-MM-DD" in error
    assert "fromisoformat" not in error


def test_from_after_to_is_refused_instead_of_an_empty_table(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(state_file, "kpis", "days", "--from", "2025-03-14", "--to", "2025-03-01")
    assert code == 2
    assert "--from 2025-03-14 is after --to 2025-03-01" in one_line(capsys.readouterr().err)


def test_an_unknown_category_is_answered_with_the_known_ones(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(state_file, "kpis", "categories", "--category", "Hats")
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert "no category 'Hats'; known categories: Jeans, Socks" in one_line(captured.err)


def test_a_category_in_the_wrong_case_is_read_as_the_known_one(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(state_file, "kpis", "categories", "--category", "jeans", "--format", "csv")
    captured = capsys.readouterr()
    assert code == 0
    assert "category 'jeans' read as 'Jeans'" in captured.err
    assert captured.out.splitlines()[1:] == [
        "Jeans,2025-03-13,800.00,100.00,12.50",
        "Jeans,2025-03-14,900.00,90.00,0.00",
    ]


# --- output formats ---------------------------------------------------------------------------


def test_json_has_real_numbers_and_exact_money(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(state_file, "kpis", "days", "--format", "json") == 0
    text = capsys.readouterr().out
    assert '"total_orders": 12' in text and '"total_revenue": 1234.56' in text
    rows = json.loads(text, parse_float=Decimal)
    assert rows[-1]["total_revenue"] == Decimal("1234.56")


def test_csv_ends_without_a_blank_line(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(state_file, "kpis", "days", "--format", "csv") == 0
    text = capsys.readouterr().out
    assert text.endswith("11\n") and not text.endswith("\n\n")
    assert len(text.splitlines()) == 1 + len(DAYS)


def test_the_day_table_has_units_separators_and_a_totals_row(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(state_file, "kpis", "days") == 0
    lines = capsys.readouterr().out.splitlines()
    assert "return_rate (%)" in lines[0]
    assert any("1,234.56" in line for line in lines)
    (total,) = [line for line in lines if line.startswith("total")]
    assert "30" in total.split() and "3,034.56" in total.split()


def test_summary_says_how_a_day_went_against_the_day_before_and_a_week_before(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(state_file, "kpis", "summary", "--date", "2025-03-14", "--format", "json") == 0
    figures = json.loads(capsys.readouterr().out, parse_float=Decimal)
    measures = {item["measure"]: item for item in figures["measures"]}
    assert measures["total_orders"]["change_vs_previous_day"] == Decimal("50.00")
    assert measures["total_orders"]["change_vs_week_before"] == Decimal("20.00")
    assert [c["category"] for c in figures["top_categories"]] == ["Jeans", "Socks"]
    # the latest day is the default
    assert run(state_file, "kpis", "summary") == 0
    assert "Friday 2025-03-14" in capsys.readouterr().out


# --- errors ------------------------------------------------------------------------------------


def test_an_unreachable_stack_is_one_line_and_debug_shows_the_traceback(
    tmp_path: Path, moto_endpoint: str
) -> None:
    # Given a state file of a stack that is gone (nothing listens on its port)
    outputs = {name: f"x-{name}" for name in StackOutputs.model_fields}
    state_file = tmp_path / "stack.json"
    StackState("http://127.0.0.1:9", "gone", outputs, {}).save(state_file)
    command = [*CLI, "kpis", "days", "--state-file", str(state_file)]
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert quiet.returncode == 1
    assert "cannot reach http://127.0.0.1:9" in one_line(quiet.stderr)
    loud = subprocess.run(
        [*CLI, "--debug", *command[len(CLI) :]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert loud.returncode != 0 and "Traceback" in loud.stderr


def test_a_closed_pipe_ends_quietly(state_file: Path) -> None:
    # Given a reader that has gone away before shopflow writes
    process = subprocess.Popen(
        [*CLI, "kpis", "days", "--state-file", str(state_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    # Then it ends without a word, with the exit code of a closed pipe
    assert process.wait(timeout=120) == 141
    assert process.stderr.read() == b""


def test_no_stack_running_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--state-file", str(tmp_path / "none.json")]) == 1
    assert "start one with 'shopflow up'" in one_line(capsys.readouterr().err)


# --- help, version ----------------------------------------------------------------------------


def _commands(group: click.Group, prefix: str = "shopflow") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, f"{prefix} {name}"))
    return found


def test_every_option_of_every_command_says_what_it_takes() -> None:
    for path, command in _commands(cli.cli):
        assert command.help, f"{path} has no help"
        for parameter in command.params:
            if isinstance(parameter, click.Option) and parameter.name != "help":
                assert parameter.help and len(parameter.help) > 15, f"{path} {parameter.opts}"


def test_help_names_the_date_format_and_the_units() -> None:
    text = subprocess.run(
        [*CLI, "kpis", "days", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "YYYY-MM-DD" in text and "--from DATE" in text
    upload = subprocess.run(
        [*CLI, "upload", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--timeout SECONDS" in upload


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("shopflow, version ")


# --- upload DIR, sample ------------------------------------------------------------------------


def test_upload_takes_a_folder_and_refuses_what_does_not_exist(
    state_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "export" / "2025").mkdir(parents=True)
    (tmp_path / "export" / "orders.csv").write_text("order_id\n1\n")
    (tmp_path / "export" / "2025" / "order_items-000.csv.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "export" / "manifest.json").write_text("{}")
    assert run(state_file, "upload", str(tmp_path / "export")) == 0
    keys = [line.split("/", 3)[3] for line in capsys.readouterr().out.splitlines()]
    assert keys == ["landing/2025/order_items-000.csv.gz", "landing/orders.csv"]
    assert run(state_file, "upload", str(tmp_path / "missing.csv")) == 1
    assert "no such file or folder" in one_line(capsys.readouterr().err)


def test_sample_takes_the_options_the_readme_gives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["sample", "--out", str(tmp_path / "s"), "--orders", "40", "--seed", "3"]) == 0
    assert "orders.csv: 40 rows" in capsys.readouterr().out
    assert (tmp_path / "s" / "order_items.csv").exists()
