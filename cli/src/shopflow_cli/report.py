"""What happened to the rows of an uploaded file: per-run accounting and validation reports.

Two views of the same facts:

- the accounting of one execution, from its Step Functions output (the validator's
  ``FileValidation`` list and the loader's skipped files), printed by ``shopflow demo``;
- every validation report the validator wrote for one file, across batches, read from the
  ``reports/`` prefix of the data bucket, printed by ``shopflow report``.

Reports are found by listing S3 (``ListObjectsV2``), never by scanning a table: the bucket
already is the index of what was validated.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from shopflow_contracts.messages import QuarantinedFile
from shopflow_contracts.report import ValidationReport

REPORTS_PREFIX = "reports/"
REJECTED_ROWS_SHOWN = 10
MESSAGE_WIDTH = 120
TOP_REASONS_SHOWN = 3
ACCOUNTING_COLUMNS = (
    "source_key",
    "kind",
    "rows_in",
    "accepted",
    "rejected",
    "duplicates",
    "pending",
    "top reasons",
)
_COUNTS = ("rows_in", "accepted", "rejected", "duplicates", "pending")


class ReportNotFoundError(LookupError):
    """No validation report exists for the file asked about."""


# --- accounting of one execution ----------------------------------------------------------


@dataclass(frozen=True)
class FileAccounting:
    """One line of an execution's accounting: a validated file, or a file the run skipped."""

    source_key: str
    kind: str
    counts: dict[str, int] | None
    reasons: str

    def cells(self) -> dict[str, str]:
        counts = self.counts or {}
        return {
            "source_key": self.source_key,
            "kind": self.kind,
            **{name: str(counts[name]) if name in counts else "-" for name in _COUNTS},
            "top reasons": self.reasons,
        }


def describe_reasons(reasons: Iterable[tuple[str, int]], shown: int | None = None) -> str:
    """``rule xN, rule xN``: the reasons, commonest first (``shown`` of them, when given)."""
    ranked = sorted(reasons, key=lambda reason: (-reason[1], reason[0]))
    text = ", ".join(f"{rule} x{count}" for rule, count in ranked[:shown])
    if shown is not None and len(ranked) > shown:
        text += f" (+{len(ranked) - shown} more)"
    return text or "-"


def quarantined_files(output: str | dict[str, Any] | None) -> list[QuarantinedFile]:
    """The files a succeeded execution set aside (``$.validation.payload.quarantined``): a
    run with any is PARTIAL, its KPIs lack those files' rows."""
    if output is None:
        return []
    document = json.loads(output) if isinstance(output, str) else output
    named = path_in(document, "validation", "payload", "quarantined") or []
    return [QuarantinedFile.model_validate(entry) for entry in named]


def describe_quarantined(file: QuarantinedFile) -> str:
    """``landing/x.csv (orders): 7 of 10 rows rejected ... ; report reports/...``."""
    return f"{file.source_key} ({file.kind.value}): {file.reason.message}; report {file.report_key}"


def execution_accounting(output: str | dict[str, Any] | None) -> list[FileAccounting]:
    """The per-file accounting of a succeeded execution, from its output JSON.

    Validated files come from ``$.validation.payload.files``; files the loader did not stage
    (an identical earlier upload, say) from ``$.load.payload.skipped``, so that every
    uploaded file of the batch is accounted for. What the kpi stage found about accepted rows
    (``$.kpis.payload.settled_files``: identical to rows accepted before, or items waiting
    for their order or product) moves them from accepted to duplicates or pending.
    """
    if output is None:
        return []
    document = json.loads(output) if isinstance(output, str) else output
    validation = path_in(document, "validation", "payload", "files") or []
    skipped = path_in(document, "load", "payload", "skipped") or []
    settled = {
        str(entry.get("source_key")): entry
        for entry in path_in(document, "kpis", "payload", "settled_files") or []
    }
    lines = [
        FileAccounting(
            source_key=str(item.get("source_key", "?")),
            kind=str(item.get("kind", "?")),
            counts=settle(
                {name: int(item.get(name, 0)) for name in _COUNTS},
                settled.get(str(item.get("source_key")), {}),
            ),
            reasons=describe_reasons(
                (str(reason["rule"]), int(reason["count"]))
                for reason in item.get("top_reasons", [])
            ),
        )
        for item in validation
    ]
    for item in skipped:
        first_seen = item.get("first_seen_batch_id")
        lines.append(
            FileAccounting(
                source_key=str(item.get("source_key", "?")),
                kind="skipped",
                counts=None,
                reasons=f"{item.get('reason', 'skipped')}"
                + (f" (first seen in {first_seen})" if first_seen else ""),
            )
        )
    return lines


def settle(counts: dict[str, int], settled: dict[str, Any]) -> dict[str, int]:
    """A file's validation counts with the kpi stage's findings moved out of ``accepted``."""
    result = dict(counts)
    for name in ("duplicates", "pending"):
        moved = min(int(settled.get(name, 0)), result.get("accepted", 0))
        result["accepted"] = result.get("accepted", 0) - moved
        result[name] = result.get(name, 0) + moved
    return result


def path_in(document: Any, *names: str) -> Any:
    """``document[names[0]][names[1]]...``, or None where a level is missing."""
    for name in names:
        if not isinstance(document, dict):
            return None
        document = document.get(name)
    return document


def render_table(rows: list[dict[str, str]], columns: tuple[str, ...], indent: str = "") -> str:
    """Aligned columns; counts right-aligned, text left-aligned."""
    widths = {c: max([len(c), *(len(row[c]) for row in rows)]) for c in columns}

    def line(cells: dict[str, str]) -> str:
        text = "  ".join(
            cells[c].rjust(widths[c]) if c in _COUNTS else cells[c].ljust(widths[c])
            for c in columns
        )
        return indent + text.rstrip()

    header = line({c: c for c in columns})
    return "\n".join([header, indent + "-" * (len(header) - len(indent)), *map(line, rows)])


def render_accounting(lines: list[FileAccounting], indent: str = "    ") -> str:
    if not lines:
        return f"{indent}(no files in the execution output)"
    return render_table([line.cells() for line in lines], ACCOUNTING_COLUMNS, indent)


# --- validation reports of one file ---------------------------------------------------------


@dataclass(frozen=True)
class RejectedRow:
    line: str
    rule: str
    message: str


@dataclass(frozen=True)
class FileReport:
    """One validation report of a file (one batch that held it), as ``shopflow report`` shows."""

    report_key: str
    last_modified: datetime
    batch_id: str
    kind: str
    source_key: str
    rows_in: int
    accepted: int
    rejected: int
    duplicates: int
    pending: int
    rejects_by_rule: dict[str, int]
    rejects_key: str | None
    file_error: dict[str, Any] | None = None
    rejected_rows: list[RejectedRow] = field(default_factory=list)
    status: str = "accepted"
    quarantine: str | None = None
    money_rounded_rows: int = 0
    column_warnings: dict[str, int] = field(default_factory=dict)
    schema_changes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_modified"] = self.last_modified.isoformat()
        return data


def settled_reports(
    reports: list[FileReport], settled_of: Callable[[str], dict[str, dict[str, Any]]]
) -> list[FileReport]:
    """Reports with the kpi stage's findings applied (see ``settle``).

    ``settled_of(batch_id)`` gives that batch's ``settled_files`` entries by source key.
    """
    adjusted = []
    for found in reports:
        entry = settled_of(found.batch_id).get(found.source_key, {})
        counts = settle(
            {"accepted": found.accepted, "duplicates": found.duplicates, "pending": found.pending},
            entry,
        )
        adjusted.append(
            replace(
                found,
                accepted=counts["accepted"],
                duplicates=counts["duplicates"],
                pending=counts["pending"],
            )
        )
    return adjusted


def settled_files_of(output: str | None) -> dict[str, dict[str, Any]]:
    """A succeeded execution's ``settled_files`` by source key (empty for anything else)."""
    document = json.loads(output) if output else {}
    entries = path_in(document, "kpis", "payload", "settled_files") or []
    return {str(entry.get("source_key")): entry for entry in entries}


def wanted_source(file: str) -> str:
    """The object key (``landing/x.csv``) or bare file name (``x.csv``) the user means.

    An ``s3://bucket/key`` URL means its key.
    """
    if file.startswith("s3://"):
        _, _, key = file[len("s3://") :].partition("/")
        return key
    return file


def source_matches(source_key: str, wanted: str) -> bool:
    """A key matches itself; a bare name matches that name under any prefix."""
    if "/" in wanted:
        return source_key == wanted
    return source_key.rsplit("/", 1)[-1] == wanted


def list_report_keys(
    s3: Any, bucket: str, *, prefix: str = REPORTS_PREFIX, page_size: int = 1000
) -> Iterator[tuple[str, datetime]]:
    """Every ``*.report.json`` under the prefix, with its LastModified, page by page."""
    paginator = s3.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    )
    for page in pages:
        for item in page.get("Contents", []):
            if item["Key"].endswith(".report.json"):
                yield item["Key"], item["LastModified"]


def batch_of(report_key: str) -> str:
    """``reports/batch=<id>/<stem>.report.json`` -> ``<id>`` (for reports that lack it)."""
    for part in report_key.split("/"):
        if part.startswith("batch="):
            return part[len("batch=") :]
    return "?"


def parse_report(report_key: str, last_modified: datetime, body: ValidationReport) -> FileReport:
    return FileReport(
        report_key=report_key,
        last_modified=last_modified,
        batch_id=body.batch_id,
        kind=body.kind.value,
        source_key=body.source_key,
        rows_in=body.rows_in,
        accepted=body.accepted,
        rejected=body.rejected,
        duplicates=body.duplicates,
        pending=body.pending,
        rejects_by_rule=dict(body.rejects_by_rule),
        rejects_key=body.rejects_key,
        file_error=None if body.file_error is None else body.file_error.model_dump(),
        status=body.status,
        quarantine=None if body.quarantine is None else body.quarantine.message,
        money_rounded_rows=body.money_rounding.rows,
        column_warnings={warning.rule: warning.count for warning in body.column_warnings},
        schema_changes=[
            f"{change.change.replace('_', ' ')}: {change.column}" for change in body.schema_changes
        ],
    )


def read_rejected_rows(
    s3: Any, bucket: str, key: str, limit: int = REJECTED_ROWS_SHOWN
) -> list[RejectedRow]:
    """The first ``limit`` rows of a rejects CSV, reading no more of the object than needed."""
    if limit <= 0:
        return []
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        rows: list[RejectedRow] = []
        for record in csv.DictReader(text_lines(body.iter_chunks())):
            rows.append(
                RejectedRow(
                    line=record.get("line") or "",
                    rule=record.get("rule") or "",
                    message=record.get("message") or "",
                )
            )
            if len(rows) >= limit:
                break
        return rows
    finally:
        body.close()


def text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 lines (with their endings, as ``csv`` wants them) from a stream of byte chunks."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    for chunk in chunks:
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def find_reports(
    s3: Any,
    bucket: str,
    file: str,
    *,
    rejected_rows: int = REJECTED_ROWS_SHOWN,
    page_size: int = 1000,
) -> list[FileReport]:
    """Every validation report of ``file``, oldest first, with its first rejected rows.

    Raises ``ReportNotFoundError`` when there is none.
    """
    wanted = wanted_source(file)
    reports: list[FileReport] = []
    for key, last_modified in list_report_keys(s3, bucket, page_size=page_size):
        try:
            body = ValidationReport.model_validate_json(
                s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            )
        except ValidationError:
            # Not a report this version can read (one from before the typed report):
            # skipped rather than shown half-understood.
            continue
        if not source_matches(body.source_key, wanted):
            continue
        report = parse_report(key, last_modified, body)
        if report.rejects_key:
            shown = read_rejected_rows(s3, bucket, report.rejects_key, rejected_rows)
            report = replace(report, rejected_rows=shown)
        reports.append(report)
    if not reports:
        raise ReportNotFoundError(
            f"no validation report for {file!r} under s3://{bucket}/{REPORTS_PREFIX}: "
            "it was never uploaded, its run has not validated it yet, or it was skipped "
            "(unrecognised or an identical earlier upload; see 'shopflow status')"
        )
    return sorted(reports, key=lambda report: (report.last_modified, report.batch_id))


def render_reports(reports: list[FileReport], output_format: str = "table") -> str:
    if output_format == "json":
        return json.dumps([report.as_json() for report in reports], indent=2)
    return "\n\n".join(_render_one(report) for report in reports)


def _render_one(report: FileReport) -> str:
    lines = [
        f"batch {report.batch_id}  ({report.last_modified:%Y-%m-%d %H:%M:%S})",
        f"  file      {report.source_key}  ({report.kind})",
        f"  rows      in {report.rows_in}, accepted {report.accepted}, "
        f"rejected {report.rejected}, duplicates {report.duplicates}, pending {report.pending}",
    ]
    if report.status == "quarantined":
        lines.append(f"  QUARANTINED {report.quarantine}")
    if report.file_error:
        lines.append(
            f"  file error {report.file_error.get('rule', '?')}: "
            f"{report.file_error.get('message', '')}"
        )
    if report.money_rounded_rows:
        lines.append(f"  money     {report.money_rounded_rows} row(s) rounded to the cent")
    if report.column_warnings:
        lines.append(
            "  nulled    "
            + ", ".join(f"{rule} x{count}" for rule, count in report.column_warnings.items())
        )
    if report.schema_changes:
        lines.append("  schema    " + "; ".join(report.schema_changes))
    if report.rejects_by_rule:
        lines.append("  rejects by rule")
        ranked = sorted(report.rejects_by_rule.items(), key=lambda item: (-item[1], item[0]))
        width = max(len(rule) for rule, _ in ranked)
        lines.extend(f"    {rule.ljust(width)}  {count:>6}" for rule, count in ranked)
    lines.append(f"  rejects   {report.rejects_key or '(none)'}")
    if report.rejected_rows:
        shown = len(report.rejected_rows)
        lines.append(
            f"  first {shown} rejected row(s)" if shown < report.rejected else "  rejected rows"
        )
        line_width = max(len(row.line) for row in report.rejected_rows)
        rule_width = max(len(row.rule) for row in report.rejected_rows)
        lines.extend(
            f"    line {row.line.rjust(line_width)}  {row.rule.ljust(rule_width)}  "
            f"{_shorten(row.message)}"
            for row in report.rejected_rows
        )
    return "\n".join(lines)


def _shorten(text: str, width: int = MESSAGE_WIDTH) -> str:
    # A message quotes the offending value, which can be a whole malformed line.
    return text if len(text) <= width else text[: width - 3] + "..."
