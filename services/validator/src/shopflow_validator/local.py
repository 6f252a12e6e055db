"""The validator on local files, no AWS: what ``shopflow validate`` runs.

The same domain calls as the ValidateData handler (``validate_batch``, the quarantine policy,
the typed report), over files on disk, so a shop can check an export before uploading it.
Outputs go to one folder: ``<stem>.parquet`` (accepted rows), ``<stem>.rejected.csv`` and
``<stem>.report.json`` per file. A file whose kind no header matches is not validated (the
pipeline would skip it at upload) and is said so.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

from shopflow_contracts.report import AppliedPolicy, QuarantineReason, ValidationReport
from shopflow_contracts.rows import GZIP_MAGIC, FileKind, recognise_kind

from shopflow_validator.adapters.duckdb_engine import DuckDbEngine
from shopflow_validator.domain import BatchFile, FileValidationResult, ValidationConfig
from shopflow_validator.domain.batch import unique_stems, validate_batch
from shopflow_validator.domain.policy import RejectRules, quarantine_reason
from shopflow_validator.domain.report import file_report, report_json
from shopflow_validator.ports import SqlEngine

LOCAL_BATCH = "local"
# Enough of a file to hold its header line, however wide.
HEADER_BYTES = 1 << 20


@dataclass(frozen=True)
class LocalOutcome:
    """One file given to ``validate_paths``: its result, or why it was not validated."""

    path: Path
    result: FileValidationResult | None
    quarantine: QuarantineReason | None
    report: ValidationReport | None
    report_path: Path | None
    unrecognised: str | None = None

    @property
    def would_be_quarantined(self) -> bool:
        return self.quarantine is not None or self.unrecognised is not None


def kind_of(path: Path) -> FileKind | None:
    """The kind of file the header of ``path`` (gzipped or not) belongs to, or None."""
    with path.open("rb") as handle:
        head = handle.read(HEADER_BYTES)
    if head.startswith(GZIP_MAGIC):
        try:
            with gzip.open(path, "rb") as stream:
                head = stream.read(HEADER_BYTES)
        except (OSError, EOFError):
            return None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    for row in csv.reader(io.StringIO(text, newline="")):
        if any(cell.strip() for cell in row):
            return recognise_kind(row)
    return None


def validate_paths(
    paths: list[Path],
    out_dir: Path,
    rules: RejectRules,
    config: ValidationConfig | None = None,
    engine: SqlEngine | None = None,
) -> list[LocalOutcome]:
    """Validate ``paths`` as one batch into ``out_dir``; outcomes in the order of ``paths``."""
    config = config or ValidationConfig()
    engine = engine or DuckDbEngine()
    out_dir.mkdir(parents=True, exist_ok=True)
    kinds = {path: kind_of(path) for path in paths}
    known = [path for path in paths if kinds[path] is not None]
    stems = unique_stems([str(path) for path in known])
    work = out_dir / ".validate-work"

    def fetch(index: int, target: Path) -> None:
        shutil.copyfile(known[index], target)

    results = validate_batch(
        [
            BatchFile(
                kind=kind,
                source_key=str(path),
                ingest_seq=f"{index:06d}",
                stem=stem,
            )
            for index, (path, stem) in enumerate(zip(known, stems, strict=True))
            if (kind := kinds[path]) is not None
        ],
        fetch,
        work,
        config,
        applied=lambda result: quarantine_reason(result, rules) is None,
        engine=engine,
    )
    policy = AppliedPolicy(
        reject_policy=rules.policy, reject_threshold=rules.threshold, money=config.money
    )
    by_path: dict[Path, LocalOutcome] = {}
    for path, result in zip(known, results, strict=True):
        outcome = _place(result, work / "out", out_dir, rules, policy)
        by_path[path] = LocalOutcome(path, result, *outcome)
    shutil.rmtree(work, ignore_errors=True)
    return [
        by_path.get(path)
        or LocalOutcome(path, None, None, None, None, unrecognised="no known export's header")
        for path in paths
    ]


def _place(
    result: FileValidationResult,
    work_out: Path,
    out_dir: Path,
    rules: RejectRules,
    policy: AppliedPolicy,
) -> tuple[QuarantineReason | None, ValidationReport, Path]:
    """Move the file's outputs from the work folder to ``out_dir`` and write its report."""
    quarantine = quarantine_reason(result, rules)
    curated = None
    if result.accepted_path is not None and quarantine is None:
        curated = out_dir / result.accepted_path.name
        shutil.move(result.accepted_path, curated)
    rejects = None
    if result.rejects_path is not None:
        rejects = out_dir / result.rejects_path.name
        shutil.move(result.rejects_path, rejects)
    report = file_report(
        result,
        batch_id=LOCAL_BATCH,
        policy=policy,
        quarantine=quarantine,
        rejects_key=None if rejects is None else rejects.name,
        curated_key=None if curated is None else curated.name,
    )
    report_path = out_dir / f"{result.stem}.report.json"
    report_path.write_bytes(report_json(report))
    return quarantine, report, report_path
