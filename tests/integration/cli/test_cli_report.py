"""``shopflow report`` logic against a real moto S3: listing, matching, rejects, rendering."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from report_bodies import report_body
from shopflow_cli import report

ORDERS_REPORT = report_body(
    kind="orders",
    source_key="landing/orders.csv",
    rows_in=13,
    accepted=7,
    rejected=3,
    duplicates=1,
    pending=2,
    rejects_by_rule={"unknown_status": 2, "invalid_integer:order_id": 1},
)


@pytest.fixture
def s3(aws_client: Callable[[str], Any]) -> Any:
    return aws_client("s3")


@pytest.fixture
def bucket(s3: Any, unique_name: Callable[[str], str]) -> str:
    name = unique_name("report-test")
    s3.create_bucket(Bucket=name)
    return name


def put_report(s3: Any, bucket: str, batch: str, stem: str, body: dict[str, Any]) -> str:
    key = f"reports/batch={batch}/{stem}.report.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps({**body, "batch_id": batch}).encode())
    return key


def put_rejects(s3: Any, bucket: str, batch: str, stem: str, rows: list[tuple[Any, ...]]) -> str:
    key = f"rejects/batch={batch}/{stem}.rejected.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("source_key", "line", "rule", "message", "raw_line"))
    writer.writerows(rows)
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue().encode())
    return key


def test_a_file_name_finds_every_report_of_that_file_oldest_first(s3: Any, bucket: str) -> None:
    # Given two batches that validated orders.csv, uploaded in an order their ids do not sort
    # in, and reports of other files, one of them a name that merely contains "orders.csv"
    put_report(s3, bucket, "b2-later-id", "0000-orders", ORDERS_REPORT)
    put_report(
        s3,
        bucket,
        "b2-later-id",
        "0001-products",
        {**ORDERS_REPORT, "kind": "products", "source_key": "landing/products.csv"},
    )
    put_report(
        s3,
        bucket,
        "b2-later-id",
        "0002-old-orders",
        {**ORDERS_REPORT, "source_key": "landing/old-orders.csv"},
    )
    time.sleep(1.1)  # S3 LastModified has one-second resolution
    put_report(
        s3, bucket, "b1-earlier-id", "0000-orders", {**ORDERS_REPORT, "rows_in": 15, "accepted": 9}
    )
    # When the file is asked for by name
    found = report.find_reports(s3, bucket, "orders.csv")
    # Then exactly its two reports come back, the one written last at the end
    assert [(r.batch_id, r.accepted) for r in found] == [("b2-later-id", 7), ("b1-earlier-id", 9)]
    assert {r.source_key for r in found} == {"landing/orders.csv"}


def test_a_key_matches_only_that_key_and_a_name_matches_it_under_any_prefix(
    s3: Any, bucket: str
) -> None:
    # Given the same file name uploaded under two prefixes
    put_report(s3, bucket, "b1", "0000-orders", ORDERS_REPORT)
    put_report(
        s3, bucket, "b2", "0000-orders", {**ORDERS_REPORT, "source_key": "landing/2025/orders.csv"}
    )
    # When asked by key, by s3 URL and by bare name
    by_key = report.find_reports(s3, bucket, "landing/2025/orders.csv")
    by_url = report.find_reports(s3, bucket, f"s3://{bucket}/landing/orders.csv")
    by_name = report.find_reports(s3, bucket, "orders.csv")
    # Then the key and the URL are exact, the name is not
    assert [r.batch_id for r in by_key] == ["b2"]
    assert [r.batch_id for r in by_url] == ["b1"]
    assert sorted(r.batch_id for r in by_name) == ["b1", "b2"]


def test_listing_follows_every_page(s3: Any, bucket: str) -> None:
    # Given more reports of the file than fit on one listing page
    for batch in range(5):
        put_report(s3, bucket, f"b{batch}", "0000-orders", ORDERS_REPORT)
    listings: list[dict[str, Any]] = []
    s3.meta.events.register(
        "before-call.s3.ListObjectsV2", lambda params, **_: listings.append(params)
    )
    # When listed two keys per page
    found = report.find_reports(s3, bucket, "orders.csv", page_size=2)
    # Then all five are found, over three listing calls
    assert sorted(r.batch_id for r in found) == [f"b{batch}" for batch in range(5)]
    assert len(listings) == 3


def test_reports_from_before_the_typed_report_are_skipped_not_misread(s3: Any, bucket: str) -> None:
    # Given an untyped report written by an older validator, and a current one
    old = {"kind": "orders", "source_key": "landing/orders.csv", "rows_in": 13, "accepted": 13}
    key = "reports/batch=b-old/0000-orders.report.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(old).encode())
    put_report(s3, bucket, "b-new", "0000-orders", ORDERS_REPORT)
    # When the file's reports are read
    (found,) = report.find_reports(s3, bucket, "orders.csv")
    # Then only the current one is shown, as written
    assert (found.batch_id, found.duplicates, found.pending) == ("b-new", 1, 2)
    assert (found.rows_in, found.accepted, found.rejected) == (13, 7, 3)


def test_a_quarantined_report_says_so_with_its_findings(s3: Any, bucket: str) -> None:
    # Given the report of a quarantined file with rounded money, nulled cells and a new column
    reason = "orders file landing/orders.csv: 3 of 13 rows rejected (23.08% > threshold 10.00%)"
    body = {
        **ORDERS_REPORT,
        "status": "quarantined",
        "quarantine": {
            "cause": "reject_threshold",
            "message": reason,
            "rejected_share": "0.230769",
            "threshold": "0.1",
        },
        "money_rounding": {"rows": 2, "by_column": {"sale_price": 2}},
        "column_warnings": [{"column": "cost", "rule": "invalid_money:cost", "count": 4}],
        "schema_changes": [
            {"change": "column_added", "column": "gender", "required": False, "compared_with": None}
        ],
    }
    put_report(s3, bucket, "b1", "0000-orders", body)
    # When it is rendered
    table = report.render_reports(report.find_reports(s3, bucket, "orders.csv"), "table")
    # Then the quarantine, the rounding, the nulled cells and the schema change are shown
    assert f"QUARANTINED {reason}" in table
    assert "2 row(s) rounded to the cent" in table
    assert "invalid_money:cost x4" in table
    assert "column added: gender" in table


def test_the_first_rejected_rows_are_read_from_the_rejects_csv(s3: Any, bucket: str) -> None:
    # Given a rejects CSV of 15 rows, one whose raw line spans two lines and holds quotes
    rows = [
        ("landing/orders.csv", n + 2, "unknown_status", f"status 'x{n}'", f"{n},x")
        for n in range(15)
    ]
    rows[1] = ("landing/orders.csv", 3, "bad_quote", 'quote "inside"', 'a,"b\nc",d')
    rejects_key = put_rejects(s3, bucket, "b1", "0000-orders", rows)
    put_report(s3, bucket, "b1", "0000-orders", {**ORDERS_REPORT, "rejects_key": rejects_key})
    # When the report is read with the default sample size
    (found,) = report.find_reports(s3, bucket, "orders.csv")
    # Then exactly the first ten rows come back, the multi-line one intact
    assert len(found.rejected_rows) == report.REJECTED_ROWS_SHOWN
    assert found.rejects_key == rejects_key
    assert found.rejected_rows[0] == report.RejectedRow("2", "unknown_status", "status 'x0'")
    assert found.rejected_rows[1] == report.RejectedRow("3", "bad_quote", 'quote "inside"')
    assert found.rejected_rows[9].line == "11"


def test_no_report_raises_a_message_that_names_the_file(s3: Any, bucket: str) -> None:
    # Given reports of other files only
    put_report(s3, bucket, "b1", "0000-orders", ORDERS_REPORT)
    # When a file that was never validated is asked for
    with pytest.raises(report.ReportNotFoundError) as missing:
        report.find_reports(s3, bucket, "never-uploaded.csv")
    # Then the message says which file and where it looked
    assert "never-uploaded.csv" in str(missing.value)
    assert f"s3://{bucket}/reports/" in str(missing.value)


def test_table_and_json_renderings_carry_counts_rules_key_and_rows(s3: Any, bucket: str) -> None:
    # Given a report with rejects
    rejects_key = put_rejects(
        s3, bucket, "b1", "0000-orders", [("landing/orders.csv", 5, "unknown_status", "bogus", "")]
    )
    put_report(s3, bucket, "b1", "0000-orders", {**ORDERS_REPORT, "rejects_key": rejects_key})
    found = report.find_reports(s3, bucket, "orders.csv")
    # When rendered both ways
    table = report.render_reports(found, "table")
    (as_json,) = json.loads(report.render_reports(found, "json"))
    # Then both say the same things
    assert "batch b1" in table
    assert "in 13, accepted 7, rejected 3, duplicates 1, pending 2" in table
    assert table.index("unknown_status") < table.index("invalid_integer:order_id")
    assert rejects_key in table
    assert "line 5  unknown_status  bogus" in table
    assert as_json["rejects_by_rule"] == ORDERS_REPORT["rejects_by_rule"]
    assert as_json["rejected_rows"] == [{"line": "5", "rule": "unknown_status", "message": "bogus"}]
    assert (as_json["duplicates"], as_json["pending"], as_json["rejects_key"]) == (
        1,
        2,
        rejects_key,
    )
