"""Parity: the validator accepts and rejects exactly what the rules say, on any engine path.

Two halves:

- cells a reader's cast takes but the contract refuses. DuckDB's ``TRY_CAST`` (what a typed
  ``read_csv`` applies) turns ``1.0``, ``1_000``, ``0x1F`` into integers, ``1_0.50`` into
  money and ``2024-01-01``, ``epoch``, ``2024-1-1 ...``, ``... Europe/Paris`` into
  timestamps. Each case asserts the cast really takes the text (so the case would catch a
  design that trusts the reader's types) and that the validator rejects the row under the
  contract's rule; a twin row with the canonical spelling is accepted.
- the row check run on every thread gives, byte for byte, the outputs of a run on one
  thread: same accepted Parquet, same rejects with their lines, rules, messages and raw
  text, same report figures (issue 15 checks rows in parallel, with insertion order kept).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pytest
from shopflow_contracts.rows import FileKind
from shopflow_validator.adapters.duckdb_engine import DuckDbEngine
from shopflow_validator.domain import validate_file
from validator_support import ITEMS_HEADER, rejects, report_of, validate

COLUMNS = ITEMS_HEADER.split(",")
GOOD_ROW = {
    "id": "100",
    "order_id": "1",
    "user_id": "10",
    "product_id": "500",
    "status": "complete",
    "created_at": "2025-03-30T16:14:26",
    "shipped_at": "2025-03-31T10:00:00",
    "delivered_at": "",
    "returned_at": "",
    "sale_price": "19.99",
}

# (column, text the reader's cast takes, SQL type of that cast, the rule the row breaks).
CAST_TAKES_CONTRACT_REFUSES = [
    ("user_id", "1.0", "BIGINT", "invalid_integer:user_id"),
    ("user_id", "1.5", "BIGINT", "invalid_integer:user_id"),
    ("user_id", "1_000", "BIGINT", "invalid_integer:user_id"),
    ("user_id", "0x1F", "BIGINT", "invalid_integer:user_id"),
    ("user_id", "0b101", "BIGINT", "invalid_integer:user_id"),
    ("user_id", "1e3", "BIGINT", "invalid_integer:user_id"),
    ("product_id", "5.0", "BIGINT", "invalid_integer:product_id"),
    ("sale_price", "1_0.50", "DECIMAL(18,2)", "invalid_money:sale_price"),
    ("created_at", "2025-03-30", "TIMESTAMPTZ", "date_without_time:created_at"),
    ("created_at", "epoch", "TIMESTAMPTZ", "invalid_timestamp:created_at"),
    ("created_at", "infinity", "TIMESTAMPTZ", "invalid_timestamp:created_at"),
    ("created_at", "2025-3-30 16:14:26", "TIMESTAMPTZ", "invalid_timestamp:created_at"),
    (
        "created_at",
        "2025-03-30 16:14:26 Europe/Paris",
        "TIMESTAMPTZ",
        "invalid_timestamp:created_at",
    ),
    ("created_at", "2025-03-30 16:14:26 PST", "TIMESTAMPTZ", "invalid_timestamp:created_at"),
    ("shipped_at", "2025-03-31", "TIMESTAMPTZ", "date_without_time:shipped_at"),
]
# Spellings the contract takes (real exports), with the value the curated row must hold.
CONTRACT_TAKES = [
    ("sale_price", "59.990001678466797", "59.99"),
    ("sale_price", "1.5E1", "15.00"),
    ("sale_price", "+5", "5.00"),
    ("sale_price", "2.675", "2.68"),
    ("user_id", "+10", "10"),
    ("user_id", "010", "10"),
    ("created_at", "2025-03-30 16:14:26.942694+00:00", "2025-03-30 16:14:26.942694+00"),
    ("created_at", "2025-03-30 18:14:26 +02", "2025-03-30 16:14:26+00"),
    ("created_at", "2025-03-30 16:14:26 UTC", "2025-03-30 16:14:26+00"),
]


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _cast_takes(text: str, sql_type: str) -> bool:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    row = connection.execute(f"SELECT TRY_CAST(? AS {sql_type}) IS NOT NULL", [text]).fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize(("column", "text", "sql_type", "rule"), CAST_TAKES_CONTRACT_REFUSES)
def test_given_a_cell_the_readers_cast_takes_when_validated_then_the_contract_rejects_it(
    tmp_path: Path, column: str, text: str, sql_type: str, rule: str
) -> None:
    # Given: a text DuckDB's cast (a typed reader's) turns into a value, in an otherwise good
    # row, and a twin row with the canonical spelling
    assert _cast_takes(text, sql_type), f"{text!r} no longer casts to {sql_type}"
    content = _csv([{**GOOD_ROW, column: text}, {**GOOD_ROW, "id": "101"}])

    # When
    result = validate(tmp_path, content, FileKind.ORDER_ITEMS)

    # Then: the first row is rejected under the contract's rule, with its raw text; the twin kept
    assert result.rejects_by_rule == {rule: 1}
    (rejected,) = rejects(result)
    assert (rejected["line"], rejected["rule"]) == ("2", rule)
    assert rejected["raw_line"] == content.splitlines()[1]
    assert result.accepted == 1


@pytest.mark.parametrize(("column", "text", "curated"), CONTRACT_TAKES)
def test_given_a_real_export_spelling_when_validated_then_the_row_is_kept_with_its_value(
    tmp_path: Path, column: str, text: str, curated: str
) -> None:
    # Given
    content = _csv([{**GOOD_ROW, column: text}])

    # When
    result = validate(tmp_path, content, FileKind.ORDER_ITEMS)

    # Then
    assert (result.accepted, result.rejected) == (1, 0)
    assert result.accepted_path is not None
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    row = connection.execute(
        f'SELECT "{column}"::VARCHAR FROM read_parquet(?)', [str(result.accepted_path)]
    ).fetchone()
    assert row is not None and row[0] == curated


def _bulk_items(rows: int) -> str:
    """Many rows, a few of them broken (each a different rule), some repeated, one quoted."""
    out = io.StringIO()
    out.write(ITEMS_HEADER + "\n")
    for number in range(1, rows + 1):
        cells = dict(GOOD_ROW, id=str(number), order_id=str(number // 2 + 1))
        cells["sale_price"] = f"{number % 997}.{number % 100:02d}"
        if number % 3:
            cells["created_at"] = f"2025-03-{number % 28 + 1:02d} 16:14:26 UTC"
        if number % 1009 == 0:
            cells["sale_price"] = "-1.00"
        if number % 1013 == 0:
            cells["status"] = "lost"
        if number % 1019 == 0:
            cells["created_at"] = "2025-03-30"
        if number % 1021 == 0:
            cells["sale_price"] = "2.675"
        line = ",".join(cells[column] for column in COLUMNS)
        out.write(line + "\n")
        if number % 2003 == 0:
            out.write(line + "\n")  # a duplicate of the row just written
        if number % 3001 == 0:
            out.write(f'"{number + rows}",1,10,500,"complete\nstill it",,,,,1.00\n')
    return out.getvalue()


def test_given_a_large_file_when_checked_on_two_threads_then_outputs_equal_one_threads(
    tmp_path: Path,
) -> None:
    # Given: a file big enough for the CSV reader to split it between threads
    source = tmp_path / "items.csv"
    source.write_text(_bulk_items(400_000), encoding="utf-8")

    # When: validated on one thread and on two
    results = []
    for threads in (1, 2):
        out = tmp_path / f"out-{threads}"
        result = validate_file(
            source,
            FileKind.ORDER_ITEMS,
            "landing/items.csv",
            "0001",
            out,
            engine=DuckDbEngine(threads=threads),
        )
        results.append((result, out))

    # Then: the same accounting, reports, rejects and accepted Parquet, byte for byte
    (one, one_dir), (two, two_dir) = results
    assert one.rejected > 0 and one.duplicates > 0 and one.money_rounding.rows > 0
    assert report_of(one).model_dump(mode="json") == report_of(two).model_dump(mode="json")
    for name in ("items.parquet", "items.rejected.csv"):
        assert (one_dir / name).read_bytes() == (two_dir / name).read_bytes(), name
