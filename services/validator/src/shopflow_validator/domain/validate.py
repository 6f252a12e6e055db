"""Validate one staged CSV file into local outputs: accepted Parquet, rejected CSV, JSON report.

``validate_file`` is the domain's entry point; it touches only local files. The heavy
lifting is DuckDB's: the file is read once as text, every cell converted and checked in
SQL (``rules``), and the accepted rows written to Parquet straight from DuckDB, with a
memory limit and a spill directory, so a file larger than memory never passes through
Python objects. Python streams the raw bytes once beforehand (``records``) to number the
records and check the encoding, and once afterwards for the raw text of rejected rows.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from shopflow_contracts.rows import (
    PRIMARY_KEYS,
    REQUIRED_COLUMNS,
    FileKind,
    columns_of,
    missing_columns,
    normalise_header,
    recognise_kind,
)

from shopflow_validator.domain.model import FileError, FileValidationResult, ValidationConfig
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
    rules_for,
    sql_text,
    typed,
    typed_expression,
    user_mismatch_rule,
)
from shopflow_validator.domain.schema import ColumnSpec, column_specs

REJECTS_HEADER = ("source_key", "line", "rule", "message", "raw_line")
LINEAGE_COLUMNS = ("_ingest_seq", "_source_key", "_source_line")
LINE_NUMBERING = (
    "line is the 1-based physical line of the decompressed file on which the record starts "
    "(CR LF and LF each end a line; blank lines count as lines but are not rows); raw_line "
    "is the record's exact text without its line terminator and without a BOM"
)
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
# How many duplicate and correction rows a report lists by line (all are counted).
REPORT_LISTED_ROWS = 1_000
ACCOUNTING = "rows_in == accepted + rejected + duplicates + pending"
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


def _layout(header: list[str], kind: FileKind) -> _Layout | FileError:
    names = normalise_header(header)
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
    return _Layout(positions, len(names), tuple(extra))


def connect(database: Path, spill_dir: Path, config: ValidationConfig) -> Any:
    connection = duckdb.connect(
        str(database),
        config={
            "memory_limit": config.memory_limit,
            "threads": config.threads,
            "temp_directory": str(spill_dir),
            # Keeping scan order would make DuckDB buffer whole tables in memory; every
            # output that needs an order (Parquet, rejects) asks for it with ORDER BY.
            "preserve_insertion_order": False,
        },
    )
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET enable_progress_bar = false")
    return connection


def _read_records_sql(split: SplitFile, layout: _Layout) -> str:
    columns = {"_line": "VARCHAR"} | {f"c{index}": "VARCHAR" for index in range(layout.width)}
    column_map = "{" + ", ".join(f"{sql_text(n)}: {sql_text(t)}" for n, t in columns.items()) + "}"
    # Everything is read as VARCHAR: a bad cell must become a rejected row, never a failed
    # scan. Rows DuckDB cannot split into fields go to the parse_errors table.
    return (
        f"read_csv({sql_text(str(split.records_path))}, columns = {column_map}, "
        "header = false, auto_detect = false, all_varchar = true, delim = ',', "
        "quote = '\"', escape = '\"', new_line = '\\n', strict_mode = true, "
        "store_rejects = true, rejects_table = 'parse_errors', rejects_scan = 'parse_scans')"
    )


def _batch_orders_join(batch_orders: Path | None, specs: tuple[ColumnSpec, ...]) -> str:
    """Joins each order item to its order in the batch, if the batch has it (else NULLs)."""
    if batch_orders is None:
        return ""
    order_id = typed({spec.name: spec for spec in specs}["order_id"])
    return (
        f"LEFT JOIN (SELECT order_id, user_id AS {BATCH_ORDER_USER}, "
        f"source_key AS {BATCH_ORDER_SOURCE}, line AS {BATCH_ORDER_LINE} "
        f"FROM read_parquet({sql_text(str(batch_orders))})) AS batch_orders "
        f"ON batch_orders.order_id = converted.{order_id}"
    )


def _checked_table_sql(
    split: SplitFile,
    layout: _Layout,
    specs: tuple[ColumnSpec, ...],
    rules: list[Rule],
    batch_orders: Path | None,
) -> str:
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
    converted = ", ".join(f"{typed_expression(spec)} AS {typed(spec)}" for spec in specs)
    return f"""
        CREATE TABLE checked AS
        WITH cells AS (
            SELECT TRY_CAST(_line AS BIGINT) AS _line, {cells}
            FROM {_read_records_sql(split, layout)}
        ),
        parts AS (SELECT *{", " + parts if parts else ""} FROM cells),
        converted AS (SELECT *, {converted} FROM parts),
        judged AS (
            SELECT *, {first_broken(rules, "name")} AS rule
            FROM converted {_batch_orders_join(batch_orders, specs)}
        )
        SELECT _line, {", ".join(typed(spec) for spec in specs)}, rule,
               -- Only a rejected row pays for building its message.
               CASE WHEN rule IS NOT NULL THEN {first_broken(rules, "message")} END AS message
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
    index = _numbers_csv_sql(split.index_path, ("line", "raw_offset", "raw_length", "stray"))
    runs = _numbers_csv_sql(split.runs_path, ("first_line", "records", "raw_offset", "raw_length"))
    # A record of a run points at the whole run; its own text is found when it is rejected.
    all_records = f"""(
        SELECT line, raw_offset, raw_length, stray FROM {index}
        UNION ALL
        SELECT unnest(range(first_line, first_line + records)) AS line,
               raw_offset, raw_length, {IN_RUN} AS stray
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
        CREATE TABLE verdicts AS
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
            FROM parse_errors GROUP BY ALL
        )
        SELECT records.line, records.raw_offset, records.raw_length, records.stray,
            CASE
                WHEN records.stray = {IN_STRAY} THEN 'stray_carriage_return'
                WHEN parsed._line IS NOT NULL AND unparsed.line IS NULL THEN parsed.rule
                WHEN unparsed.line IS NOT NULL THEN {parse_rule} ELSE 'malformed_row' END
                ELSE 'malformed_row'
            END AS rule,
            CASE
                WHEN records.stray = {IN_STRAY} THEN {sql_text(STRAY_CR_MESSAGE)}
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
        CREATE TABLE repeats AS
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


def _write_parquet_sql(
    specs: tuple[ColumnSpec, ...], ingest_seq: str, source_key: str, target: Path
) -> str:
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
            WHERE checked._line IN (SELECT line FROM verdicts WHERE rule IS NULL)
              AND checked._line NOT IN (SELECT line FROM repeats WHERE kind = 'duplicate')
            ORDER BY checked._line
        ) TO {sql_text(str(target))} (FORMAT parquet, COMPRESSION zstd)
    """


# (line, raw_offset, raw_length, where, rule, message) of a rejected record; ``where``
# says which file (region) its raw text is in: IN_RECORDS, IN_STRAY or IN_RUN.
_Reject = tuple[int, int, int, int, str, str]


def _rejects_from_duckdb(connection: Any) -> Iterator[_Reject]:
    # Paged by line number so only one page of rejects is in Python at a time. The bounds
    # are inlined integers: as parameters they keep DuckDB from planning a top-N over the
    # filtered rows, and the query sorts every verdict instead (~1 s per million rows).
    last_line = -1
    while True:
        page = connection.execute(
            "SELECT line, raw_offset, raw_length, stray, rule, message FROM verdicts "
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


def _write_rejects(
    target: Path, source_key: str, split: SplitFile, rejects: Iterator[_Reject]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    with (
        split.records_path.open("rb") as records,
        split.stray_path.open("rb") as stray_records,
        target.open("w", encoding="utf-8", newline="") as out,
    ):
        writer = csv.writer(out, lineterminator="\n")
        # The csv module quotes a field holding the line terminator's characters only, so
        # with "\n" as terminator a bare CR would go out unquoted; such rows quote all.
        quoting_all = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(REJECTS_HEADER)
        # The run last read, and where in it the last record found ended: rejects come by
        # line, so each run is read once and searched in one pass.
        run_offset, run, run_after = -1, b"", 0
        for line, offset, length, where, rule, message in rejects:
            if where == IN_RUN:
                if run_offset != offset:
                    records.seek(offset)
                    run_offset, run, run_after = offset, records.read(length), 0
                start, size = run_record(run, line, run_after)
                run_after = start + size
                raw_line = run[start : start + size].decode("utf-8")
            else:
                source = stray_records if where == IN_STRAY else records
                source.seek(offset)
                raw_line = source.read(length).decode("utf-8")
            row = (source_key, line, rule, message, raw_line)
            if "\r" in raw_line or "\r" in message or "\r" in source_key:
                quoting_all.writerow(row)
            else:
                writer.writerow(row)
            counts[rule] = counts.get(rule, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True)
class _Repeat:
    """A row whose key an earlier accepted row of the file had (see ``_repeats_table_sql``)."""

    line: int
    key: int
    of_line: int


@dataclass(frozen=True)
class _RowOutcome:
    accepted: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    corrections: int = 0
    # The first REPORT_LISTED_ROWS of each, by line.
    duplicate_rows: tuple[_Repeat, ...] = ()
    correction_rows: tuple[_Repeat, ...] = ()


def _listed_repeats(connection: Any, kind: str) -> tuple[_Repeat, ...]:
    rows = connection.execute(
        # An inlined LIMIT, as in _rejects_from_duckdb, so it plans as a top-N.
        f"SELECT line, key, of_line FROM repeats WHERE kind = {sql_text(kind)} "
        f"ORDER BY line LIMIT {int(REPORT_LISTED_ROWS)}"
    ).fetchall()
    return tuple(_Repeat(int(line), int(key), int(of_line)) for line, key, of_line in rows)


def _check_rows(
    split: SplitFile,
    layout: _Layout,
    kind: FileKind,
    source_key: str,
    ingest_seq: str,
    accepted_path: Path,
    rejects_path: Path,
    scratch: Path,
    config: ValidationConfig,
    batch_orders: Path | None,
) -> _RowOutcome:
    specs = column_specs(kind)
    rules = rules_for(specs)
    if batch_orders is not None and kind is FileKind.ORDER_ITEMS:
        rules.append(user_mismatch_rule(specs))
    else:
        batch_orders = None
    key = next(spec for spec in specs if spec.name == PRIMARY_KEYS[kind])
    spill = scratch / "spill"
    spill.mkdir()
    connection = connect(scratch / "validate.duckdb", spill, config)
    try:
        connection.execute(_checked_table_sql(split, layout, specs, rules, batch_orders))
        connection.execute(_verdicts_table_sql(split, layout.width))
        connection.execute(_repeats_table_sql(specs, key))
        verdicts, passed = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE rule IS NULL) FROM verdicts"
        ).fetchone()
        if verdicts != split.rows_in:
            raise RuntimeError(
                f"{source_key}: {verdicts} verdicts for {split.rows_in} records: index unreadable"
            )
        duplicates, corrections = connection.execute(
            "SELECT count(*) FILTER (WHERE kind = 'duplicate'), "
            "count(*) FILTER (WHERE kind = 'correction') FROM repeats"
        ).fetchone()
        accepted = int(passed) - int(duplicates)
        if accepted:
            (written,) = connection.execute(
                _write_parquet_sql(specs, ingest_seq, source_key, accepted_path)
            ).fetchone()
            if written != accepted:
                raise RuntimeError(f"{source_key}: wrote {written} of {accepted} accepted rows")
        by_rule = (
            _write_rejects(rejects_path, source_key, split, _rejects_from_duckdb(connection))
            if passed < split.rows_in
            else {}
        )
        outcome = _RowOutcome(
            accepted=accepted,
            by_rule=by_rule,
            duplicates=int(duplicates),
            corrections=int(corrections),
            duplicate_rows=_listed_repeats(connection, "duplicate"),
            correction_rows=_listed_repeats(connection, "correction"),
        )
    finally:
        connection.close()
    return outcome


def _report(
    result: FileValidationResult, split: SplitFile, rows: _RowOutcome, key: str
) -> dict[str, Any]:
    return {
        "kind": result.kind.value,
        "source_key": result.source_key,
        "staged_key": result.staged_key,
        "ingest_seq": result.ingest_seq,
        "gzip": split.gzip,
        "header_line": split.header_line,
        "accounting": ACCOUNTING,
        "rows_in": result.rows_in,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "duplicates": result.duplicates,
        "pending": result.pending,
        "corrections": result.corrections,
        "rejected_share": str(round(float(result.rejected_share), 6)),
        "rejects_by_rule": result.rejects_by_rule,
        "primary_key": key,
        "listed_rows_limit": REPORT_LISTED_ROWS,
        "duplicate_rows": [
            {"line": row.line, "key": row.key, "duplicate_of_line": row.of_line}
            for row in rows.duplicate_rows
        ],
        "correction_rows": [
            {"line": row.line, "key": row.key, "corrects_line": row.of_line}
            for row in rows.correction_rows
        ],
        "warnings": list(result.warnings),
        "extra_columns_ignored": list(result.extra_columns),
        "file_error": (
            None
            if result.file_error is None
            else {"rule": result.file_error.rule, "message": result.file_error.message}
        ),
        "line_numbering": LINE_NUMBERING,
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def validate_file(
    path: Path,
    kind_expected: FileKind,
    source_key: str,
    ingest_seq: str,
    out_dir: Path,
    config: ValidationConfig | None = None,
    *,
    stem: str | None = None,
    staged_key: str | None = None,
    batch_orders: Path | None = None,
) -> FileValidationResult:
    """Validate the CSV (or gzipped CSV) at ``path`` as a ``kind_expected`` file.

    Writes into ``out_dir``: ``<stem>.parquet`` (accepted rows, only if any),
    ``<stem>.rejected.csv`` (only if a row was rejected) and ``<stem>.report.json``.
    ``stem`` defaults to the file name without ``.csv``/``.gz``. Same input, same outputs,
    byte for byte. Intermediate files go to a scratch directory in ``out_dir`` that is
    removed before returning.

    ``batch_orders`` (order items only) is a Parquet file of the batch's accepted orders
    (``order_id, user_id, source_key, line``, one row per order): an item whose order is
    there with another ``user_id`` is rejected under ``user_mismatch``.
    """
    config = config or ValidationConfig()
    stem = stem or stem_of(path.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    accepted_path = out_dir / f"{stem}.parquet"
    rejects_path = out_dir / f"{stem}.rejected.csv"
    report_path = out_dir / f"{stem}.report.json"
    for stale in (accepted_path, rejects_path, report_path):
        stale.unlink(missing_ok=True)

    scratch = Path(tempfile.mkdtemp(prefix=f".{stem}.", dir=out_dir))
    try:
        split = split_records(path, scratch)
        file_error = split.error
        extra: tuple[str, ...] = ()
        rows = _RowOutcome()
        if file_error is None and split.header is not None:
            layout = _layout(split.header, kind_expected)
            if isinstance(layout, FileError):
                file_error = layout
            else:
                extra = layout.extra
                if split.rows_in:
                    try:
                        rows = _check_rows(
                            split,
                            layout,
                            kind_expected,
                            source_key,
                            ingest_seq,
                            accepted_path,
                            rejects_path,
                            scratch,
                            config,
                            batch_orders,
                        )
                    except duckdb.InvalidInputException as problem:
                        # A safety net: the byte pass keeps every input known to upset
                        # DuckDB's reader away from it, but should another one appear, the
                        # file fails as data (not retried as a crash) and says why.
                        accepted_path.unlink(missing_ok=True)
                        rejects_path.unlink(missing_ok=True)
                        file_error = FileError(
                            "unreadable_csv",
                            "the CSV reader gave up on the file: "
                            + str(problem).strip().splitlines()[0][:300],
                        )
        if file_error is not None and split.rows_in:
            rows = _RowOutcome(
                by_rule=_write_rejects(
                    rejects_path, source_key, split, _rejects_of_whole_file(split, file_error)
                )
            )
        result = FileValidationResult(
            kind=kind_expected,
            source_key=source_key,
            stem=stem,
            rows_in=split.rows_in,
            accepted=rows.accepted,
            rejected=sum(rows.by_rule.values()),
            rejects_by_rule=rows.by_rule,
            extra_columns=extra,
            file_error=file_error,
            accepted_path=accepted_path if rows.accepted else None,
            rejects_path=rejects_path if rows.by_rule else None,
            report_path=report_path,
            ingest_seq=ingest_seq,
            staged_key=staged_key,
            duplicates=rows.duplicates,
            corrections=rows.corrections,
        )
        write_report(report_path, _report(result, split, rows, PRIMARY_KEYS[kind_expected]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result
