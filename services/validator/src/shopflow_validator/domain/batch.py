"""Validate the files of one batch together: the checks that need more than one file.

Each file is still validated on its own by ``validate_file``; the batch adds what only the
batch can tell, for orders and their items that arrive together:

- an order item whose ``user_id`` differs from its order's is rejected (``user_mismatch``),
  when the order is among the batch's accepted orders. The order files are validated first
  so their accepted rows are known when the item files are read. An item whose order is in
  another batch is not checked here: the KPI stage, which sees every batch, checks it.
- an order whose ``num_of_item`` differs from the number of its items in the batch gets a
  warning, never a rejection (exports are cut at arbitrary times, so the two may disagree
  for a while). Only orders with at least one item in the batch are compared.

When an order or item appears more than once in the batch (corrections), the latest version
counts: the highest ``(ingest_seq, file position, source line)``, as the KPI stage decides.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from shopflow_contracts.report import NumOfItemMismatch
from shopflow_contracts.rows import FileKind

from shopflow_validator.domain.model import (
    REPORT_LISTED_ROWS,
    FileValidationResult,
    ValidationConfig,
)
from shopflow_validator.domain.rules import sql_text
from shopflow_validator.domain.validate import stem_of, validate_file
from shopflow_validator.ports import SqlEngine

# How many warnings a file's result carries (the report lists up to REPORT_LISTED_ROWS).
RESULT_WARNINGS = 10
# Files of these kinds are validated before the others: the others are checked against them.
_FIRST = (FileKind.ORDERS,)


@dataclass(frozen=True)
class BatchFile:
    """One staged file of the batch, as ``validate_file`` needs it."""

    kind: FileKind
    source_key: str
    ingest_seq: str
    stem: str | None = None
    staged_key: str | None = None


# Puts the batch's file number ``index`` into the local file ``target``.
Fetch = Callable[[int, Path], None]


def unique_stems(keys: Sequence[str]) -> list[str]:
    """A name per file key (``stem_of``), unique among ``keys`` and the same every time for
    the same list: names that would clash get a short hash of their key appended."""
    plain = [stem_of(key) for key in keys]
    return [
        stem if plain.count(stem) == 1 else f"{stem}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
        for stem, key in zip(plain, keys, strict=True)
    ]


def _spill(scratch: Path) -> Path:
    spill = scratch / "spill"
    spill.mkdir(exist_ok=True)
    return spill


# A version number: the file's rank in upload order, then the line; one BIGINT, because
# DuckDB spills aggregates of fixed-size values but not of strings or structs.
LINES_PER_FILE = 1_000_000_000_000


def _versions_sql(results: dict[int, FileValidationResult], columns: str) -> str:
    """The accepted rows of ``results``, each with its file and version (latest is highest)."""
    ranked = sorted(results, key=lambda index: (results[index].ingest_seq, index))
    return " UNION ALL ".join(
        f"SELECT {columns}, {index} AS file, "
        f"{rank} * {LINES_PER_FILE} + _source_line AS version "
        f"FROM read_parquet({sql_text(str(results[index].accepted_path))})"
        for rank, index in enumerate(ranked)
        if results[index].accepted_path is not None
    )


def _batch_orders(
    orders: dict[int, FileValidationResult], target: Path, scratch: Path, engine: SqlEngine
) -> Path | None:
    """One row per accepted order of the batch (its latest version), or None if none."""
    union = _versions_sql(orders, "order_id, user_id, num_of_item, _source_line")
    if not union:
        return None
    source_key = (
        "CASE file "
        + " ".join(
            f"WHEN {index} THEN {sql_text(result.source_key)}" for index, result in orders.items()
        )
        + " END"
    )
    connection = engine.connect(_spill(scratch))
    try:
        connection.execute(
            f"""
            COPY (
                SELECT order_id, user_id, num_of_item, {source_key} AS source_key, line, file
                FROM (
                    SELECT order_id,
                           arg_max(user_id, version) AS user_id,
                           arg_max(num_of_item, version) AS num_of_item,
                           arg_max(_source_line, version) AS line,
                           arg_max(file, version) AS file
                    FROM ({union}) GROUP BY order_id
                )
            ) TO {sql_text(str(target))} (FORMAT parquet)
            """
        )
    finally:
        connection.close()
    return target


def _num_of_item_mismatches(
    batch_orders: Path,
    items: dict[int, FileValidationResult],
    scratch: Path,
    engine: SqlEngine,
) -> dict[int, tuple[int, list[NumOfItemMismatch]]]:
    """Orders file -> (how many of its orders disagree, the first few of them by line)."""
    union = _versions_sql(items, "id, order_id, _source_line")
    if not union:
        return {}
    connection = engine.connect(_spill(scratch))
    try:
        connection.execute(
            f"""
            CREATE TABLE mismatches AS
            WITH latest AS (
                SELECT id, arg_max(order_id, version) AS order_id FROM ({union}) GROUP BY id
            ),
            counted AS (SELECT order_id, count(*) AS items FROM latest GROUP BY order_id)
            SELECT orders.file, orders.line, orders.order_id, orders.num_of_item, counted.items
            FROM counted
            JOIN read_parquet({sql_text(str(batch_orders))}) AS orders USING (order_id)
            WHERE orders.num_of_item <> counted.items
            """
        )
        totals = connection.execute(
            "SELECT file, count(*) FROM mismatches GROUP BY file ORDER BY file"
        ).fetchall()
        listed = connection.execute(
            "SELECT file, line, order_id, num_of_item, items FROM mismatches "
            "QUALIFY row_number() OVER (PARTITION BY file ORDER BY line) <= ? "
            "ORDER BY file, line",
            [REPORT_LISTED_ROWS],
        ).fetchall()
    finally:
        connection.close()
    found: dict[int, tuple[int, list[NumOfItemMismatch]]] = {
        int(file): (int(total), []) for file, total in totals
    }
    for file, line, order_id, num_of_item, count in listed:
        found[int(file)][1].append(
            NumOfItemMismatch(
                line=int(line),
                order_id=int(order_id),
                num_of_item=int(num_of_item),
                items_in_batch=int(count),
            )
        )
    return found


def _warn(
    result: FileValidationResult, total: int, listed: list[NumOfItemMismatch]
) -> FileValidationResult:
    """``result`` with its num_of_item warnings."""
    messages = [
        f"line {row.line}: order {row.order_id} has num_of_item {row.num_of_item} but "
        f"{row.items_in_batch} item(s) in this batch"
        for row in listed[:RESULT_WARNINGS]
    ]
    if total > len(messages):
        messages.append(
            f"{total - len(messages)} more order(s) whose num_of_item differs from their items "
            f"in this batch (see the report)"
        )
    return replace(
        result,
        warnings=result.warnings + tuple(messages),
        num_of_item_mismatches=total,
        num_of_item_mismatch_rows=tuple(listed),
    )


def validate_batch(
    files: Sequence[BatchFile],
    fetch: Fetch,
    work_dir: Path,
    config: ValidationConfig | None = None,
    applied: Callable[[FileValidationResult], bool] = lambda result: True,
    *,
    engine: SqlEngine,
) -> list[FileValidationResult]:
    """Validate every file of a batch into ``work_dir``/out; results in the order of ``files``.

    Each file is fetched into ``work_dir`` just before it is validated and deleted right
    after, so the batch never needs more local disk than one staged file plus the outputs.
    ``applied`` says whether a file's accepted rows will be applied (it is not quarantined):
    only those are the batch's orders the items are checked against.
    """
    config = config or ValidationConfig()
    out_dir = work_dir / "out"
    scratch = work_dir / "batch"
    scratch.mkdir(parents=True, exist_ok=True)
    results: dict[int, FileValidationResult] = {}

    def run(index: int, batch_orders: Path | None = None) -> None:
        file = files[index]
        download = work_dir / "staged" / f"{index}-{file.stem or 'file'}"
        download.parent.mkdir(parents=True, exist_ok=True)
        fetch(index, download)
        try:
            results[index] = validate_file(
                download,
                file.kind,
                file.source_key,
                file.ingest_seq,
                out_dir,
                config,
                engine=engine,
                stem=file.stem or stem_of(file.staged_key or file.source_key),
                staged_key=file.staged_key,
                batch_orders=batch_orders,
            )
        finally:
            download.unlink(missing_ok=True)

    try:
        first = [index for index, file in enumerate(files) if file.kind in _FIRST]
        for index in first:
            run(index)
        orders = {index: results[index] for index in first if applied(results[index])}
        batch_orders = _batch_orders(orders, scratch / "batch-orders.parquet", scratch, engine)
        for index in range(len(files)):
            if index not in results:
                run(index, batch_orders)
        if batch_orders is not None:
            items = {
                index: result
                for index, result in results.items()
                if result.kind is FileKind.ORDER_ITEMS and applied(result)
            }
            for index, (total, listed) in _num_of_item_mismatches(
                batch_orders, items, scratch, engine
            ).items():
                results[index] = _warn(results[index], total, listed)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [results[index] for index in range(len(files))]
