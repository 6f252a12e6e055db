"""``shopflow validate``: the validator on local files, no AWS, as a shop checks an export."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from shopflow_cli import main as cli
from shopflow_contracts.report import ValidationReport

ITEMS = (
    "id,order_id,user_id,product_id,inventory_item_id,status,created_at,shipped_at,"
    "delivered_at,returned_at,sale_price\n"
    "1,1,10,500,77,Complete,2023-06-03 09:02:44.942694 UTC,,,,59.990001678466797\n"
    "2,1,10,501,78,complete,2023-06-03 09:05:12+00:00,,,,0.125\n"
    "3,1,10,502,79,lost,2023-06-03 09:05:12+00:00,,,,1.00\n"
)
ORDERS = (
    "order_id,user_id,status,created_at,returned_at,shipped_at,delivered_at,num_of_item\n"
    + "x,10,complete,2023-06-03 09:00:00,,,,1\n" * 3
    + "1,10,complete,2023-06-03 09:00:00,,,,3\n"
)


def test_good_files_are_accounted_for_and_written_and_exit_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a gzipped TheLook-style items shard with float money and one bad status
    export = tmp_path / "export"
    export.mkdir()
    (export / "order_items-000000000000.csv.gz").write_bytes(gzip.compress(ITEMS.encode()))
    out = tmp_path / "out"
    # When it is validated locally
    code = cli.main(["validate", str(export), "--out", str(out)])
    # Then it exits 0, prints its accounting and top reason, and writes its three outputs
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert code == 0
    assert "order_items-000000000000.csv.gz" in printed
    assert "unknown_status x1" in printed
    assert "1 row(s) with money rounded" in printed
    names = sorted(path.name for path in out.iterdir())
    assert names == [
        "order_items-000000000000.parquet",
        "order_items-000000000000.rejected.csv",
        "order_items-000000000000.report.json",
    ]
    report = ValidationReport.model_validate_json((out / names[2]).read_bytes())
    assert (report.rows_in, report.accepted, report.rejected, report.status) == (
        3,
        2,
        1,
        "accepted",
    )
    assert report.extra_columns_ignored == ["inventory_item_id"]
    assert report.money_rounding_rows[0].text == "0.125"


def test_a_file_that_would_be_quarantined_makes_it_exit_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an orders file three quarters rejected, beside a good items file and a stray note
    (tmp_path / "orders.csv").write_text(ORDERS)
    (tmp_path / "items.csv").write_text(ITEMS)
    (tmp_path / "notes.txt").write_text("not,an,export\n1,2,3\n")
    # When they are validated (no --out: nothing is left behind)
    code = cli.main(
        [
            "validate",
            str(tmp_path / "orders.csv"),
            str(tmp_path / "items.csv"),
            str(tmp_path / "notes.txt"),
        ]
    )
    # Then the exit status says a file would be quarantined, and the output says which and why
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert code == 1
    assert "quarantined" in printed
    assert "3 of 4 rows rejected (75.00% > threshold 50.00%)" in printed
    assert "no known export's header" in printed
    # A threshold that lets it through exits 0 for it (the unrecognised file still fails)
    relaxed = cli.main(["validate", str(tmp_path / "orders.csv"), "--reject-threshold", "0.8"])
    assert relaxed == 0
