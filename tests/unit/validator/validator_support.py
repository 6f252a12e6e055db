"""Helpers shared by the validator tests: CSV fixtures and a checked run of validate_file."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import duckdb
from shopflow_contracts.report import AppliedPolicy, ValidationReport
from shopflow_contracts.rows import FileKind
from shopflow_validator.adapters.duckdb_engine import DuckDbEngine
from shopflow_validator.domain import (
    REJECTS_HEADER,
    FileValidationResult,
    ValidationConfig,
    validate_file,
)
from shopflow_validator.domain.report import file_report, report_json

ENGINE = DuckDbEngine()
DEFAULT_POLICY = AppliedPolicy(reject_policy="quarantine", reject_threshold="0.5", money="round")

ORDERS_HEADER = "order_id,user_id,status,created_at,returned_at,shipped_at,delivered_at,num_of_item"
ITEMS_HEADER = (
    "id,order_id,user_id,product_id,status,created_at,shipped_at,delivered_at,returned_at,"
    "sale_price"
)
PRODUCTS_HEADER = "id,cost,category,name,brand,retail_price,department,sku,distribution_center_id"

GOOD_ORDERS = (
    f"{ORDERS_HEADER}\n"
    "1,10,Complete,2025-03-30T16:14:26,,2025-03-31 10:00:00 UTC,2025-04-02T09:00:00Z,2\n"
    "2,11,pending,2025-03-30 16:14:26 UTC,,,,1\n"
    "3,12,returned,2025-03-01T08:00:00,2025-03-05T08:00:00,2025-03-02T08:00:00,"
    "2025-03-03T08:00:00,3\n"
)
GOOD_ITEMS = (
    f"{ITEMS_HEADER}\n"
    "100,1,10,500,complete,2025-03-30T16:14:26,2025-03-31T10:00:00,,,19.99\n"
    "101,1,10,501,Shipped,2025-03-30T16:14:26,2025-03-31T10:00:00,,,0.10\n"
    "102,2,11,502,processing,2025-03-30T16:14:26,,,,5\n"
)
GOOD_PRODUCTS = (
    f"{PRODUCTS_HEADER}\n"
    '500,4.50,Jeans,"Slim Fit, Dark",Levi\'s,12.00,Men,SKU-500,7\n'
    "501,1.00,Tops,Basic Tee,Acme,3.50,Women,SKU-501,2\n"
)


def assert_accounting(result: FileValidationResult) -> None:
    """What every validated file must satisfy: each row counted once, and said so in its report."""
    counts = (result.rows_in, result.accepted, result.rejected, result.duplicates, result.pending)
    assert min(counts) >= 0, counts
    assert result.rows_in == (
        result.accepted + result.rejected + result.duplicates + result.pending
    ), counts
    assert result.pending == 0  # cross-file parents are the KPI stage's business
    assert sum(result.rejects_by_rule.values()) == result.rejected
    report = report_of(result)
    assert (
        report.rows_in,
        report.accepted,
        report.rejected,
        report.duplicates,
        report.pending,
    ) == (counts)
    assert report.corrections == result.corrections
    assert report.rejects_by_rule == result.rejects_by_rule
    assert len(report.duplicate_rows) == min(result.duplicates, report.listed_rows_limit)
    assert len(report.correction_rows) == min(result.corrections, report.listed_rows_limit)
    assert len(report.money_rounding_rows) == min(
        sum(result.money_rounding.by_column.values()), report.listed_rows_limit
    )
    assert len(report.column_warning_cells) == min(
        sum(warning.count for warning in result.column_warnings), report.listed_rows_limit
    )
    if result.file_error is not None:
        assert result.accepted == result.duplicates == 0


def report_of(result: FileValidationResult) -> ValidationReport:
    """The file's report as the handler would build it (accepted, nothing uploaded), round-
    tripped through its JSON."""
    report = file_report(
        result,
        batch_id="b-test",
        policy=DEFAULT_POLICY,
        quarantine=None,
        rejects_key=None,
        curated_key=None,
    )
    return ValidationReport.model_validate_json(report_json(report))


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def validate(
    tmp_path: Path,
    content: str | bytes,
    kind: FileKind,
    name: str = "upload.csv",
    source_key: str | None = None,
    config: ValidationConfig | None = None,
) -> FileValidationResult:
    """Validate ``content`` and check what every run must satisfy, whatever the file."""
    source = write(tmp_path, name, content)
    result = validate_file(
        source,
        kind,
        source_key or f"landing/{name}",
        "2025-03-30T16:14:26Z#0001#landing/" + name,
        tmp_path / "out",
        config,
        engine=ENGINE,
    )
    assert_accounting(result)
    assert (result.accepted_path is not None) == (result.accepted > 0)
    assert (result.rejects_path is not None) == (result.rejected > 0)
    if result.accepted_path is not None:
        assert parquet_count(result.accepted_path) == result.accepted
    assert len(rejects(result)) == result.rejected
    assert sum(result.rejects_by_rule.values()) == result.rejected
    return result


def rejects(result: FileValidationResult) -> list[dict[str, str]]:
    if result.rejects_path is None:
        return []
    with result.rejects_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == REJECTS_HEADER
        return list(reader)


def parquet_count(path: Path) -> int:
    row = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
    assert row is not None
    return int(row[0])


def parquet_rows(
    path: Path, select: str = "*", order: str = "_source_line"
) -> list[tuple[Any, ...]]:
    """Rows of a Parquet file; timestamps must be selected as text (``x::VARCHAR``)."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    return connection.sql(
        f"SELECT {select} FROM read_parquet('{path}') ORDER BY {order}"
    ).fetchall()


def parquet_schema(path: Path) -> list[tuple[str, str]]:
    return [
        (str(name), str(kind))
        for name, kind, *_ in duckdb.sql(
            f"DESCRIBE SELECT * FROM read_parquet('{path}')"
        ).fetchall()
    ]
