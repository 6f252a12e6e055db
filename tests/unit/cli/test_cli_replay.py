"""The inputs of the replay runs (reprocess, recompute) as ``shopflow`` builds them."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from report_bodies import report_body
from shopflow_cli.output import UserError
from shopflow_cli.rejects import LatestReport
from shopflow_cli.replay import EndedRun, recompute_input, reprocess_input, run_name
from shopflow_contracts.messages import BATCH_ID_PATTERN
from shopflow_contracts.report import ValidationReport


class NoS3:
    """An S3 client that must not be called."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"S3 called: {name}")


def test_a_run_name_says_its_kind_and_is_a_valid_execution_name() -> None:
    name = run_name("reprocess", datetime(2025, 4, 2, 8, 15, tzinfo=UTC))
    assert name.startswith("reprocess-20250402T081500-")
    assert re.fullmatch(BATCH_ID_PATTERN, name)
    assert name != run_name("reprocess", datetime(2025, 4, 2, 8, 15, tzinfo=UTC))


def test_a_recompute_input_carries_its_range_and_refuses_a_backwards_one() -> None:
    body = recompute_input(date(2025, 3, 1), date(2025, 3, 31), name="recompute-1")
    assert (body.run.kind, body.run.kpi_scope.mode) == ("recompute", "recompute")
    assert (body.run.kpi_scope.from_date, body.run.kpi_scope.to_date) == (
        date(2025, 3, 1),
        date(2025, 3, 31),
    )
    with pytest.raises(UserError, match="--from 2025-03-31 is after --to 2025-03-01"):
        recompute_input(date(2025, 3, 31), date(2025, 3, 1))


def test_a_file_that_was_not_quarantined_is_not_reprocessed() -> None:
    # Given the latest validation of a file that accepted it
    accepted = ValidationReport.model_validate(
        report_body(batch_id="b1", source_key="landing/products.csv", rows_in=5)
    )
    # Then a reprocess is refused, saying what to do instead, before anything is read
    with pytest.raises(UserError, match=r"was not quarantined .* 'shopflow rejects"):
        reprocess_input(NoS3(), "data", LatestReport("k", accepted), threshold=None)


def test_a_succeeded_run_with_a_quarantined_file_shows_as_partial() -> None:
    partial = EndedRun("r", "SUCCEEDED", 1.0, {"validation": {"payload": {"status": "partial"}}})
    complete = EndedRun("r", "SUCCEEDED", 1.0, {"validation": {"payload": {"status": "complete"}}})
    assert (partial.shown_status, complete.shown_status) == ("PARTIAL", "SUCCEEDED")


def test_status_says_which_dates_a_recompute_rewrote() -> None:
    from shopflow_cli.runs import without_files

    recompute = {"run": {"kind": "recompute"}, "kpis": {"payload": {"order_dates": ["a", "b"]}}}
    assert without_files(json.dumps(recompute)) == "a recompute of the KPIs of 2 date(s), a to b"
    assert without_files(None) == "no files in the run's output"
