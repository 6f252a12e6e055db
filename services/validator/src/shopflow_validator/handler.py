"""ValidateData: a ``ValidateCommand`` in, a ``ValidateResult`` out (or a typed ``TaskError``).

What the handler decides, per file, once the batch is validated (``domain.policy``): a file
is quarantined (none of its rows is applied, its report says why, the batch carries on) or
accepted; under the ``fail_batch`` policy a file over the threshold fails the whole batch
instead. A batch whose every file is quarantined fails too: there is nothing to apply.

Every file's rejects and report are uploaded whatever was decided (they are what people read
to see why); curated Parquet only for the accepted files of a batch that did not fail.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

from pydantic import ValidationError
from shopflow_contracts.envelope import utc_now
from shopflow_contracts.messages import (
    CuratedFile,
    FileSchemaChanges,
    FileValidation,
    QuarantinedFile,
    RejectReason,
    StagedFile,
    TaskErrorName,
    ValidateCommand,
    ValidateResult,
    ValidationOutcome,
)
from shopflow_contracts.report import AppliedPolicy, QuarantineReason, RejectPolicy, SchemaChange
from shopflow_contracts.storage import UncommittedBatch, uncommitted_key
from shopflow_runtime.faults import fault_point
from shopflow_runtime.worker import TaskError

from shopflow_validator.domain import (
    BatchFile,
    FileValidationResult,
    ValidationConfig,
    describe_failure,
    validate_batch,
)
from shopflow_validator.domain.batch import unique_stems
from shopflow_validator.domain.drift import AcceptedHeaders, schema_changes
from shopflow_validator.domain.policy import (
    RejectRules,
    fails_batch,
    quarantine_reason,
    share_of,
)
from shopflow_validator.domain.report import file_report, report_json
from shopflow_validator.ports import ObjectStore, SqlEngine

log = logging.getLogger("shopflow.validator")

PARQUET_TYPE = "application/vnd.apache.parquet"
CSV_TYPE = "text/csv; charset=utf-8"
JSON_TYPE = "application/json"
TOP_REASONS = 5
# The header of the last accepted file of each kind (schema drift); under reports/, which
# the validator writes anyway, and not a *.report.json, so no report reader lists it.
ACCEPTED_HEADERS_KEY = "reports/schema/last-accepted-headers.json"


@dataclass(frozen=True)
class HandlerConfig:
    data_bucket: str
    reject_threshold: Decimal = Decimal("0.5")
    reject_policy: RejectPolicy = "quarantine"
    # Where downloads and outputs are kept while a command runs; the system temp if None.
    work_dir: Path | None = None
    validation: ValidationConfig = field(default_factory=ValidationConfig)

    @property
    def reject_rules(self) -> RejectRules:
        return RejectRules(policy=self.reject_policy, threshold=self.reject_threshold)


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
    return unique_stems([staged.key for staged in files])


@dataclass(frozen=True)
class _Decided:
    """One file of the batch with what was decided about it."""

    staged: StagedFile
    result: FileValidationResult
    keys: OutputKeys
    quarantine: QuarantineReason | None
    changes: list[SchemaChange]

    @property
    def applied(self) -> bool:
        return self.quarantine is None and self.result.accepted_path is not None


class ValidateHandler:
    def __init__(
        self,
        store: ObjectStore,
        config: HandlerConfig,
        clock: Callable[[], datetime] = utc_now,
        new_message_id: Callable[[], UUID] = uuid4,
        *,
        engine: SqlEngine,
    ) -> None:
        self._store = store
        self._engine = engine
        self._config = config
        self._clock = clock
        self._new_message_id = new_message_id

    def handle(self, command: ValidateCommand) -> ValidateResult:
        request = command.payload
        rules = self._config.reject_rules.overridden(request.policy)
        self._check_staged(request.files)
        stems = batch_stems(request.files)
        work_root = self._config.work_dir
        if work_root is not None:
            work_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="validate-", dir=work_root) as work_name:
            results = self._validate(request.files, stems, Path(work_name), rules)
            remembered = self._accepted_headers()
            decided, headers = self._decide(
                request.batch_id, request.files, results, rules, remembered
            )
            failing = [item.result for item in decided if fails_batch(item.result, rules)]
            policy = AppliedPolicy(
                reject_policy=rules.policy,
                reject_threshold=rules.threshold,
                money=self._config.validation.money,
            )
            for item in decided:
                self._upload_findings(request.batch_id, item, policy, published=not failing)
            if failing:
                raise TaskError(
                    TaskErrorName.VALIDATION_FAILED,
                    "; ".join(describe_failure(result, rules.threshold) for result in failing),
                    files=[result.source_key for result in failing],
                )
            quarantined = [item for item in decided if item.quarantine is not None]
            if decided and len(quarantined) == len(decided):
                raise TaskError(
                    TaskErrorName.ALL_FILES_QUARANTINED,
                    "every file of the batch was quarantined: "
                    + "; ".join(item.quarantine.message for item in quarantined if item.quarantine),
                    files=[item.staged.source_key for item in quarantined],
                )
            # Only now, with the batch's fate known, may any rows be applied; and they count
            # only once the run has written its KPIs (shopflow_contracts.storage).
            self._mark_uncommitted(request.batch_id)
            validations = [self._publish(item) for item in decided]
            fault_point("validate.after_outputs", run_id=command.run_id)
            if headers != remembered:
                self._remember_headers(headers)
        outcome = ValidationOutcome(
            batch_id=request.batch_id,
            files=validations,
            curated=[item.curated for item in validations if item.curated is not None],
            status="partial" if quarantined else "complete",
            quarantined=[_quarantined(item) for item in quarantined],
            schema_changes=[
                FileSchemaChanges(
                    kind=item.result.kind, source_key=item.staged.source_key, changes=item.changes
                )
                for item in decided
                if item.changes
            ],
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
        self, files: list[StagedFile], stems: list[str], work: Path, rules: RejectRules
    ) -> list[FileValidationResult]:
        def fetch(index: int, target: Path) -> None:
            fault_point("validate.mid_download", source_key=files[index].source_key)
            self._store.download(files[index].bucket, files[index].key, target)
            # What follows is DuckDB reading this file.
            fault_point("validate.mid_duckdb", source_key=files[index].source_key)

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
            engine=self._engine,
            applied=lambda result: quarantine_reason(result, rules) is None,
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
                    "money_rounded_rows": result.money_rounding.rows,
                    "column_warnings": sum(warning.count for warning in result.column_warnings),
                    "file_error": None if result.file_error is None else result.file_error.rule,
                },
            )
        return results

    @staticmethod
    def _decide(
        batch_id: str,
        files: list[StagedFile],
        results: list[FileValidationResult],
        rules: RejectRules,
        headers: AcceptedHeaders,
    ) -> tuple[list[_Decided], AcceptedHeaders]:
        """Each file's quarantine and schema changes, in batch order; the headers after it."""
        decided = []
        for staged, result in zip(files, results, strict=True):
            quarantine = quarantine_reason(result, rules)
            changes = schema_changes(
                result.kind, list(result.header), headers.by_kind.get(result.kind)
            )
            if quarantine is None and result.file_error is None and result.header:
                headers = headers.accepting(
                    result.kind, list(result.header), result.source_key, batch_id
                )
            keys = output_keys(batch_id, result.kind.value, result.stem)
            decided.append(_Decided(staged, result, keys, quarantine, changes))
        return decided, headers

    def _accepted_headers(self) -> AcceptedHeaders:
        body = self._store.get_bytes(self._config.data_bucket, ACCEPTED_HEADERS_KEY)
        if body is None:
            return AcceptedHeaders()
        try:
            return AcceptedHeaders.model_validate_json(body)
        except ValidationError:
            # A memory of headers only feeds a notice: an unreadable one starts afresh.
            log.warning("unreadable accepted headers, starting afresh", exc_info=True)
            return AcceptedHeaders()

    def _mark_uncommitted(self, batch_id: str) -> None:
        """Leave the batch's uncommitted marker before its first curated object.

        A marker already there is kept: it may hold the dates an earlier kpi attempt of the
        batch was writing, which a later run must recompute if this one fails too.
        """
        key = uncommitted_key(batch_id)
        if self._store.get_bytes(self._config.data_bucket, key) is not None:
            return
        marker = UncommittedBatch(batch_id=batch_id, marked_at=self._clock())
        self._store.put_bytes(
            self._config.data_bucket, key, marker.model_dump_json().encode("utf-8"), JSON_TYPE
        )

    def _remember_headers(self, headers: AcceptedHeaders) -> None:
        self._store.put_bytes(
            self._config.data_bucket,
            ACCEPTED_HEADERS_KEY,
            (headers.model_dump_json(indent=2) + "\n").encode("utf-8"),
            JSON_TYPE,
        )

    def _upload_findings(
        self, batch_id: str, item: _Decided, policy: AppliedPolicy, *, published: bool
    ) -> None:
        bucket = self._config.data_bucket
        result = item.result
        if result.rejects_path is not None:
            self._store.upload(result.rejects_path, bucket, item.keys.rejects, CSV_TYPE)
        report = file_report(
            result,
            batch_id=batch_id,
            policy=policy,
            quarantine=item.quarantine,
            schema_changes=item.changes,
            rejects_key=item.keys.rejects if result.rejects_path is not None else None,
            curated_key=item.keys.curated if published and item.applied else None,
        )
        self._store.put_bytes(bucket, item.keys.report, report_json(report), JSON_TYPE)

    def _publish(self, item: _Decided) -> FileValidation:
        staged, result, keys = item.staged, item.result, item.keys
        curated = None
        if item.applied and result.accepted_path is not None:
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
            top_reasons=_top_reasons(result),
            curated=curated,
            rejects_key=keys.rejects if result.rejects_path is not None else None,
            report_key=keys.report,
            status="accepted" if item.quarantine is None else "quarantined",
            quarantine=item.quarantine,
            rejected_share=share_of(result),
            money_rounding=result.money_rounding,
            column_warnings=list(result.column_warnings),
            schema_changes=item.changes,
            extra_columns=list(result.extra_columns),
        )


def _top_reasons(result: FileValidationResult) -> list[RejectReason]:
    return [RejectReason(rule=rule, count=count) for rule, count in result.top_reasons(TOP_REASONS)]


def _quarantined(item: _Decided) -> QuarantinedFile:
    assert item.quarantine is not None
    result = item.result
    return QuarantinedFile(
        kind=result.kind,
        source_key=item.staged.source_key,
        staged_key=item.staged.key,
        rows_in=result.rows_in,
        accepted=result.accepted,
        rejected=result.rejected,
        duplicates=result.duplicates,
        reason=item.quarantine,
        top_reasons=_top_reasons(result),
        report_key=item.keys.report,
        rejects_key=item.keys.rejects if result.rejects_path is not None else None,
    )
