"""Which checked rows the Parquet gets: the cheap filter only when it is the exact one."""

from __future__ import annotations

import duckdb
from shopflow_validator.domain.validate import (
    _WRITTEN,
    _WRITTEN_BY_EXCLUSION,
    _written_filter,
)

# Lines 2-5 are records: 2 and 4 accepted, 3 rejected, 5 accepted but a duplicate of 2.
VERDICTS = [(2, None), (3, "invalid_money:cost"), (4, None), (5, None)]
REPEATS = [(5, "duplicate")]


def _tables(checked: list[tuple[int | None, str | None]]) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("CREATE TABLE checked (_line BIGINT, rule VARCHAR)")
    connection.executemany("INSERT INTO checked VALUES (?, ?)", checked)
    connection.execute("CREATE TABLE verdicts (line BIGINT, rule VARCHAR)")
    connection.executemany("INSERT INTO verdicts VALUES (?, ?)", VERDICTS)
    connection.execute("CREATE TABLE repeats (line BIGINT, kind VARCHAR)")
    connection.executemany("INSERT INTO repeats VALUES (?, ?)", REPEATS)
    return connection


def _written_lines(connection: duckdb.DuckDBPyConnection, written: str) -> list[int]:
    rows = connection.execute(f"SELECT _line FROM checked WHERE {written} ORDER BY 1").fetchall()
    return [line for (line,) in rows]


def test_given_one_checked_row_per_record_when_filtering_then_the_cheap_filter_is_used() -> None:
    # Given one checked row per record, as DuckDB and the byte pass agree on the records,
    # plus a row whose line number did not parse
    connection = _tables([(2, None), (3, "invalid_money:cost"), (4, None), (5, None), (None, None)])

    # When the filter of the written rows is chosen for the 2 accepted ones
    written = _written_filter(connection, accepted=2)

    # Then it is the cheap one, and it selects exactly the accepted, non-duplicate lines
    assert written == _WRITTEN_BY_EXCLUSION
    assert _written_lines(connection, written) == [2, 4]


def test_given_a_row_of_no_record_when_filtering_then_the_exact_filter_is_used() -> None:
    # Given a passing checked row carrying line 7, which is no record: DuckDB split some
    # record differently from the byte pass
    connection = _tables([(2, None), (3, "invalid_money:cost"), (4, None), (5, None), (7, None)])

    # When the filter of the written rows is chosen for the 2 accepted ones
    written = _written_filter(connection, accepted=2)

    # Then it is the exact one, which leaves that row out
    assert written == _WRITTEN
    assert _written_lines(connection, written) == [2, 4]
