"""``shopflow rejects FILE``: the rejected rows of an upload, as a file to fix, against moto S3."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from report_bodies import report_body
from shopflow_cli import main as cli
from shopflow_cli.deploy import StackOutputs
from shopflow_cli.localstack import StackState

HEADER = '"order_id",user_id,status,created_at,returned_at,shipped_at,delivered_at,num_of_item'
# A rejected record spanning two physical lines (a quoted newline), kept exactly.
BROKEN = [
    (3, "unknown_status", "status 'lost' is not one of ...", "3,7,lost,2025-03-30T16:14:26,,,,1"),
    (
        5,
        "invalid_integer:num_of_item",
        "num_of_item 'two\\nthree' is not an integer",
        '5,7,complete,2025-03-30T16:14:26,,,,"two\nthree"',
    ),
]


@pytest.fixture
def state_file(
    tmp_path: Path, moto_endpoint: str, aws_client: Callable[[str], Any], unique_name: Any
) -> Path:
    bucket = unique_name("rejects-data")
    aws_client("s3").create_bucket(Bucket=bucket)
    outputs = {name: f"unused-{name}" for name in StackOutputs.model_fields}
    path = tmp_path / "stack.json"
    StackState(moto_endpoint, "test", {**outputs, "data_bucket": bucket}, {}).save(path)
    return path


def put_upload(s3: Any, bucket: str, batch: str, *, status: str = "accepted") -> None:
    """A gzipped CRLF upload with a BOM, staged in raw/, its report and its rejects CSV."""
    staged_key = f"raw/batch={batch}/orders/0000-orders.csv.gz"
    good = "1,7,complete,2025-03-30T16:14:26,,,,1"
    lines = [HEADER, good, BROKEN[0][3], "2,7,complete,2025-03-30T16:14:26,,,,1", BROKEN[1][3]]
    s3.put_object(
        Bucket=bucket,
        Key=staged_key,
        Body=gzip.compress(("\ufeff" + "\r\n".join(lines) + "\r\n").encode()),
    )
    rejects = io.StringIO()
    writer = csv.writer(rejects, lineterminator="\n")
    writer.writerow(("source_key", "line", "rule", "message", "raw_line"))
    writer.writerows(("landing/orders.csv.gz", *row) for row in BROKEN)
    rejects_key = f"rejects/batch={batch}/0000-orders.rejected.csv"
    s3.put_object(Bucket=bucket, Key=rejects_key, Body=rejects.getvalue().encode())
    quarantine = {
        "cause": "reject_threshold",
        "message": "landing/orders.csv.gz: 2 of 4 rows rejected",
        "rejected_share": "0.5",
        "threshold": "0.25",
    }
    body = report_body(
        batch_id=batch,
        kind="orders",
        source_key="landing/orders.csv.gz",
        staged_key=staged_key,
        header=HEADER.replace('"', "").split(","),
        header_line=1,
        rows_in=4,
        accepted=2,
        rejected=2,
        rejects_by_rule={"unknown_status": 1, "invalid_integer:num_of_item": 1},
        rejects_key=rejects_key,
        status=status,
        quarantine=quarantine if status == "quarantined" else None,
    )
    s3.put_object(
        Bucket=bucket,
        Key=f"reports/batch={batch}/0000-orders.report.json",
        Body=json.dumps(body).encode(),
    )


def test_rejects_writes_the_original_header_and_lines_and_the_reasons_beside_them(
    state_file: Path,
    aws_client: Callable[[str], Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an older and a newer validation of orders.csv.gz, the newer one quarantined
    s3, bucket = aws_client("s3"), str(StackState.load(state_file).outputs["data_bucket"])
    put_upload(s3, bucket, "b-old")
    time.sleep(1.1)  # S3 LastModified has one-second resolution
    put_upload(s3, bucket, "b-new", status="quarantined")
    out = tmp_path / "fixes" / "orders.csv"
    # When its rejects are asked for
    code = cli.main(
        ["rejects", "orders.csv.gz", "--out", str(out), "--state-file", str(state_file)]
    )
    # Then the rows file holds the header and the rejected records byte for byte, CRLF kept
    assert code == 0
    assert (
        out.read_bytes() == ("\r\n".join([HEADER, *(row[3] for row in BROKEN)]) + "\r\n").encode()
    )
    # And the reasons file gives line, rule and message of each, in the same order
    with (tmp_path / "fixes" / "orders.reasons.csv").open(newline="") as reasons:
        assert list(csv.reader(reasons)) == [
            ["line", "rule", "message"],
            *([str(line), rule, message] for line, rule, message, _ in BROKEN),
        ]
    # And the command names the run it read and what to do next
    printed = capsys.readouterr()
    assert "2 rejected row(s) of landing/orders.csv.gz (quarantined in run b-new)" in printed.out
    assert f"shopflow upload {out}" in printed.err


def test_rejects_of_a_file_without_rejected_rows_writes_nothing(
    state_file: Path,
    aws_client: Callable[[str], Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a report of a file that rejected no row
    s3, bucket = aws_client("s3"), str(StackState.load(state_file).outputs["data_bucket"])
    body = report_body(
        batch_id="b1",
        kind="orders",
        source_key="landing/clean.csv",
        rows_in=3,
        accepted=3,
        rejected=0,
        rejects_by_rule={},
    )
    s3.put_object(
        Bucket=bucket, Key="reports/batch=b1/0000-clean.report.json", Body=json.dumps(body)
    )
    # When its rejects are asked for
    out = tmp_path / "clean.csv"
    code = cli.main(["rejects", "clean.csv", "--out", str(out), "--state-file", str(state_file)])
    # Then it says so and writes no file
    assert code == 0
    assert "no row rejected" in capsys.readouterr().out
    assert not out.exists()


def test_rejects_of_an_unknown_file_is_a_clear_error(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["rejects", "nothing.csv", "--state-file", str(state_file)])
    assert code == 1
    assert "no validation report for 'nothing.csv'" in capsys.readouterr().err
