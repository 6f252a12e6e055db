"""Parity of the direct read (``domain/plain``) with the byte pass it skips.

A file holding one record per line is read by DuckDB as it is, its records numbered by the
order DuckDB stores them in; any other file goes through the byte pass. Both must give the
same outputs, byte for byte: same accepted Parquet (with every row's ``_source_line``), same
rejects (lines, rules, messages, raw text), same report. Checked on every corpus case, and
on bulk files big enough for DuckDB to read them on two threads, in the spellings exports
use (quoted cells, CR LF, gzip), with rows rejected against the batch's orders.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from shopflow_contracts.rows import FileKind
from shopflow_validator.adapters.duckdb_engine import DuckDbEngine
from shopflow_validator.domain import ValidationConfig, plain, validate_file
from shopflow_validator.domain import validate as validate_module
from test_validator_corpus import CASES, load_case
from validator_support import ITEMS_HEADER, assert_accounting, report_of

OUTPUT_SUFFIXES = (".parquet", ".rejected.csv")


class DirectReads:
    """Counts the files that were checked by the direct read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original: Callable[..., None] = validate_module._check_plain_rows

        def counted(*args: Any, **kwargs: Any) -> None:
            original(*args, **kwargs)
            self.count += 1

        monkeypatch.setattr(validate_module, "_check_plain_rows", counted)


def _validate_both_ways(
    tmp_path: Path,
    source: Path,
    kind: FileKind,
    config: ValidationConfig | None = None,
    engine: DuckDbEngine | None = None,
    batch_orders: Path | None = None,
) -> dict[str, tuple[dict[str, Any], dict[str, bytes]]]:
    """The report and output bytes of ``source`` validated directly and by the byte pass."""
    outcomes = {}
    for way, direct in (("direct", True), ("byte pass", False)):
        out = tmp_path / way.replace(" ", "-")
        result = validate_file(
            source,
            kind,
            f"landing/{source.name}",
            "2025-03-30T16:14:26Z#0001",
            out,
            config,
            engine=engine or DuckDbEngine(),
            batch_orders=batch_orders,
            direct_read=direct,
        )
        assert_accounting(result)
        outputs = {
            path.name: path.read_bytes()
            for path in sorted(out.iterdir())
            if path.name.endswith(OUTPUT_SUFFIXES)
        }
        outcomes[way] = (report_of(result).model_dump(mode="json"), outputs)
    return outcomes


def _parquet_content(content: bytes, scratch: Path) -> tuple[list[Any], list[Any]]:
    """A Parquet file's rows in file order (as text) and its key-value metadata."""
    scratch.write_bytes(content)
    connection = duckdb.connect(config={"preserve_insertion_order": True})
    connection.execute("SET TimeZone = 'UTC'")
    rows = connection.execute(
        "SELECT COLUMNS(*)::VARCHAR FROM read_parquet(?)", [str(scratch)]
    ).fetchall()
    metadata = connection.execute(
        "SELECT key::VARCHAR, value::VARCHAR FROM parquet_kv_metadata(?)", [str(scratch)]
    ).fetchall()
    return rows, metadata


def _assert_same(
    outcomes: dict[str, tuple[dict[str, Any], dict[str, bytes]]], scratch: Path
) -> None:
    """Same report, same rejects byte for byte, same Parquet rows in the same order with
    the same metadata (the direct read's writer may cut row groups elsewhere)."""
    (direct_report, direct_outputs), (pass_report, pass_outputs) = (
        outcomes["direct"],
        outcomes["byte pass"],
    )
    assert direct_report == pass_report
    assert direct_outputs.keys() == pass_outputs.keys()
    for name, content in direct_outputs.items():
        if name.endswith(".parquet"):
            assert _parquet_content(content, scratch / "a.parquet") == _parquet_content(
                pass_outputs[name], scratch / "b.parquet"
            ), name
        else:
            assert content == pass_outputs[name], name


@pytest.mark.parametrize("name", CASES)
def test_given_a_corpus_case_when_read_directly_then_outputs_equal_the_byte_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # Given
    source, expected = load_case(name)
    copy = tmp_path / source.name
    copy.write_bytes(source.read_bytes())
    config = ValidationConfig(money=expected.get("money", "round"))

    # When
    outcomes = _validate_both_ways(tmp_path, copy, FileKind(expected["kind"]), config)

    # Then
    _assert_same(outcomes, tmp_path)


def test_the_corpus_takes_both_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: every corpus case
    direct = DirectReads(monkeypatch)

    # When: each is validated the default way
    for name in CASES:
        source, expected = load_case(name)
        validate_file(
            source,
            FileKind(expected["kind"]),
            f"landing/{name}",
            "0001",
            tmp_path / name,
            ValidationConfig(money=expected.get("money", "round")),
            engine=DuckDbEngine(),
        )

    # Then: a good share is read directly, and the rest (blank lines, quoted line breaks,
    # stray CRs, bad bytes ...) is left to the byte pass
    assert 40 <= direct.count <= len(CASES) - 10, direct.count


def _bulk_items(rows: int, *, line_end: str = "\n") -> str:
    """Many rows, one record per line: some broken (each a different rule), some repeated,
    some quoted (a thousands-separated price, a status), item i of order i // 2 + 1."""
    out = io.StringIO()
    out.write(ITEMS_HEADER + line_end)
    for number in range(1, rows + 1):
        user = "11" if number % 997 == 0 else "10"
        price = f"{number % 997}.{number % 100:02d}"
        created = (
            f"2025-03-{number % 28 + 1:02d} 16:14:26 UTC" if number % 3 else "2025-03-30T16:14:26"
        )
        status = "complete"
        if number % 1009 == 0:
            price = "-1.00"
        if number % 1013 == 0:
            status = "lost"
        if number % 1019 == 0:
            created = "2025-03-30"
        if number % 1021 == 0:
            price = "2.675"
        if number % 1031 == 0:
            price = '"1,234.50"'
        if number % 1033 == 0:
            status = '"Complete"'
        line = (
            f"{number},{number // 2 + 1},{user},500,{status},{created},"
            f"2025-03-31T10:00:00,,,{price}"
        )
        out.write(line + line_end)
        if number % 2003 == 0:
            out.write(line + line_end)  # a duplicate of the row just written
    return out.getvalue()


def _batch_orders(tmp_path: Path, rows: int) -> Path:
    target = tmp_path / "batch-orders.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT i AS order_id, 10::BIGINT AS user_id, 'landing/orders.csv' AS source_key, "
        f"i + 1 AS line FROM range(1, {rows // 2 + 2}) AS t(i)) TO '{target}' (FORMAT parquet)"
    )
    return target


@pytest.mark.parametrize(
    ("line_end", "compressed"),
    [("\n", False), ("\r\n", False), ("\n", True)],
    ids=["lf", "crlf", "gzip"],
)
def test_given_a_large_plain_file_when_read_directly_on_two_threads_then_it_equals_the_byte_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line_end: str, compressed: bool
) -> None:
    # Given: a file big enough for DuckDB to read it on both threads, checked against the
    # batch's orders (every 997th item has another user than its order)
    rows = 300_000
    content = _bulk_items(rows, line_end=line_end).encode("utf-8")
    source = tmp_path / ("items.csv.gz" if compressed else "items.csv")
    source.write_bytes(gzip.compress(content, compresslevel=1) if compressed else content)
    assert plain.scan_plain(source) is not None
    direct = DirectReads(monkeypatch)

    # When
    outcomes = _validate_both_ways(
        tmp_path,
        source,
        FileKind.ORDER_ITEMS,
        engine=DuckDbEngine(threads=2),
        batch_orders=_batch_orders(tmp_path, rows),
    )

    # Then: it was read directly, and everything equals the byte pass's
    assert direct.count == 1
    report, _ = outcomes["direct"]
    assert report["duplicates"] > 0 and report["money_rounding"]["rows"] > 0
    assert {"user_mismatch", "negative_money:sale_price", "unknown_status"} <= set(
        report["rejects_by_rule"]
    )
    _assert_same(outcomes, tmp_path)
    # And a second direct read writes the same bytes (its Parquet row groups follow the
    # engine's threads, so the same settings give the same file)
    again = tmp_path / "again"
    validate_file(
        source,
        FileKind.ORDER_ITEMS,
        f"landing/{source.name}",
        "2025-03-30T16:14:26Z#0001",
        again,
        engine=DuckDbEngine(threads=2),
        batch_orders=tmp_path / "batch-orders.parquet",
    )
    _, first = outcomes["direct"]
    for name, content in first.items():
        assert (again / name).read_bytes() == content, name


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("blank line", b"1,2,3\n\n4,5,6\n"),
        ("whitespace line", b"1,2,3\n  \n4,5,6\n"),
        ("quoted line break", b'1,"a\nb",3\n'),
        ("stray carriage return", b"1,2\r,3\n"),
        ("mixed line ends", b"1,2,3\r\n4,5,6\n"),
        ("nul byte", b"1,\x00,3\n"),
        ("not utf-8", b"1,\xff,3\n"),
        ("only a header", b""),
    ],
)
def test_given_a_file_that_is_not_one_record_per_line_then_the_scan_refuses_it_or_duckdb_does(
    tmp_path: Path, name: str, body: bytes
) -> None:
    # Given
    source = tmp_path / "f.csv"
    source.write_bytes(b"a,b,c\n" + body)

    # When
    scanned = plain.scan_plain(source)

    # Then: the scan says no, or (blank and whitespace-only lines, which only the reader
    # sees) its count of lines disagrees with what DuckDB reads as rows
    if name in ("blank line", "whitespace line"):
        assert scanned is not None and scanned.rows_in == 3
    else:
        assert scanned is None, name


def test_given_rejected_lines_when_their_raw_text_is_read_back_then_it_is_each_lines_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a file read back in chunks far smaller than it, as a gzip and as CR LF text
    monkeypatch.setattr(plain, "SCAN_CHUNK_BYTES", 64)
    lines = [f"{number},text {number}" for number in range(1, 400)]
    for compressed, line_end in ((False, "\r\n"), (True, "\n")):
        source = tmp_path / f"f-{compressed}.csv"
        content = ("id,name" + line_end + line_end.join(lines)).encode()
        source.write_bytes(gzip.compress(content) if compressed else content)
        scanned = plain.scan_plain(source)
        assert scanned is not None and scanned.rows_in == len(lines)

        # When: lines are asked for in ascending order, near and far apart, the last included
        asked = [2, 3, 57, 58, 301, 400]
        with plain.RawLines(scanned) as raw:
            texts = [raw.text(line) for line in asked]

        # Then
        assert texts == [lines[line - 2] for line in asked]
