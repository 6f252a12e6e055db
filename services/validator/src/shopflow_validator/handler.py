"""ValidateData: a ``ValidateCommand`` in, a ``ValidateResult`` out (or a typed ``TaskError``)."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

from shopflow_contracts.envelope import utc_now
from shopflow_contracts.messages import (
    CuratedFile,
    FileValidation,
    RejectReason,
    StagedFile,
    TaskErrorName,
    ValidateCommand,
    ValidateResult,
    ValidationOutcome,
)
from shopflow_runtime.worker import TaskError

from shopflow_validator.domain import (
    BatchFile,
    FileValidationResult,
    ValidationConfig,
    describe_failure,
    exceeds_threshold,
    stem_of,
    validate_batch,
)
from shopflow_validator.ports import ObjectStore

log = logging.getLogger("shopflow.validator")

PARQUET_TYPE = "application/vnd.apache.parquet"
CSV_TYPE = "text/csv; charset=utf-8"
JSON_TYPE = "application/json"
TOP_REASONS = 5


@dataclass(frozen=True)
class HandlerConfig:
    data_bucket: str
    reject_threshold: Decimal = Decimal("0.5")
    # Where downloads and outputs are kept while a command runs; the system temp if None.
    work_dir: Path | None = None
    validation: ValidationConfig = field(default_factory=ValidationConfig)


@dataclass(frozen=True)
class OutputKeys:
    curated: str
    rejects: str
    report: str


def output_keys(batch_id: str, kind: str, stem: str) -> OutputKeys:
    return OutputKeys(
        curated=f"curated/{kind}/batch={batch_id}/{stem}.parquet",
        rejects=f"rejects/batch={batch_id}/{stem}.rejected.csv",
        report=f"reports/batch={batch_id}/{stem}.report.json",
    )


def batch_stems(files: list[StagedFile]) -> list[str]:
    """A name per staged file, unique in the batch and the same every time for the same list.

    Normally the staged file name without extension (the loader numbers them); names that
    would clash get a short hash of their staged key appended.
    """
    plain = [stem_of(staged.key) for staged in files]
    return [
        stem
        if plain.count(stem) == 1
        else f"{stem}-{hashlib.sha256(staged.key.encode()).hexdigest()[:8]}"
        for stem, staged in zip(plain, files, strict=True)
    ]


class ValidateHandler:
    def __init__(
        self,
        store: ObjectStore,
        config: HandlerConfig,
        clock: Callable[[], datetime] = utc_now,
        new_message_id: Callable[[], UUID] = uuid4,
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._new_message_id = new_message_id

    def handle(self, command: ValidateCommand) -> ValidateResult:
        request = command.payload
        self._check_staged(request.files)
        stems = batch_stems(request.files)
        work_root = self._config.work_dir
        if work_root is not None:
            work_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="validate-", dir=work_root) as work_name:
            results = self._validate(request.files, stems, Path(work_name))
            keys = [
                output_keys(request.batch_id, result.kind.value, result.stem) for result in results
            ]
            # Rejects and reports go up even when the batch fails: they are what people
            # inspect to see why.
            for result, key in zip(results, keys, strict=True):
                self._upload_findings(request.batch_id, result, key)
            failing = [
                result
                for result in results
                if exceeds_threshold(result, self._config.reject_threshold)
            ]
            if failing:
                raise TaskError(
                    TaskErrorName.VALIDATION_FAILED,
                    "; ".join(
                        describe_failure(result, self._config.reject_threshold)
                        for result in failing
                    ),
                    files=[result.source_key for result in failing],
                )
            # Only now, with every file of the batch past the threshold, may any rows be applied.
            validations = [
                self._publish(staged, result, key)
                for staged, result, key in zip(request.files, results, keys, strict=True)
            ]
        outcome = ValidationOutcome(
            batch_id=request.batch_id,
            files=validations,
            curated=[item.curated for item in validations if item.curated is not None],
        )
        return ValidateResult(
            message_id=self._new_message_id(),
            run_id=command.run_id,
            occurred_at=self._clock(),
            payload=outcome,
        )

    def _check_staged(self, files: list[StagedFile]) -> None:
        """Every staged object must be there with its listed size before any is read."""
        problems: list[str] = []
        concerned: list[str] = []
        for staged in files:
            size = self._store.size_of(staged.bucket, staged.key)
            if size == staged.size:
                continue
            found = "it does not exist" if size is None else f"it has {size} bytes"
            problems.append(
                f"s3://{staged.bucket}/{staged.key} (from {staged.source_key}) was staged with "
                f"{staged.size} bytes but {found}"
            )
            concerned.append(staged.source_key)
        if problems:
            raise TaskError(
                TaskErrorName.STAGED_OBJECT_MISSING, "; ".join(problems), files=concerned
            )

    def _validate(
        self, files: list[StagedFile], stems: list[str], work: Path
    ) -> list[FileValidationResult]:
        def fetch(index: int, target: Path) -> None:
            self._store.download(files[index].bucket, files[index].key, target)

        results = validate_batch(
            [
                BatchFile(
                    kind=staged.kind,
                    source_key=staged.source_key,
                    ingest_seq=staged.ingest_seq,
                    stem=stem,
                    staged_key=staged.key,
                )
                for staged, stem in zip(files, stems, strict=True)
            ],
            fetch,
            work,
            self._config.validation,
        )
        for result in results:
            log.info(
                "file validated",
                extra={
                    "source_key": result.source_key,
                    "rows_in": result.rows_in,
                    "accepted": result.accepted,
                    "rejected": result.rejected,
                    "duplicates": result.duplicates,
                    "pending": result.pending,
                    "corrections": result.corrections,
                    "warnings": len(result.warnings),
                    "file_error": None if result.file_error is None else result.file_error.rule,
                },
            )
        return results

    def _upload_findings(
        self, batch_id: str, result: FileValidationResult, keys: OutputKeys
    ) -> None:
        bucket = self._config.data_bucket
        if result.rejects_path is not None:
            self._store.upload(result.rejects_path, bucket, keys.rejects, CSV_TYPE)
        report = json.loads(result.report_path.read_text(encoding="utf-8"))
        report["batch_id"] = batch_id
        report["rejects_key"] = keys.rejects if result.rejects_path is not None else None
        report["curated_key"] = keys.curated if result.accepted_path is not None else None
        body = (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        self._store.put_bytes(bucket, keys.report, body, JSON_TYPE)

    def _publish(
        self, staged: StagedFile, result: FileValidationResult, keys: OutputKeys
    ) -> FileValidation:
        curated = None
        if result.accepted_path is not None:
            self._store.upload(
                result.accepted_path, self._config.data_bucket, keys.curated, PARQUET_TYPE
            )
            curated = CuratedFile(
                kind=staged.kind,
                bucket=self._config.data_bucket,
                key=keys.curated,
                rows=result.accepted,
                source_key=staged.source_key,
                ingest_seq=staged.ingest_seq,
            )
        return FileValidation(
            kind=staged.kind,
            source_key=staged.source_key,
            staged_key=staged.key,
            rows_in=result.rows_in,
            accepted=result.accepted,
            rejected=result.rejected,
            duplicates=result.duplicates,
            pending=result.pending,
            warnings=list(result.warnings),
            top_reasons=[
                RejectReason(rule=rule, count=count)
                for rule, count in result.top_reasons(TOP_REASONS)
            ],
            curated=curated,
            rejects_key=keys.rejects if result.rejects_path is not None else None,
            report_key=keys.report,
        )
