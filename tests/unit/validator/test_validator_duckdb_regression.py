"""Guards against duckdb issue #23818 (seen in duckdb 2.0.1, hence the 1.5.x pin).

There, TRY_CAST inside CREATE TABLE AS over an all-varchar read_csv raised on the first bad
cell instead of yielding NULL, which would turn one bad row into a failed run. The validator
relies on exactly that pattern, so the behaviour is checked here against the installed duckdb.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from shopflow_contracts.rows import FileKind
from shopflow_validator.domain import validate_file
from validator_support import ENGINE


def test_given_a_bad_cell_when_try_cast_in_ctas_over_all_varchar_csv_then_it_is_null(
    tmp_path: Path,
) -> None:
    source = tmp_path / "cells.csv"
    source.write_text("id,price,seen_at\n1,2.50,2025-03-30 16:14:26\nx,abc,not a time\n3,1.25,\n")
    connection = duckdb.connect(str(tmp_path / "regression.duckdb"))

    connection.execute(
        f"""
        CREATE TABLE typed AS
        SELECT TRY_CAST(id AS BIGINT) AS id,
               TRY_CAST(price AS DECIMAL(18,2)) AS price,
               TRY_CAST(seen_at AS TIMESTAMP) AS seen_at
        FROM read_csv('{source}', all_varchar = true, header = true)
        """
    )

    rows = connection.execute(
        "SELECT id, price::VARCHAR, seen_at::VARCHAR FROM typed ORDER BY rowid"
    ).fetchall()
    assert rows == [(1, "2.50", "2025-03-30 16:14:26"), (None, None, None), (3, "1.25", None)]


def test_given_a_bad_cell_when_validating_then_it_is_a_rejected_row_not_an_error(
    tmp_path: Path,
) -> None:
    source = tmp_path / "orders.csv"
    source.write_text(
        "order_id,user_id,status,created_at,num_of_item\n"
        "1,10,pending,2025-03-30T16:14:26,1\n"
        "1x,10,pending,2025-03-30T16:14:26,1\n"
    )

    result = validate_file(
        source, FileKind.ORDERS, "landing/orders.csv", "seq", tmp_path / "out", engine=ENGINE
    )

    assert (result.rows_in, result.accepted, result.rejected) == (2, 1, 1)
    assert result.rejects_by_rule == {"invalid_integer:order_id": 1}
