"""The per-file accounting ``shopflow demo`` prints, from an execution's output."""

from __future__ import annotations

import json
from typing import Any

from shopflow_cli import operations, report


def file_validation(source_key: str, kind: str, **counts: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "source_key": source_key,
        "staged_key": f"raw/batch=b1/{kind}/0000-x.csv",
        "rows_in": 0,
        "accepted": 0,
        "rejected": 0,
        "duplicates": 0,
        "pending": 0,
        "warnings": [],
        "top_reasons": [],
        "curated": None,
        "rejects_key": None,
        "report_key": "reports/batch=b1/0000-x.report.json",
        **counts,
    }


def execution_output(files: list[dict[str, Any]], skipped: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "load": {"payload": {"batch_id": "b1", "staged": [], "skipped": skipped}},
            "validation": {"payload": {"batch_id": "b1", "files": files, "curated": []}},
            "kpis": {"payload": {}},
        }
    )


def test_every_validated_and_every_skipped_file_gets_a_line() -> None:
    # Given a run that validated two files and skipped a re-upload
    output = execution_output(
        [
            file_validation(
                "landing/a.csv",
                "orders",
                rows_in=10,
                accepted=6,
                rejected=2,
                duplicates=1,
                pending=1,
                top_reasons=[{"rule": "unknown_status", "count": 2}],
            ),
            file_validation("landing/b.csv", "products", rows_in=4, accepted=4),
        ],
        [
            {
                "source_bucket": "data",
                "source_key": "landing/a-again.csv",
                "reason": "duplicate_content",
                "detail": "same bytes as landing/a.csv",
                "first_seen_batch_id": "b0",
            }
        ],
    )
    # When it is accounted for
    lines = report.execution_accounting(output)
    # Then each file has its counts and reasons, the skipped one its reason and first batch
    assert [line.cells() for line in lines] == [
        {
            "source_key": "landing/a.csv",
            "kind": "orders",
            "rows_in": "10",
            "accepted": "6",
            "rejected": "2",
            "duplicates": "1",
            "pending": "1",
            "top reasons": "unknown_status x2",
        },
        {
            "source_key": "landing/b.csv",
            "kind": "products",
            "rows_in": "4",
            "accepted": "4",
            "rejected": "0",
            "duplicates": "0",
            "pending": "0",
            "top reasons": "-",
        },
        {
            "source_key": "landing/a-again.csv",
            "kind": "skipped",
            "rows_in": "-",
            "accepted": "-",
            "rejected": "-",
            "duplicates": "-",
            "pending": "-",
            "top reasons": "duplicate_content (first seen in b0)",
        },
    ]


def test_outputs_of_older_validators_without_duplicates_and_pending_count_them_as_zero() -> None:
    # Given a file validation from before duplicates and pending existed
    old = file_validation("landing/a.csv", "orders", rows_in=3, accepted=3)
    del old["duplicates"], old["pending"]
    # When accounted for
    (line,) = report.execution_accounting(execution_output([old], []))
    # Then those counts read as zero
    assert line.counts == {
        "rows_in": 3,
        "accepted": 3,
        "rejected": 0,
        "duplicates": 0,
        "pending": 0,
    }


def test_an_execution_without_output_has_nothing_to_account() -> None:
    assert report.execution_accounting(None) == []
    assert report.execution_accounting("{}") == []


def test_reasons_are_ranked_by_count_and_cut_to_a_few() -> None:
    # Given five rules with different counts
    reasons = [("a", 1), ("b", 5), ("c", 3), ("d", 3), ("e", 2)]
    # When described
    text = report.describe_reasons(reasons, shown=3)
    # Then the commonest come first (ties by name) and the rest are counted
    assert text == "b x5, c x3, d x3 (+2 more)"


def test_the_rendered_table_aligns_counts_under_their_headers() -> None:
    # Given two files with counts of different widths
    lines = report.execution_accounting(
        execution_output(
            [
                file_validation("landing/a.csv", "orders", rows_in=12345, accepted=12345),
                file_validation("landing/bb.csv", "products", rows_in=7, accepted=7),
            ],
            [],
        )
    )
    # When rendered
    header, rule, first, second = report.render_accounting(lines, indent="").splitlines()
    # Then every count ends where its header ends
    end = header.index("rows_in") + len("rows_in")
    assert first[:end].endswith("12345") and second[:end].endswith("    7")
    assert set(rule) == {"-"}
    assert second.startswith("landing/bb.csv  products")


def state_entered(name: str, state_input: dict[str, Any]) -> dict[str, Any]:
    return {"stateEnteredEventDetails": {"name": name, "input": json.dumps(state_input)}}


def test_a_failed_run_s_typed_failure_is_read_from_its_failure_path() -> None:
    # Given a history whose failed task has no cause, as moto records it, and whose failure
    # path first carries the bare error and then the recorded TaskFailure
    recorded = {
        "error": "shopflow.UnrecognisedFile",
        "reason": "landing/x.csv: header 'a,b' is not an orders header",
        "run_id": "b1",
        "stage": "load",
        "files": ["landing/x.csv"],
    }
    events = [
        state_entered("LoadData", {"batch_id": "b1"}),
        {"taskFailedEventDetails": {"error": "shopflow.UnrecognisedFile"}},
        state_entered("DescribeFailure", {"error": {"Error": "shopflow.UnrecognisedFile"}}),
        state_entered(
            "NotifyFailure",
            {"error": {"Error": "shopflow.UnrecognisedFile", "Cause": json.dumps(recorded)}},
        ),
        {"executionFailedEventDetails": {"error": "shopflow.RunFailed"}},
    ]
    # When the failure is looked up
    failure = operations.failure_from_history(events)
    # Then it is the recorded one, reason and files included
    assert failure["reason"] == recorded["reason"]
    assert failure["files"] == ["landing/x.csv"]
    assert failure["error"] == "shopflow.UnrecognisedFile"


def test_an_untyped_cause_is_kept_as_text_and_no_error_means_nothing_found() -> None:
    events = [
        state_entered("NotifyFailure", {"error": {"Error": "States.Timeout", "Cause": "slow"}})
    ]
    assert operations.failure_from_history(events) == {"error": "States.Timeout", "cause": "slow"}
    assert operations.failure_from_history([state_entered("LoadData", {"batch_id": "b1"})]) == {}


def test_the_kpi_stages_findings_move_rows_from_accepted_and_keep_the_total() -> None:
    # Given a file's validation counts and what the kpi stage found about its accepted rows
    counts = {"rows_in": 20, "accepted": 15, "rejected": 3, "duplicates": 2, "pending": 0}
    settled = {"duplicates": 4, "pending": 5}
    # When they are settled
    result = report.settle(counts, settled)
    # Then accepted rows moved, and every row is still counted exactly once
    assert result == {"rows_in": 20, "accepted": 6, "rejected": 3, "duplicates": 6, "pending": 5}
    assert sum(result[n] for n in ("accepted", "rejected", "duplicates", "pending")) == 20


def test_execution_accounting_applies_settled_files_per_source_key() -> None:
    output = {
        "validation": {
            "payload": {
                "files": [
                    {
                        "source_key": "landing/items.csv",
                        "kind": "order_items",
                        "rows_in": 10,
                        "accepted": 10,
                        "rejected": 0,
                        "duplicates": 0,
                        "pending": 0,
                        "top_reasons": [],
                    }
                ]
            }
        },
        "kpis": {
            "payload": {
                "settled_files": [
                    {
                        "source_key": "landing/items.csv",
                        "curated_key": "curated/x.parquet",
                        "duplicates": 1,
                        "pending": 2,
                    }
                ]
            }
        },
    }
    (line,) = report.execution_accounting(output)
    assert line.counts == {
        "rows_in": 10,
        "accepted": 7,
        "rejected": 0,
        "duplicates": 1,
        "pending": 2,
    }


def test_a_succeeded_run_with_quarantined_files_is_shown_partial_naming_them() -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from shopflow_cli.runs import Run, quarantine_lines, shown_status

    # Given the golden validation result (one products file quarantined) in a run's output
    examples = Path(__file__).resolve().parents[3] / "contracts" / "examples"
    validation = json.loads((examples / "validate_result.json").read_text())
    partial = json.dumps({"validation": validation})
    complete = json.dumps(
        {"validation": {**validation, "payload": {**validation["payload"], "quarantined": []}}}
    )
    run = Run("b1", "SUCCEEDED", datetime.now(UTC), datetime.now(UTC), "arn:b1")
    # Then the run is PARTIAL, and its line names the file, why and where its report is
    assert (shown_status(run, partial), shown_status(run, complete)) == ("PARTIAL", "SUCCEEDED")
    (line,) = quarantine_lines(partial)
    assert line.startswith("quarantined landing/products-broken.csv (products): ")
    assert "7 of 10 rows rejected" in line and "0002-products-broken.report.json" in line
    # And a failed run stays FAILED whatever its output says
    failed = Run("b2", "FAILED", datetime.now(UTC), datetime.now(UTC), "arn:b2")
    assert shown_status(failed, partial) == "FAILED"
