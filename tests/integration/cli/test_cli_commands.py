"""Command wiring of ``shopflow``: report (against moto), bench delegation, failure lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from report_bodies import report_body
from shopflow_cli import main as cli
from shopflow_cli.commands import bench as bench_command
from shopflow_cli.deploy import StackOutputs
from shopflow_cli.localstack import StackState
from shopflow_cli.runs import describe_failure

# Names of every stack output; only the data bucket matters to these commands.
OUTPUT_NAMES = tuple(StackOutputs.model_fields)


@pytest.fixture
def state_file(
    tmp_path: Path,
    moto_endpoint: str,
    aws_client: Callable[[str], Any],
    unique_name: Callable[[str], str],
) -> Path:
    """A local-stack state file whose data bucket exists in the session's moto server."""
    bucket = unique_name("cli-data")
    aws_client("s3").create_bucket(Bucket=bucket)
    path = tmp_path / "stack.json"
    outputs = {name: f"unused-{name}" for name in OUTPUT_NAMES}
    StackState(moto_endpoint, "test", {**outputs, "data_bucket": bucket}, {}).save(path)
    return path


def bucket_of(state_file: Path) -> str:
    return str(StackState.load(state_file).outputs["data_bucket"])


def test_report_prints_the_reports_of_an_uploaded_file(
    state_file: Path, aws_client: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a validation report of landing/orders.csv in the stack's data bucket
    body = report_body(
        batch_id="b1",
        kind="orders",
        source_key="landing/orders.csv",
        rows_in=4,
        accepted=3,
        rejected=1,
        rejects_by_rule={"unknown_status": 1},
    )
    aws_client("s3").put_object(
        Bucket=bucket_of(state_file),
        Key="reports/batch=b1/0000-orders.report.json",
        Body=json.dumps(body).encode(),
    )
    # When 'shopflow report orders.csv --format json' runs
    code = cli.main(["report", "orders.csv", "--format", "json", "--state-file", str(state_file)])
    # Then it exits 0 with that report
    (printed,) = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (printed["batch_id"], printed["accepted"], printed["pending"]) == ("b1", 3, 0)


def test_report_of_an_unknown_file_exits_non_zero_with_a_clear_message(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When a file nothing was uploaded as is reported on
    code = cli.main(["report", "nothing.csv", "--state-file", str(state_file)])
    # Then the exit code says so, and stderr says which file
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert "no validation report for 'nothing.csv'" in captured.err


def test_report_without_a_running_stack_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["report", "x.csv", "--state-file", str(tmp_path / "none.json")])
    assert code == 1
    assert "shopflow up" in capsys.readouterr().err


def test_bench_hands_every_following_argument_to_the_benchmark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a benchmark command that records what it was called with
    calls: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        calls.append(argv)
        return 7

    monkeypatch.setattr(bench_command, "load_command", {"bench": fake_main}.get)
    # When bench is called with options of its own, including one shopflow also has
    code = cli.main(["bench", "--format", "json", "stages", "--help"])
    # Then they all reach the benchmark untouched, and its exit code is shopflow's
    assert calls == [["--format", "json", "stages", "--help"]]
    assert code == 7


def test_the_installed_benchmark_is_found_through_its_entry_point() -> None:
    # Given the workspace, where shopflow-bench is installed beside the CLI
    # When the CLI looks for the bench command, then it is the benchmark's main
    from shopflow_bench import main as bench_main

    assert bench_command.load_command("bench") is bench_main
    assert bench_command.load_command("no-such-command") is None


def test_bench_missing_is_a_clear_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an install without the benchmark distribution
    monkeypatch.setattr(bench_command, "load_command", lambda name: None)
    # When bench is called
    code = cli.main(["bench"])
    # Then shopflow says so and exits non-zero
    assert code == 2
    assert "benchmark is not installed" in capsys.readouterr().err


def test_the_other_commands_do_not_load_the_benchmark(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a benchmark that cannot be loaded
    def broken(name: str) -> None:
        raise AssertionError(f"{name} loaded")

    monkeypatch.setattr(bench_command, "load_command", broken)
    # When --help is asked for, then the parser still builds and lists bench
    assert cli.main(["--help"]) == 0
    assert "bench" in capsys.readouterr().out


def test_a_failure_line_names_files_its_reason_does_not_mention() -> None:
    # Given typed failures with and without the file in the reason
    named = {
        "error": "shopflow.UnrecognisedFile",
        "reason": "landing/x.csv: bad header",
        "files": ["landing/x.csv"],
    }
    unnamed = {
        "error": "shopflow.ValidationFailed",
        "reason": "too many rejects",
        "files": ["landing/y.csv", "landing/z.csv"],
    }
    # Then the file is listed only when the reason does not already say it
    assert describe_failure(named) == "shopflow.UnrecognisedFile: landing/x.csv: bad header"
    assert describe_failure(unnamed) == (
        "shopflow.ValidationFailed: too many rejects (files: landing/y.csv, landing/z.csv)"
    )
    assert describe_failure({}) == "error: no reason recorded"
