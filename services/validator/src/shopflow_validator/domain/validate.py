"""Validate one staged CSV file into local outputs: accepted Parquet and rejected CSV.

``validate_file`` is the domain's entry point; it touches only local files and returns
everything the file's report says (``report.file_report`` builds the report from it). The heavy
lifting is DuckDB's: the file is read once as text, every cell converted and checked in
SQL (``rules``), and the accepted rows written to Parquet straight from DuckDB, with a
memory limit and a spill directory, so a file larger than memory never passes through
Python objects. Python streams the raw bytes once beforehand (``records``) to number the
records and check the encoding, and once afterwards for the raw text of rejected rows.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from duckdb import DuckDBPyConnection
from shopflow_contracts.report import (
    ColumnWarning,
    MoneyMode,
    MoneyRounding,
    NulledCell,
    RepeatedRow,
    RoundedMoney,
)
from shopflow_contracts.rows import (
    COLUMN_ALIASES,
    PRIMARY_KEYS,
    REQUIRED_COLUMNS,
    FileKind,
    canonical_header,
    columns_of,
    missing_columns,
    normalise_header,
    recognise_kind,
)

from shopflow_validator.domain.model import (
    REPORT_LISTED_ROWS,
    FileError,
    FileValidationResult,
    ValidationConfig,
)
from shopflow_validator.domain.plain import IN_FILE, PlainFile, RawLines, scan_plain
from shopflow_validator.domain.records import (
    IN_RECORDS,
    IN_RUN,
    IN_STRAY,
    SplitFile,
    iter_index,
    run_record,
    split_records,
)
from shopflow_validator.domain.rules import (
    BATCH_ORDER_LINE,
    BATCH_ORDER_SOURCE,
    BATCH_ORDER_USER,
    Rule,
    first_broken,
    ident,
    parts_expression,
    raw,
    rounded,
    rounded_expression,
    rules_for,
    sql_text,
    typed,
    typed_expression,
    user_mismatch_rule,
    warned,
    warned_message,
    warning_rules,
)
from shopflow_validator.domain.schema import ColumnSpec, ColumnType, column_specs
from shopflow_validator.ports import SqlEngine

REJECTS_HEADER = ("source_key", "line", "rule", "message", "raw_line")
# DuckDB's reader error types -> the rule a record it could not parse is rejected under.
PARSE_ERROR_RULES = {
    "MISSING COLUMNS": "wrong_field_count",
    "TOO MANY COLUMNS": "wrong_field_count",
    "UNQUOTED VALUE": "malformed_quotes",
    "LINE SIZE OVER MAXIMUM": "record_too_long",
}
STRAY_CR_MESSAGE = (
    "a carriage return (CR) outside quotes inside the record: quote the field, "
    "or end lines with LF or CR LF"
)
REJECTS_PAGE_ROWS = 50_000
PADDED_PATTERNS = (" %", "% ", "\t%", "%\t")


def stem_of(file_name: str) -> str:
    """``12-orders.csv.gz`` -> ``12-orders``: the name outputs of a staged file are given."""
    name = file_name.rsplit("/", 1)[-1]
    for suffix in (".gz", ".csv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or "file"


@dataclass(frozen=True)
class _Layout:
    """Where the schema's columns are in the file, and what else the header has."""

    positions: dict[str, int]
    width: int
    extra: tuple[str, ...]
    # Header name -> the column it was read as (an alias an export uses).
    aliases: dict[str, str]


def _layout(header: list[str], kind: FileKind) -> _Layout | FileError:
    names = canonical_header(kind, header)
    schema = columns_of(kind)
    recognised = recognise_kind(header)
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    if recognised is None:
        return FileError(
            "unknown_header",
            f"the header ({shown}) resembles no known file; a {kind.value} file needs "
            f"{', '.join(REQUIRED_COLUMNS[kind])}",
        )
    if recognised is not kind:
        return FileError(
            "unexpected_kind",
            f"the header ({shown}) is that of a {recognised.value} file, "
            f"but the file was staged as {kind.value}",
        )
    missing = missing_columns(kind, header)
    if missing:
        return FileError(
            "missing_required_column",
            f"required column(s) missing from the header: {', '.join(missing)}",
        )
    positions: dict[str, int] = {}
    duplicated: list[str] = []
    extra: list[str] = []
    for index, name in enumerate(names):
        if name not in schema:
            extra.append(name or f"(blank column {index + 1})")
        elif name in positions:
            duplicated.append(name)
        else:
            positions[name] = index
    if duplicated:
        return FileError(
            "duplicate_column", f"column(s) appear more than once: {', '.join(duplicated)}"
        )
    aliases = {
        name: COLUMN_ALIASES[kind][name]
        for name in normalise_header(header)
        if name in COLUMN_ALIASES[kind]
    }
    return _Layout(positions, len(names), tuple(extra), aliases)


# The tables the steps of checking a file's rows create, each in one statement (see
# ``_check_rows``). The reader's own rejects table is one of them: it is named here and read
# by the next step only.
BATCH_ORDERS = "batch_orders"
CHECKED = "checked"
# The direct read's ordered table, of which CHECKED is a numbered view.
CHECKED_ROWS = "checked_rows"
READER_REJECTS = "reader_rejects"
VERDICTS = "verdicts"
REPEATS = "repeats"
# The kinds whose rows are checked against the batch's orders (user_mismatch).
CHECKED_AGAINST_BATCH_ORDERS = (FileKind.ORDER_ITEMS,)


def _one(connection: DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = connection.execute(sql).fetchone()
    if row is None:
        raise RuntimeError(f"no row from: {sql[:200]}")
    return tuple(row)


def _read_records_sql(split: SplitFile, layout: _Layout) -> str:
    columns = {"_line": "VARCHAR"} | {f"c{index}": "VARCHAR" for index in range(layout.width)}
    column_map = "{" + ", ".join(f"{sql_text(n)}: {sql_text(t)}" for n, t in columns.items()) + "}"
    # Everything is read as VARCHAR: a bad cell must become a rejected row, never a failed
    # scan. Rows DuckDB cannot split into fields go to READER_REJECTS.
    return (
        f"read_csv({sql_text(str(split.records_path))}, columns = {column_map}, "
        "header = false, auto_detect = false, all_varchar = true, delim = ',', "
        "quote = '\"', escape = '\"', new_line = '\\n', strict_mode = true, "
        f"store_rejects = true, rejects_table = {sql_text(READER_REJECTS)}, "
        "rejects_scan = 'reader_scans')"
    )


def _read_plain_sql(plain: PlainFile, layout: _Layout) -> str:
    """A scan of the file itself, for the direct read (see ``plain``): same reader, same
    options, but no line column: the records are numbered by the order they are stored in."""
    columns = "{" + ", ".join(f"'c{index}': 'VARCHAR'" for index in range(layout.width)) + "}"
    # A CR LF file is read with the reader's own line-end handling (new_line = '\r\n'
    # reads no row at all in DuckDB 1.5): the scan made sure every CR ends a line.
    new_line = "" if plain.crlf else "new_line = '\\n', "
    return (
        f"read_csv({sql_text(str(plain.path))}, columns = {columns}, "
        f"compression = {sql_text('gzip' if plain.gzip else 'none')}, "
        "header = true, auto_detect = false, all_varchar = true, delim = ',', "
        f"quote = '\"', escape = '\"', {new_line}strict_mode = true, "
        f"store_rejects = true, rejects_table = {sql_text(READER_REJECTS)}, "
        "rejects_scan = 'reader_scans')"
    )


def load_batch_orders(connection: DuckDBPyConnection, batch_orders: Path | None) -> None:
    """Step: the Parquet of the batch's accepted orders (``validate_batch``) -> table
    BATCH_ORDERS (order_id, b_user_id, b_source, b_line); empty when there is none."""
    connection.execute(
        f"CREATE TABLE {BATCH_ORDERS} (order_id BIGINT, {BATCH_ORDER_USER} BIGINT, "
        f"{BATCH_ORDER_SOURCE} VARCHAR, {BATCH_ORDER_LINE} BIGINT)"
    )
    if batch_orders is not None:
        connection.execute(
            f"INSERT INTO {BATCH_ORDERS} SELECT order_id, user_id, source_key, line "
            f"FROM read_parquet({sql_text(str(batch_orders))})"
        )


def _batch_orders_join(specs: tuple[ColumnSpec, ...]) -> str:
    """Joins each order item to its order in the batch (NULLs when the batch lacks it)."""
    order_id = typed({spec.name: spec for spec in specs}["order_id"])
    return f"LEFT JOIN {BATCH_ORDERS} ON {BATCH_ORDERS}.order_id = flagged.{order_id}"


def _checked_table_sql(
    source: str,
    layout: _Layout,
    specs: tuple[ColumnSpec, ...],
    rules: list[Rule],
    against_batch_orders: bool,
    money: MoneyMode,
    *,
    table: str = CHECKED,
    numbered: bool = True,
    kept_raw: tuple[ColumnSpec, ...] = (),
) -> str:
    """The check step over ``source``, a scan of the file's cells (``c0``, ``c1``, ...).

    ``numbered``: the scan has each record's ``_line`` first (the byte pass's records file);
    otherwise the table is created in file order, and its row ids number the records (the
    direct read, see ``plain``). ``kept_raw``: columns whose raw text the table keeps.
    """

    def cell(spec: ColumnSpec) -> str:
        index = layout.positions.get(spec.name)
        if index is None:
            return f"NULL::VARCHAR AS {raw(spec)}"
        text = f"c{index}"
        # trim() on every cell costs more than reading the file; padded cells are rare.
        padded = " OR ".join(f"{text} LIKE {sql_text(like)}" for like in PADDED_PATTERNS)
        return (
            f"NULLIF(CASE WHEN {padded} THEN trim({text}, ' \t') ELSE {text} END, '') "
            f"AS {raw(spec)}"
        )

    cells = ", ".join(cell(spec) for spec in specs)
    parts = ", ".join(
        f"{expression} AS {ident('p_' + spec.name)}"
        for spec in specs
        if (expression := parts_expression(spec)) is not None
    )
    converted = ", ".join(f"{typed_expression(spec, money)} AS {typed(spec)}" for spec in specs)
    warned_specs = [spec for spec in specs if warning_rules(spec, money)]
    rounded_specs = [spec for spec in specs if money == "round" and spec.type is ColumnType.MONEY]
    flag_expressions = [
        f"{first_broken(warning_rules(spec, money), 'name')} AS {warned(spec)}"
        for spec in warned_specs
    ] + [f"{rounded_expression(spec)} AS {rounded(spec)}" for spec in rounded_specs]
    # A warned cell is nulled; the warning's message and a rounded cell's text are kept
    # for the report's listing, only on the (rare) rows that have them.
    output = [
        f"CASE WHEN {warned(spec)} IS NULL THEN {typed(spec)} END AS {typed(spec)}"
        if spec in warned_specs
        else typed(spec)
        for spec in specs
    ]
    output += [
        f"{warned(spec)}, CASE WHEN {warned(spec)} IS NOT NULL THEN "
        f"{first_broken(warning_rules(spec, money), 'message')} END AS {warned_message(spec)}"
        for spec in warned_specs
    ]
    output += [
        f"{rounded(spec)}, CASE WHEN {rounded(spec)} THEN {raw(spec)} END "
        f"AS {ident('rt_' + spec.name)}"
        for spec in rounded_specs
    ]
    output += [raw(spec) for spec in kept_raw]
    if not numbered:
        # Set on the duplicates once they are known, so the written rows are found with no
        # join (see ``_write_parquet_sql``).
        output.append(f"NULL::BOOLEAN AS {DUPLICATE_MARK}")
    line = "_line, " if numbered else ""
    flagged = " OR ".join(
        [f"{warned(spec)} IS NOT NULL" for spec in warned_specs]
        + [f"coalesce({rounded(spec)}, false)" for spec in rounded_specs]
    )
    return f"""
        CREATE TABLE {table} AS
        WITH cells AS (
            SELECT {"TRY_CAST(_line AS BIGINT) AS _line, " if numbered else ""}{cells}
            FROM {source}
        ),
        parts AS (SELECT *{", " + parts if parts else ""} FROM cells),
        converted AS (SELECT *, {converted} FROM parts),
        flagged AS (SELECT *{"".join(", " + flag for flag in flag_expressions)} FROM converted),
        judged AS (
            SELECT *, {first_broken(rules, "name")} AS rule
            FROM flagged {_batch_orders_join(specs) if against_batch_orders else ""}
        )
        SELECT {line}{", ".join(output)}, rule,
               -- Only a rejected row pays for building its message.
               CASE WHEN rule IS NOT NULL THEN {first_broken(rules, "message")} END AS message,
               {flagged or "false"} AS _flagged
        FROM judged
    """


def _numbers_csv_sql(path: Path, columns: tuple[str, ...]) -> str:
    """A scan of one of the byte pass's files of comma-separated integers (see ``records``)."""
    typed_columns = ", ".join(f"{sql_text(name)}: 'BIGINT'" for name in columns)
    return (
        f"read_csv({sql_text(str(path))}, columns = {{{typed_columns}}}, "
        "header = false, auto_detect = false, delim = ',', new_line = '\\n')"
    )


def _verdicts_table_sql(split: SplitFile, width: int) -> str:
    # raw_in: which file (region) a record's raw text is in: IN_RECORDS, IN_STRAY or IN_RUN.
    index = _numbers_csv_sql(split.index_path, ("line", "raw_offset", "raw_length", "raw_in"))
    runs = _numbers_csv_sql(split.runs_path, ("first_line", "records", "raw_offset", "raw_length"))
    # A record of a run points at the whole run; its own text is found when it is rejected.
    all_records = f"""(
        SELECT line, raw_offset, raw_length, raw_in FROM {index}
        UNION ALL
        SELECT unnest(range(first_line, first_line + records)) AS line,
               raw_offset, raw_length, {IN_RUN} AS raw_in
        FROM {runs}
    )"""
    parse_rule = "CASE error_type " + " ".join(
        f"WHEN {sql_text(error)} THEN {sql_text(rule)}" for error, rule in PARSE_ERROR_RULES.items()
    )
    field_count_message = sql_text(f"the record's field count differs from the header's {width}")
    # One verdict per record the byte pass found (the authority on rows_in). A record is
    # accepted only when exactly one parsed row carries its line number and breaks no rule;
    # a record DuckDB split differently from the byte pass (irregular quoting) cannot be
    # trusted and is rejected as malformed.
    return f"""
        CREATE TABLE {VERDICTS} AS
        WITH duplicated AS (
            SELECT _line FROM checked WHERE _line IS NOT NULL GROUP BY _line HAVING count(*) > 1
        ),
        parsed AS (
            SELECT _line, rule, message FROM checked
            WHERE _line IS NOT NULL AND _line NOT IN (SELECT _line FROM duplicated)
        ),
        unparsed AS (
            SELECT TRY_CAST(split_part(csv_line, ',', 1) AS BIGINT) AS line,
                   arg_min(error_type, byte_position) AS error_type,
                   arg_min(error_message, byte_position) AS error_message
            FROM {READER_REJECTS} GROUP BY ALL
        )
        SELECT records.line, records.raw_offset, records.raw_length, records.raw_in,
            CASE
                WHEN records.raw_in = {IN_STRAY} THEN 'stray_carriage_return'
                WHEN parsed._line IS NOT NULL AND unparsed.line IS NULL THEN parsed.rule
                WHEN unparsed.line IS NOT NULL THEN {parse_rule} ELSE 'malformed_row' END
                ELSE 'malformed_row'
            END AS rule,
            CASE
                WHEN records.raw_in = {IN_STRAY} THEN {sql_text(STRAY_CR_MESSAGE)}
                WHEN parsed._line IS NOT NULL AND unparsed.line IS NULL THEN parsed.message
                WHEN unparsed.error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS')
                    THEN {field_count_message}
                WHEN unparsed.line IS NOT NULL THEN 'unreadable record: ' || unparsed.error_message
                ELSE 'the record could not be read as one CSV row (irregular quoting)'
            END AS message
        FROM {all_records} AS records
        LEFT JOIN parsed ON parsed._line = records.line
        LEFT JOIN unparsed ON unparsed.line = records.line
    """


def _repeats_table_sql(specs: tuple[ColumnSpec, ...], key: ColumnSpec) -> str:
    """Accepted rows whose key an earlier accepted row of the file already had.

    A row equal in every schema column (typed, so ``Complete`` = ``complete`` and
    ``...16:14:26Z`` = ``...18:14:26+02:00``) to the previous accepted row with its key is a
    ``duplicate``: counted, not written again, reported with the line of the first row of
    that run of equal rows. Any other repeat is a ``correction``: written too (the KPI stage
    keeps the later ``_source_line``), reported with the line it supersedes.

    Comparing with the previous version only, not any earlier one, is deliberate: in
    ``A, B, A`` the second ``A`` corrects ``B`` back, and dropping it would leave ``B``.
    Only keys that occur more than once reach the window functions.
    """
    same = " AND ".join(
        f"lag({typed(spec)}) OVER w IS NOT DISTINCT FROM {typed(spec)}" for spec in specs
    )
    return f"""
        CREATE TABLE {REPEATS} AS
        WITH repeated AS (
            -- A cheap first cut over one column; the verdicts narrow it down below.
            SELECT {typed(key)} AS key FROM checked WHERE rule IS NULL
            GROUP BY ALL HAVING count(*) > 1
        ),
        accepted AS (
            SELECT * FROM checked
            WHERE {typed(key)} IN (SELECT key FROM repeated)
              AND _line IN (SELECT line FROM verdicts WHERE rule IS NULL)
        ),
        versions AS (
            SELECT _line, {typed(key)} AS key, lag(_line) OVER w AS previous,
                   lag(_line) OVER w IS NOT NULL AND {same} AS same
            FROM accepted
            WINDOW w AS (PARTITION BY {typed(key)} ORDER BY _line)
        ),
        runs AS (
            SELECT *, sum(CASE WHEN same THEN 0 ELSE 1 END) OVER (
                PARTITION BY key ORDER BY _line ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ) AS run
            FROM versions
        ),
        starts AS (SELECT *, min(_line) OVER (PARTITION BY key, run) AS run_start FROM runs),
        kept AS (
            SELECT *, lag(run_start) OVER (PARTITION BY key ORDER BY _line) AS previous_start
            FROM starts
        )
        SELECT _line AS line, key,
               CASE WHEN same THEN 'duplicate' ELSE 'correction' END AS kind,
               CASE WHEN same THEN run_start ELSE previous_start END AS of_line
        FROM kept
        WHERE previous IS NOT NULL
    """


# Parquet key-value metadata of a curated file: how many of its rows have a key an earlier
# row of the file has (its corrections). 0 tells the kpi stage the file's keys are unique.
KEY_REPEATS_METADATA = "shopflow.key_repeats"


def _write_parquet_sql(
    specs: tuple[ColumnSpec, ...],
    ingest_seq: str,
    source_key: str,
    target: Path,
    key_repeats: int,
    written: str,
    *,
    sort: bool = True,
) -> str:
    """The accepted rows to Parquet, in line order: sorted by line, or (``sort`` False) in
    the order CHECKED keeps them, when that is line order and the plan keeps it."""
    columns = ", ".join(
        f"CAST({typed(spec)} AS {spec.sql_type}) AS {ident(spec.name)}" for spec in specs
    )
    return f"""
        COPY (
            SELECT {columns},
                   {sql_text(ingest_seq)}::VARCHAR AS _ingest_seq,
                   {sql_text(source_key)}::VARCHAR AS _source_key,
                   checked._line::BIGINT AS _source_line
            FROM checked
            WHERE {written}
            {"ORDER BY checked._line" if sort else ""}
        ) TO {sql_text(str(target))} (
            FORMAT parquet, COMPRESSION zstd,
            KV_METADATA {{{sql_text(KEY_REPEATS_METADATA)}: {sql_text(str(int(key_repeats)))}}}
        )
    """


# (line, raw_offset, raw_length, where, rule, message) of a rejected record; ``where``
# says which file (region) its raw text is in: IN_RECORDS, IN_STRAY or IN_RUN.
_Reject = tuple[int, int, int, int, str, str]


def _rejects_from_duckdb(connection: DuckDBPyConnection) -> Iterator[_Reject]:
    # Paged by line number so only one page of rejects is in Python at a time. The bounds
    # are inlined integers: as parameters they keep DuckDB from planning a top-N over the
    # filtered rows, and the query sorts every verdict instead (~1 s per million rows).
    last_line = -1
    while True:
        page = connection.execute(
            "SELECT line, raw_offset, raw_length, raw_in, rule, message FROM verdicts "
            f"WHERE rule IS NOT NULL AND line > {int(last_line)} "
            f"ORDER BY line LIMIT {int(REJECTS_PAGE_ROWS)}"
        ).fetchall()
        for line, offset, length, where, rule, message in page:
            yield int(line), int(offset), int(length), int(where), str(rule), str(message)
        if len(page) < REJECTS_PAGE_ROWS:
            return
        last_line = int(page[-1][0])


def _rejects_of_whole_file(split: SplitFile, error: FileError) -> Iterator[_Reject]:
    for line, offset, length, stray in iter_index(split):
        yield line, offset, length, IN_STRAY if stray else IN_RECORDS, error.rule, error.message


class _SplitTexts:
    """The raw text of records, from the byte pass's files (``records``)."""

    def __init__(self, split: SplitFile) -> None:
        self._split = split
        self._stack = ExitStack()
        # The run last read, and where in it the last record found ended: rejects come by
        # line, so each run is read once and searched in one pass.
        self._run_offset, self._run, self._run_after = -1, b"", 0

    def __enter__(self) -> _SplitTexts:
        self._records = self._stack.enter_context(self._split.records_path.open("rb"))
        self._stray = self._stack.enter_context(self._split.stray_path.open("rb"))
        return self

    def __exit__(self, *problem: object) -> None:
        self._stack.close()

    def text(self, line: int, offset: int, length: int, where: int) -> str:
        if where == IN_RUN:
            if self._run_offset != offset:
                self._records.seek(offset)
                self._run_offset, self._run, self._run_after = offset, self._records.read(length), 0
            start, size = run_record(self._run, line, self._run_after)
            self._run_after = start + size
            return self._run[start : start + size].decode("utf-8")
        source = self._stray if where == IN_STRAY else self._records
        source.seek(offset)
        return source.read(length).decode("utf-8")


class _PlainTexts:
    """The raw text of records, from the file itself: each record is its line (``plain``)."""

    def __init__(self, plain: PlainFile) -> None:
        self._lines = RawLines(plain)

    def __enter__(self) -> _PlainTexts:
        self._lines.__enter__()
        return self

    def __exit__(self, *problem: object) -> None:
        self._lines.__exit__(None, None, None)

    def text(self, line: int, offset: int, length: int, where: int) -> str:
        return self._lines.text(line)


def _write_rejects(
    target: Path,
    source_key: str,
    texts: _SplitTexts | _PlainTexts,
    rejects: Iterator[_Reject],
) -> dict[str, int]:
    counts: dict[str, int] = {}
    with texts, target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        # The csv module quotes a field holding the line terminator's characters only, so
        # with "\n" as terminator a bare CR would go out unquoted; such rows quote all.
        quoting_all = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(REJECTS_HEADER)
        for line, offset, length, where, rule, message in rejects:
            raw_line = texts.text(line, offset, length, where)
            row = (source_key, line, rule, message, raw_line)
            if "\r" in raw_line or "\r" in message or "\r" in source_key:
                quoting_all.writerow(row)
            else:
                writer.writerow(row)
            counts[rule] = counts.get(rule, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


# The accepted rows that are written: passed every rule and are no duplicate.
_WRITTEN = (
    "_line IN (SELECT line FROM verdicts WHERE rule IS NULL) "
    "AND _line NOT IN (SELECT line FROM repeats WHERE kind = 'duplicate')"
)
# The same rows, found without joining every row to its verdict (measured, issue 15: the
# semi-join over all verdicts was about a third of writing the Parquet): a checked row
# that passed, minus the few lines rejected or duplicated (``EXCLUDED``). The two agree
# unless DuckDB split some record differently from the byte pass and left a row of no
# record (see ``_written_filter``).
EXCLUDED = "excluded"
_WRITTEN_BY_EXCLUSION = f"rule IS NULL AND _line NOT IN (SELECT line FROM {EXCLUDED})"


def _written_filter(connection: DuckDBPyConnection, accepted: int) -> str:
    """The cheap filter of the written rows when it selects exactly the accepted ones.

    Every line the verdicts accept has exactly one checked row, which passed and is not
    excluded; so the cheap filter selects those and perhaps more (a row carrying the line
    number of no accepted record), and the counts are equal only when it selects no more.
    """
    connection.execute(
        f"CREATE TABLE {EXCLUDED} AS SELECT line FROM {VERDICTS} WHERE rule IS NOT NULL "
        f"UNION ALL SELECT line FROM {REPEATS} WHERE kind = 'duplicate'"
    )
    (selected,) = _one(connection, f"SELECT count(*) FROM {CHECKED} WHERE {_WRITTEN_BY_EXCLUSION}")
    return _WRITTEN_BY_EXCLUSION if selected == accepted else _WRITTEN


@dataclass(frozen=True)
class _Findings:
    """What the written rows carry beside their values: nulled cells and rounded money."""

    money_rounding: MoneyRounding = field(default_factory=MoneyRounding)
    money_rounding_rows: tuple[RoundedMoney, ...] = ()
    column_warnings: tuple[ColumnWarning, ...] = ()
    column_warning_cells: tuple[NulledCell, ...] = ()


@dataclass(frozen=True)
class _RowOutcome:
    accepted: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    corrections: int = 0
    # The first REPORT_LISTED_ROWS of each, by line.
    duplicate_rows: tuple[RepeatedRow, ...] = ()
    correction_rows: tuple[RepeatedRow, ...] = ()
    findings: _Findings = field(default_factory=_Findings)


def _listed_repeats(connection: DuckDBPyConnection, kind: str) -> tuple[RepeatedRow, ...]:
    rows = connection.execute(
        # An inlined LIMIT, as in _rejects_from_duckdb, so it plans as a top-N.
        f"SELECT line, key, of_line FROM repeats WHERE kind = {sql_text(kind)} "
        f"ORDER BY line LIMIT {int(REPORT_LISTED_ROWS)}"
    ).fetchall()
    return tuple(
        RepeatedRow(line=int(line), key=int(key), of_line=int(of_line))
        for line, key, of_line in rows
    )


def _findings(
    connection: DuckDBPyConnection,
    specs: tuple[ColumnSpec, ...],
    money: MoneyMode,
    written: str,
) -> _Findings:
    """Counts and the first rows of the written rows' warned cells and rounded money."""
    warned_specs = [spec for spec in specs if warning_rules(spec, money)]
    rounded_specs = [spec for spec in specs if money == "round" and spec.type is ColumnType.MONEY]
    if not warned_specs and not rounded_specs:
        return _Findings()
    (any_flagged,) = _one(connection, "SELECT count(*) FROM checked WHERE _flagged")
    if not any_flagged:
        return _Findings()
    connection.execute(
        f"CREATE TEMP TABLE findings AS SELECT * FROM checked WHERE _flagged AND {written}"
    )
    warnings: list[ColumnWarning] = []
    cells: list[NulledCell] = []
    for spec in warned_specs:
        for rule, count in connection.execute(
            f"SELECT {warned(spec)}, count(*) FROM findings WHERE {warned(spec)} IS NOT NULL "
            "GROUP BY ALL ORDER BY 1"
        ).fetchall():
            warnings.append(ColumnWarning(column=spec.name, rule=str(rule), count=int(count)))
    if warned_specs:
        listed = " UNION ALL ".join(
            f"SELECT _line, {sql_text(spec.name)} AS column_name, {warned(spec)} AS rule, "
            f"{warned_message(spec)} AS message FROM findings WHERE {warned(spec)} IS NOT NULL"
            for spec in warned_specs
        )
        cells = [
            NulledCell(line=int(line), column=str(column), rule=str(rule), message=str(message))
            for line, column, rule, message in connection.execute(
                f"SELECT * FROM ({listed}) ORDER BY _line, column_name LIMIT {REPORT_LISTED_ROWS}"
            ).fetchall()
        ]
    rounding = MoneyRounding()
    rounded_rows: list[RoundedMoney] = []
    if rounded_specs:
        any_rounded = " OR ".join(f"coalesce({rounded(spec)}, false)" for spec in rounded_specs)
        counts = _one(
            connection,
            f"SELECT count(*) FILTER (WHERE {any_rounded}), "
            + ", ".join(f"count(*) FILTER (WHERE {rounded(spec)})" for spec in rounded_specs)
            + " FROM findings",
        )
        rounding = MoneyRounding(
            rows=int(counts[0]),
            by_column={
                spec.name: int(count)
                for spec, count in zip(rounded_specs, counts[1:], strict=True)
                if count
            },
        )
        listed = " UNION ALL ".join(
            f"SELECT _line, {sql_text(spec.name)} AS column_name, "
            f"{ident('rt_' + spec.name)} AS text, {typed(spec)} AS value "
            f"FROM findings WHERE {rounded(spec)}"
            for spec in rounded_specs
        )
        rounded_rows = [
            RoundedMoney(line=int(line), column=str(column), text=str(text)[:80], value=value)
            for line, column, text, value in connection.execute(
                f"SELECT * FROM ({listed}) ORDER BY _line, column_name LIMIT {REPORT_LISTED_ROWS}"
            ).fetchall()
        ]
    return _Findings(rounding, tuple(rounded_rows), tuple(warnings), tuple(cells))


ORDERED_INSERT = "BATCH_CREATE_TABLE_AS"
ORDERED_COPY = "BATCH_COPY_TO_FILE"
DUPLICATE_MARK = "_duplicate"
# The written rows of a direct read: every record has exactly one row in CHECKED.
_WRITTEN_OF_PLAIN = f"rule IS NULL AND {DUPLICATE_MARK} IS NULL"


def _mark_duplicates(connection: DuckDBPyConnection, plain: PlainFile) -> str:
    """Marks the direct read's duplicate rows; the filter of its written rows."""
    connection.execute(
        f"UPDATE {CHECKED_ROWS} SET {DUPLICATE_MARK} = true WHERE rowid IN "
        f"(SELECT line - {plain.header_line + 1} FROM {REPEATS} WHERE kind = 'duplicate')"
    )
    return _WRITTEN_OF_PLAIN


def _unsorted_write(connection: DuckDBPyConnection, sorted_write: str, unsorted: str) -> str:
    """The write without its sort when DuckDB's plan for it keeps CHECKED's order.

    Measured (issue 15): sorting 2M rows by line was a third of writing them. The direct
    read's rows are stored in line order; DuckDB's batch copy writes them in that order,
    so the sort is dropped only where the plan is one.
    """
    connection.execute("SET preserve_insertion_order = true")
    plan = " ".join(str(row[-1]) for row in connection.execute(f"EXPLAIN {unsorted}").fetchall())
    return unsorted if ORDERED_COPY in plan else sorted_write


class _NotOneRecordPerLineError(Exception):
    """DuckDB's reader did not read every line of a plain file as one row: the file takes
    the general path (see ``plain``)."""


def _check_plain_rows(
    connection: DuckDBPyConnection,
    plain: PlainFile,
    layout: _Layout,
    specs: tuple[ColumnSpec, ...],
    rules: list[Rule],
    money: MoneyMode,
    against_batch_orders: bool,
) -> None:
    """Steps 2 and 3 of the direct read: the file -> CHECKED_ROWS in file order, numbered
    by row id (CHECKED, a view); VERDICTS, a view of it, one per record.

    The batch orders are not joined into the ordered table (a join may reorder rows);
    ``user_mismatch``, the last rule, is set afterwards on the rows that broke no other.
    """
    user = {spec.name: spec for spec in specs}["user_id"] if against_batch_orders else None
    create = _checked_table_sql(
        _read_plain_sql(plain, layout),
        layout,
        specs,
        rules,
        False,
        money,
        table=CHECKED_ROWS,
        numbered=False,
        kept_raw=() if user is None else (user,),
    )
    # Only DuckDB's batch insert stores rows in the order its parallel scan read them; a
    # plan that cannot use it (a join, say) would number records wrongly, so it is refused.
    plan = " ".join(str(row[-1]) for row in connection.execute(f"EXPLAIN {create}").fetchall())
    if ORDERED_INSERT not in plan:
        raise _NotOneRecordPerLineError
    connection.execute(create)
    (rows,) = _one(connection, f"SELECT count(*) FROM {CHECKED_ROWS}")
    (unread,) = _one(connection, f"SELECT count(*) FROM {READER_REJECTS}")
    if unread or rows != plain.rows_in:
        raise _NotOneRecordPerLineError
    connection.execute(
        f"CREATE VIEW {CHECKED} AS "
        f"SELECT rowid + {plain.header_line + 1} AS _line, * FROM {CHECKED_ROWS}"
    )
    if user is not None:
        mismatch = user_mismatch_rule(specs)
        order_id = typed({spec.name: spec for spec in specs}["order_id"])
        connection.execute(
            f"UPDATE {CHECKED_ROWS} SET rule = {sql_text(mismatch.name)}, "
            f"message = {mismatch.message} FROM {BATCH_ORDERS} "
            f"WHERE {CHECKED_ROWS}.rule IS NULL AND {BATCH_ORDERS}.order_id = {order_id} "
            f"AND {mismatch.broken_when}"
        )
    connection.execute(
        f"CREATE VIEW {VERDICTS} AS SELECT _line AS line, 0::BIGINT AS raw_offset, "
        f"0::BIGINT AS raw_length, {IN_FILE} AS raw_in, rule, message FROM {CHECKED}"
    )


def _check_rows(
    records: SplitFile | PlainFile,
    layout: _Layout,
    kind: FileKind,
    source_key: str,
    ingest_seq: str,
    accepted_path: Path,
    rejects_path: Path,
    scratch: Path,
    config: ValidationConfig,
    engine: SqlEngine,
    batch_orders: Path | None,
) -> _RowOutcome:
    """The rows of a readable file, checked in named steps, each one statement:

    1. ``load_batch_orders`` (order items only): batch orders Parquet -> BATCH_ORDERS;
    2. check: records.csv (+ BATCH_ORDERS) -> CHECKED, and the reader's READER_REJECTS;
    3. judge: CHECKED + READER_REJECTS + index.csv + runs.csv -> VERDICTS (one per record);
       (the direct read of a plain file does 2 and 3 in ``_check_plain_rows``)
    4. repeats: CHECKED + VERDICTS -> REPEATS (duplicates and corrections within the file);
    5. write: VERDICTS + REPEATS -> EXCLUDED (the few lines not written), CHECKED minus
       EXCLUDED -> the accepted Parquet (``_written_filter``);
    6. rejects: VERDICTS + the records' raw text -> the rejects CSV;
    7. findings: CHECKED + VERDICTS + REPEATS -> column warnings and rounded money.
    """
    specs = column_specs(kind)
    rules = rules_for(specs, config.money)
    against_batch_orders = kind in CHECKED_AGAINST_BATCH_ORDERS
    key = next(spec for spec in specs if spec.name == PRIMARY_KEYS[kind])
    spill = scratch / "spill"
    spill.mkdir(exist_ok=True)
    connection = engine.connect(spill)
    try:
        if against_batch_orders:
            load_batch_orders(connection, batch_orders)
        # Measured (issue 15): with insertion order kept, DuckDB checks the file's rows on
        # every thread; without, the CSV scan feeding this table runs on one (about half the
        # wall time of this step on 2 cores). Memory stays under the engine's limit either way.
        # The direct read relies on it too: its rows are numbered by the order they are kept in.
        (keep_order,) = _one(connection, "SELECT current_setting('preserve_insertion_order')")
        connection.execute("SET preserve_insertion_order = true")
        if isinstance(records, PlainFile):
            _check_plain_rows(
                connection, records, layout, specs, rules, config.money, against_batch_orders
            )
        else:
            if against_batch_orders:
                rules.append(user_mismatch_rule(specs))
            connection.execute(
                _checked_table_sql(
                    _read_records_sql(records, layout),
                    layout,
                    specs,
                    rules,
                    against_batch_orders,
                    config.money,
                )
            )
        connection.execute(f"SET preserve_insertion_order = {bool(keep_order)}")
        if isinstance(records, SplitFile):
            connection.execute(_verdicts_table_sql(records, layout.width))
        connection.execute(_repeats_table_sql(specs, key))
        verdicts, passed = _one(
            connection,
            f"SELECT count(*), count(*) FILTER (WHERE rule IS NULL) FROM {VERDICTS}",
        )
        if verdicts != records.rows_in:
            raise RuntimeError(
                f"{source_key}: {verdicts} verdicts for {records.rows_in} records: index unreadable"
            )
        duplicates, corrections = _one(
            connection,
            "SELECT count(*) FILTER (WHERE kind = 'duplicate'), "
            f"count(*) FILTER (WHERE kind = 'correction') FROM {REPEATS}",
        )
        accepted = int(passed) - int(duplicates)
        if isinstance(records, PlainFile):
            written_filter = _mark_duplicates(connection, records)
        else:
            written_filter = _written_filter(connection, accepted)
        if accepted:
            parquet = (specs, ingest_seq, source_key, accepted_path, int(corrections))
            write = _write_parquet_sql(*parquet, written_filter)
            if isinstance(records, PlainFile):
                write = _unsorted_write(
                    connection, write, _write_parquet_sql(*parquet, written_filter, sort=False)
                )
            (written,) = _one(connection, write)
            connection.execute(f"SET preserve_insertion_order = {bool(keep_order)}")
            if written != accepted:
                raise RuntimeError(f"{source_key}: wrote {written} of {accepted} accepted rows")
        texts = _PlainTexts(records) if isinstance(records, PlainFile) else _SplitTexts(records)
        by_rule = (
            _write_rejects(rejects_path, source_key, texts, _rejects_from_duckdb(connection))
            if passed < records.rows_in
            else {}
        )
        outcome = _RowOutcome(
            accepted=accepted,
            by_rule=by_rule,
            duplicates=int(duplicates),
            corrections=int(corrections),
            duplicate_rows=_listed_repeats(connection, "duplicate"),
            correction_rows=_listed_repeats(connection, "correction"),
            findings=(
                _findings(connection, specs, config.money, written_filter)
                if accepted
                else _Findings()
            ),
        )
    finally:
        connection.close()
    return outcome


@dataclass(frozen=True)
class _FileOutcome:
    """What one way of reading a file found: its shape, and its rows' outcome."""

    header: tuple[str, ...]
    header_line: int | None
    rows_in: int
    gzip: bool
    file_error: FileError | None = None
    extra: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    rows: _RowOutcome = field(default_factory=_RowOutcome)


def _read_directly(
    path: Path,
    kind: FileKind,
    check: Callable[[SplitFile | PlainFile, _Layout], _RowOutcome],
    outputs: tuple[Path, ...],
) -> _FileOutcome | None:
    """The direct read (see ``plain``) when the file qualifies and its header is right;
    None sends the file the general way (which also reports every file-level problem)."""
    plain = scan_plain(path)
    if plain is None:
        return None
    layout = _layout(plain.header, kind)
    if isinstance(layout, FileError):
        return None
    try:
        rows = check(plain, layout)
    except (_NotOneRecordPerLineError, duckdb.InvalidInputException):
        for output in outputs:
            output.unlink(missing_ok=True)
        return None
    return _FileOutcome(
        header=tuple(plain.header),
        header_line=plain.header_line,
        rows_in=plain.rows_in,
        gzip=plain.gzip,
        extra=layout.extra,
        aliases=layout.aliases,
        rows=rows,
    )


def _read_split(
    path: Path,
    kind: FileKind,
    scratch: Path,
    source_key: str,
    check: Callable[[SplitFile | PlainFile, _Layout], _RowOutcome],
    outputs: tuple[Path, ...],
) -> _FileOutcome:
    """The general path: the byte pass numbers the records, then DuckDB checks them."""
    split = split_records(path, scratch)
    file_error = split.error
    extra: tuple[str, ...] = ()
    aliases: dict[str, str] = {}
    rows = _RowOutcome()
    if file_error is None and split.header is not None:
        layout = _layout(split.header, kind)
        if isinstance(layout, FileError):
            file_error = layout
        else:
            extra, aliases = layout.extra, layout.aliases
            if split.rows_in:
                try:
                    rows = check(split, layout)
                except duckdb.InvalidInputException as problem:
                    # A safety net: the byte pass keeps every input known to upset
                    # DuckDB's reader away from it, but should another one appear, the
                    # file fails as data (not retried as a crash) and says why.
                    for output in outputs:
                        output.unlink(missing_ok=True)
                    file_error = FileError(
                        "unreadable_csv",
                        "the CSV reader gave up on the file: "
                        + str(problem).strip().splitlines()[0][:300],
                    )
    if file_error is not None and split.rows_in:
        rows = _RowOutcome(
            by_rule=_write_rejects(
                outputs[1],
                source_key,
                _SplitTexts(split),
                _rejects_of_whole_file(split, file_error),
            )
        )
    return _FileOutcome(
        header=tuple(split.header or ()),
        header_line=split.header_line,
        rows_in=split.rows_in,
        gzip=split.gzip,
        file_error=file_error,
        extra=extra,
        aliases=aliases,
        rows=rows,
    )


def validate_file(
    path: Path,
    kind_expected: FileKind,
    source_key: str,
    ingest_seq: str,
    out_dir: Path,
    config: ValidationConfig | None = None,
    *,
    engine: SqlEngine,
    stem: str | None = None,
    staged_key: str | None = None,
    batch_orders: Path | None = None,
    direct_read: bool = True,
) -> FileValidationResult:
    """Validate the CSV (or gzipped CSV) at ``path`` as a ``kind_expected`` file.

    Writes into ``out_dir``: ``<stem>.parquet`` (accepted rows, only if any) and
    ``<stem>.rejected.csv`` (only if a row was rejected); the result holds everything the
    file's report says. ``stem`` defaults to the file name without ``.csv``/``.gz``. Same
    input and engine settings, same outputs, byte for byte (the rows and their order never
    depend on the settings; where the Parquet cuts its row groups may). Intermediate files
    go to a scratch directory in ``out_dir`` that is removed before returning.

    ``batch_orders`` (order items only) is a Parquet file of the batch's accepted orders
    (``order_id, user_id, source_key, line``, one row per order): an item whose order is
    there with another ``user_id`` is rejected under ``user_mismatch``.

    ``direct_read``: a file holding one record per line is read by DuckDB as it is (see
    ``plain``); False sends every file through the byte pass (the parity tests compare both).
    """
    config = config or ValidationConfig()
    stem = stem or stem_of(path.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    accepted_path = out_dir / f"{stem}.parquet"
    rejects_path = out_dir / f"{stem}.rejected.csv"
    outputs = (accepted_path, rejects_path)
    for stale in outputs:
        stale.unlink(missing_ok=True)

    scratch = Path(tempfile.mkdtemp(prefix=f".{stem}.", dir=out_dir))

    def check(records: SplitFile | PlainFile, layout: _Layout) -> _RowOutcome:
        return _check_rows(
            records,
            layout,
            kind_expected,
            source_key,
            ingest_seq,
            accepted_path,
            rejects_path,
            scratch,
            config,
            engine,
            batch_orders,
        )

    try:
        read = _read_directly(path, kind_expected, check, outputs) if direct_read else None
        if read is None:
            read = _read_split(path, kind_expected, scratch, source_key, check, outputs)
        rows, findings = read.rows, read.rows.findings
        result = FileValidationResult(
            kind=kind_expected,
            source_key=source_key,
            stem=stem,
            rows_in=read.rows_in,
            accepted=rows.accepted,
            rejected=sum(rows.by_rule.values()),
            rejects_by_rule=rows.by_rule,
            extra_columns=read.extra,
            file_error=read.file_error,
            accepted_path=accepted_path if rows.accepted else None,
            rejects_path=rejects_path if rows.by_rule else None,
            ingest_seq=ingest_seq,
            staged_key=staged_key,
            duplicates=rows.duplicates,
            corrections=rows.corrections,
            header=read.header,
            header_line=read.header_line,
            gzip=read.gzip,
            column_aliases=read.aliases,
            duplicate_rows=rows.duplicate_rows,
            correction_rows=rows.correction_rows,
            money_rounding=findings.money_rounding,
            money_rounding_rows=findings.money_rounding_rows,
            column_warnings=findings.column_warnings,
            column_warning_cells=findings.column_warning_cells,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result
