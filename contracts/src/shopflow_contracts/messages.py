"""Every message that crosses a process boundary in shopflow.

Flow of one run (one batch of uploads):

    arrivals queue --S3ObjectCreated--> loader (trigger) --BatchExecutionInput--> Step Functions
    Step Functions --LoadCommand--> loader --LoadResult--> Step Functions
    Step Functions --BatchStaged (events:putEvents)--> event bus
    Step Functions --ValidateCommand--> validator --ValidateResult--> Step Functions
    Step Functions --KpiCommand--> kpi --KpiResult--> Step Functions
    Step Functions --RunSucceeded | RunPartial | RunFailed--> SNS

A worker that cannot do its work answers ``SendTaskFailure`` with ``error`` set to a
``TaskErrorName`` and ``cause`` set to a serialised ``TaskFailure``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from shopflow_contracts.envelope import Contract, Envelope
from shopflow_contracts.report import (
    ColumnWarning,
    FileStatus,
    MoneyRounding,
    QuarantineReason,
    RejectPolicy,
    SchemaChange,
)
from shopflow_contracts.rows import FileKind

# Execution names: letters, digits, '-' and '_' only, at most 80 characters.
BatchId = str
BATCH_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"
Stage = Literal["load", "validate", "kpi"]


class LandedObject(Contract):
    """An object that landed in the bucket, as the upload event described it."""

    bucket: str = Field(min_length=3)
    key: str = Field(min_length=1)
    size: int = Field(ge=0)
    etag: str
    sequencer: str = Field(description="S3's per-key ordering of writes (hex string).")
    event_time: AwareDatetime
    event_id: str = Field(description="The EventBridge event id; identical on re-delivery.")
    version_id: str | None = Field(
        default=None,
        description="The S3 version this upload created (the bucket is versioned): the loader "
        "reads and stages exactly these bytes, even after a later upload to the same key.",
    )

    @property
    def arrival_id(self) -> str:
        """Identity of this upload event: the same on re-delivery, different for any new upload.

        The event id alone would do on AWS; the emulator gives every S3 event the same id, so
        the id is combined with what the event says about the object and its time, and with
        the version the upload created (the same bytes uploaded twice to one key within a
        second differ only by it: the soak found the second taken for a redelivery).
        """
        import hashlib

        identity = "\n".join(
            (
                self.event_id,
                self.bucket,
                self.key,
                self.etag,
                self.sequencer,
                self.event_time.isoformat(),
                *(() if self.version_id is None else (self.version_id,)),
            )
        )
        return hashlib.sha256(identity.encode()).hexdigest()[:32]


class WaitSeconds(Contract):
    """Lengths of the two Wait states; 30 s and 40 s in production, 0 locally and in tests."""

    check_data_loaded: int = Field(ge=0, le=3600)
    wait_for_eventbridge: int = Field(ge=0, le=3600)


class BatchExecutionInput(Contract):
    """Input of one state machine execution: the batch of landed objects it processes."""

    batch_id: BatchId = Field(pattern=BATCH_ID_PATTERN)
    objects: list[LandedObject] = Field(min_length=1)
    waits: WaitSeconds


# --- LoadData -------------------------------------------------------------------------


class LoadRequest(Contract):
    batch_id: BatchId
    objects: list[LandedObject] = Field(min_length=1)


class StagedFile(Contract):
    """A landed file copied into the raw area of its batch, with what it was recognised as."""

    kind: FileKind
    source_bucket: str
    source_key: str
    bucket: str
    key: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    etag: str
    ingest_seq: str = Field(
        description="Total order of uploads (event time + S3 sequencer + key): a later "
        "upload of a row with the same primary key replaces an earlier one."
    )


class SkippedFile(Contract):
    """A landed file that is not staged, and why (an identical earlier upload, say)."""

    source_bucket: str
    source_key: str
    reason: Literal["duplicate_content", "unrecognised_header", "empty_file"]
    detail: str
    first_seen_batch_id: str | None = None


class LoadOutcome(Contract):
    batch_id: BatchId
    staged: list[StagedFile]
    skipped: list[SkippedFile]


# --- ValidateData ---------------------------------------------------------------------


class ValidationPolicy(Contract):
    """A per-command override of the validator's settings; a field left None keeps them."""

    reject_policy: RejectPolicy | None = None
    reject_threshold: Decimal | None = Field(default=None, ge=0, le=1)


class ValidateRequest(Contract):
    batch_id: BatchId
    files: list[StagedFile]
    policy: ValidationPolicy | None = Field(
        default=None, description="Overrides the settings for this command (a reprocess)."
    )


class RejectReason(Contract):
    rule: str
    count: int = Field(ge=0)


class CuratedFile(Contract):
    """Accepted rows of one staged file, in the curated area (Parquet)."""

    kind: FileKind
    bucket: str
    key: str
    rows: int = Field(ge=0)
    source_key: str
    ingest_seq: str


class FileValidation(Contract):
    """What validation made of one file.

    Every row is counted exactly once: ``rows_in == accepted + rejected + duplicates +
    pending``. ``duplicates`` are rows identical to one already accepted (they count once);
    ``pending`` are rows held until a row they depend on arrives. A ``quarantined`` file has
    no ``curated`` output: its counts say what validation found, none of its rows is applied.
    """

    kind: FileKind
    source_key: str
    staged_key: str
    rows_in: int = Field(ge=0)
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    duplicates: int = Field(default=0, ge=0)
    pending: int = Field(default=0, ge=0)
    warnings: list[str] = Field(default_factory=list)
    top_reasons: list[RejectReason]
    curated: CuratedFile | None
    rejects_key: str | None
    report_key: str
    status: FileStatus = "accepted"
    quarantine: QuarantineReason | None = None
    rejected_share: Decimal = Field(default=Decimal(0), ge=0, le=1)
    money_rounding: MoneyRounding = Field(default_factory=MoneyRounding)
    column_warnings: list[ColumnWarning] = Field(default_factory=list)
    schema_changes: list[SchemaChange] = Field(default_factory=list)
    extra_columns: list[str] = Field(
        default_factory=list, description="Header columns no row model has: ignored."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.status == "quarantined") != (self.quarantine is not None):
            raise ValueError("a quarantined file, and only one, has a quarantine reason")
        if self.status == "quarantined" and self.curated is not None:
            raise ValueError("a quarantined file has no curated output")
        return self


class QuarantinedFile(Contract):
    """A file of the batch none of whose rows were applied, as a notification names it."""

    kind: FileKind
    source_key: str
    staged_key: str = Field(description="The staged copy a reprocess validates again.")
    rows_in: int = Field(ge=0)
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    duplicates: int = Field(default=0, ge=0)
    reason: QuarantineReason
    top_reasons: list[RejectReason]
    report_key: str
    rejects_key: str | None


class FileSchemaChanges(Contract):
    """How one file's header differs from the last accepted file of its kind."""

    kind: FileKind
    source_key: str
    changes: list[SchemaChange] = Field(min_length=1)


class ValidationOutcome(Contract):
    batch_id: BatchId
    files: list[FileValidation]
    curated: list[CuratedFile] = Field(
        description="Curated outputs of every accepted file that had accepted rows (the kpi "
        "input); a quarantined file has none."
    )
    status: Literal["complete", "partial"] = Field(
        default="complete", description="partial: at least one file was quarantined."
    )
    quarantined: list[QuarantinedFile] = Field(default_factory=list)
    schema_changes: list[FileSchemaChanges] = Field(
        default_factory=list,
        description="The files (accepted or quarantined) whose header changed, in batch order.",
    )

    @model_validator(mode="after")
    def _partial_names_the_quarantined(self) -> Self:
        expected = [item.source_key for item in self.files if item.status == "quarantined"]
        if [item.source_key for item in self.quarantined] != expected:
            raise ValueError("quarantined must list exactly the quarantined files, in order")
        if (self.status == "partial") != bool(expected):
            raise ValueError("status is partial exactly when a file is quarantined")
        return self


# --- ComputeKpis ----------------------------------------------------------------------


class KpiScope(Contract):
    """Which KPI rows a kpi command recomputes.

    ``apply`` (a batch of uploads or a reprocess): the dates the batch's curated files touch,
    and any date an earlier change left to do. ``recompute`` (``shopflow recompute``, after a
    definition change, say): every date from ``from_date`` to ``to_date`` (both included; an
    open end reaches the first or last date there is), from all curated data, exactly as a
    computation from scratch would give them; KPI rows of dates in the range without data are
    deleted.
    """

    mode: Literal["apply", "recompute"] = "apply"
    from_date: date | None = None
    to_date: date | None = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.mode == "apply" and (self.from_date or self.to_date):
            raise ValueError("only a recompute has a date range")
        if self.from_date and self.to_date and self.from_date > self.to_date:
            raise ValueError(f"from_date {self.from_date} is after to_date {self.to_date}")
        return self


class KpiRequest(Contract):
    batch_id: BatchId
    curated: list[CuratedFile]
    scope: KpiScope = Field(
        default_factory=KpiScope, description="Which dates to recompute (default: apply)."
    )


class SettledFile(Contract):
    """What the kpi stage, which sees all data, found about one curated file of the batch.

    ``duplicates``: rows identical to the version of their key accepted before (from
    another file; the validator counts repeats within a file). ``pending``: items waiting
    for their order or product. Both are part of the file's accepted rows until here.
    """

    source_key: str
    curated_key: str
    duplicates: int = Field(default=0, ge=0)
    pending: int = Field(default=0, ge=0)


class KpiOutcome(Contract):
    batch_id: BatchId
    order_dates: list[date] = Field(description="Dates whose KPI rows this run recomputed.")
    day_rows_written: int = Field(ge=0)
    category_rows_written: int = Field(ge=0)
    pending_items: int = Field(
        default=0, ge=0, description="Items, over all batches, waiting for their order/product."
    )
    released_items: int = Field(
        default=0, ge=0, description="Items whose missing order/product arrived in this run."
    )
    orphaned_items: int = Field(
        default=0, ge=0, description="Pending items still waiting after the grace period."
    )
    settled_files: list[SettledFile] = Field(default_factory=list)
    pending_report_key: str | None = None


# --- Other runs: reprocess and recompute ---------------------------------------------


RunKind = Literal["upload", "reprocess", "recompute"]


class RunPlan(Contract):
    """What kind of run an execution is and what its stages do differently (``$.run``).

    The state machine's first state routes by it: an upload batch (no ``run`` in its input;
    the state machine adds this plan's defaults) starts at LoadData, a reprocess at
    ValidateData, a recompute at ComputeKpis; from there every run goes through the same
    states, the same KPI lease and the same notifications, which name the kind.
    """

    kind: RunKind
    policy: ValidationPolicy = Field(
        default_factory=ValidationPolicy,
        description="Overrides of the validator's settings (a reprocess's new threshold).",
    )
    kpi_scope: KpiScope = Field(default_factory=KpiScope)


class ReprocessExecutionInput(Contract):
    """Input of an execution that validates staged files again (``shopflow reprocess``).

    The files are the byte-exact staged copies of earlier uploads, with their original
    ``ingest_seq``: their rows keep their place in the order of uploads, so a correction
    uploaded since still wins. Nothing is uploaded again.
    """

    batch_id: BatchId = Field(pattern=BATCH_ID_PATTERN)
    run: RunPlan
    files: list[StagedFile] = Field(min_length=1)
    reprocessed_from: list[BatchId] = Field(
        default_factory=list, description="The runs that quarantined the files."
    )

    @model_validator(mode="after")
    def _a_reprocess(self) -> Self:
        if self.run.kind != "reprocess" or self.run.kpi_scope.mode != "apply":
            raise ValueError("a reprocess input has a reprocess plan applying its KPIs")
        return self


class RecomputeExecutionInput(Contract):
    """Input of an execution that recomputes the KPI rows of a date range
    (``shopflow recompute``) from the curated data, under the same lease as every run."""

    batch_id: BatchId = Field(pattern=BATCH_ID_PATTERN)
    run: RunPlan

    @model_validator(mode="after")
    def _a_recompute(self) -> Self:
        if self.run.kind != "recompute" or self.run.kpi_scope.mode != "recompute":
            raise ValueError("a recompute input has a recompute plan with a recompute scope")
        return self


# --- Envelopes ------------------------------------------------------------------------


class LoadCommand(Envelope[LoadRequest]):
    message_type: Literal["shopflow.load.command"] = "shopflow.load.command"


class LoadResult(Envelope[LoadOutcome]):
    message_type: Literal["shopflow.load.result"] = "shopflow.load.result"


class ValidateCommand(Envelope[ValidateRequest]):
    message_type: Literal["shopflow.validate.command"] = "shopflow.validate.command"


class ValidateResult(Envelope[ValidationOutcome]):
    message_type: Literal["shopflow.validate.result"] = "shopflow.validate.result"


class KpiCommand(Envelope[KpiRequest]):
    message_type: Literal["shopflow.kpi.command"] = "shopflow.kpi.command"


class KpiResult(Envelope[KpiOutcome]):
    message_type: Literal["shopflow.kpi.result"] = "shopflow.kpi.result"


# --- Failures -------------------------------------------------------------------------


class TaskErrorName(StrEnum):
    """Error names a worker reports with SendTaskFailure; the state machine catches by name.

    ``Transient*`` errors are retried with backoff by the state machine; the others are
    about the data or the message and would fail the same way again.
    """

    INVALID_MESSAGE = "shopflow.InvalidMessage"
    UNRECOGNISED_FILE = "shopflow.UnrecognisedFile"
    STAGED_OBJECT_MISSING = "shopflow.StagedObjectMissing"
    VALIDATION_FAILED = "shopflow.ValidationFailed"
    # Every file of the batch was quarantined: nothing is left to compute KPIs from.
    ALL_FILES_QUARANTINED = "shopflow.AllFilesQuarantined"
    TRANSIENT = "shopflow.TransientError"


class TaskFailure(Contract):
    """The ``cause`` of a SendTaskFailure, as JSON."""

    error: TaskErrorName
    reason: str = Field(min_length=1)
    run_id: str
    stage: Stage
    files: list[str] = Field(default_factory=list, description="Object keys concerned.")


# --- Notifications (published by the state machine to SNS) ----------------------------


class _RunCompleted(Contract):
    """What every run that wrote its KPIs announces."""

    run_id: str
    batch_id: BatchId
    order_dates: list[date]
    day_rows_written: int
    category_rows_written: int
    pending_items: int
    orphaned_items: int
    schema_changes: list[FileSchemaChanges] = Field(
        default_factory=list,
        description="The files of the batch whose header differs from the last accepted "
        "file of their kind, and how.",
    )
    run_kind: RunKind = Field(
        default="upload", description="upload (a batch of uploads), reprocess or recompute."
    )


class RunSucceeded(_RunCompleted):
    """Every file of the batch was applied (rows rejected within the threshold aside)."""

    outcome: Literal["succeeded"]


class RunPartial(_RunCompleted):
    """Succeeded with quarantine: the batch's good files were applied and their KPIs
    written, the files named in ``quarantined`` were set aside whole (none of their rows is
    applied; each report says why). The execution succeeds; a batch whose every file is
    quarantined fails instead (``shopflow.AllFilesQuarantined``)."""

    outcome: Literal["partial"]
    quarantined: list[QuarantinedFile] = Field(min_length=1)


class RunFailed(Contract):
    outcome: Literal["failed"]
    run_id: str
    batch_id: BatchId
    error: str = Field(description="The error name the failing state reported.")
    cause: str = Field(description="The failure detail: a TaskFailure as JSON when typed.")
    run_kind: RunKind = Field(
        default="upload", description="upload (a batch of uploads), reprocess or recompute."
    )


# --- Event published by VerifyDataInS3 -------------------------------------------------

BATCH_STAGED_SOURCE = "shopflow.pipeline"
BATCH_STAGED_DETAIL_TYPE = "Batch Staged"


class BatchStagedDetail(Contract):
    """Detail of the event announcing a staged batch on the event bus."""

    run_id: str
    batch: LoadOutcome
