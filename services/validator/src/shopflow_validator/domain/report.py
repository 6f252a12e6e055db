"""A file's validation report, built once from what validation found and what was decided."""

from __future__ import annotations

from shopflow_contracts.report import (
    AppliedPolicy,
    FileError,
    QuarantineReason,
    SchemaChange,
    ValidationReport,
)
from shopflow_contracts.rows import PRIMARY_KEYS

from shopflow_validator.domain.model import REPORT_LISTED_ROWS, FileValidationResult
from shopflow_validator.domain.policy import share_of


def file_report(
    result: FileValidationResult,
    *,
    batch_id: str,
    policy: AppliedPolicy,
    quarantine: QuarantineReason | None,
    schema_changes: tuple[SchemaChange, ...] | list[SchemaChange] = (),
    rejects_key: str | None,
    curated_key: str | None,
) -> ValidationReport:
    """The report of ``result``; ``rejects_key``/``curated_key`` say where its outputs went."""
    return ValidationReport(
        batch_id=batch_id,
        kind=result.kind,
        source_key=result.source_key,
        staged_key=result.staged_key,
        ingest_seq=result.ingest_seq,
        status="accepted" if quarantine is None else "quarantined",
        quarantine=quarantine,
        policy=policy,
        gzip=result.gzip,
        header_line=result.header_line,
        header=list(result.header),
        rows_in=result.rows_in,
        accepted=result.accepted,
        rejected=result.rejected,
        duplicates=result.duplicates,
        pending=result.pending,
        corrections=result.corrections,
        rejected_share=share_of(result),
        rejects_by_rule=result.rejects_by_rule,
        file_error=None
        if result.file_error is None
        else FileError(rule=result.file_error.rule, message=result.file_error.message),
        primary_key=PRIMARY_KEYS[result.kind],
        listed_rows_limit=REPORT_LISTED_ROWS,
        duplicate_rows=list(result.duplicate_rows),
        correction_rows=list(result.correction_rows),
        money_rounding=result.money_rounding,
        money_rounding_rows=list(result.money_rounding_rows),
        column_warnings=list(result.column_warnings),
        column_warning_cells=list(result.column_warning_cells),
        extra_columns_ignored=list(result.extra_columns),
        column_aliases=result.column_aliases,
        schema_changes=list(schema_changes),
        num_of_item_mismatches=result.num_of_item_mismatches,
        num_of_item_mismatch_rows=list(result.num_of_item_mismatch_rows),
        warnings=list(result.warnings),
        rejects_key=rejects_key,
        curated_key=curated_key,
    )


def report_json(report: ValidationReport) -> bytes:
    """The report as written: indented JSON, UTF-8, a final newline."""
    return (report.model_dump_json(indent=2) + "\n").encode("utf-8")
