"""The validation report of one file, and the pieces of it the run's messages carry too.

The validator writes one ``ValidationReport`` per validated file, as JSON, to
``reports/batch=<batch_id>/<stem>.report.json`` in the data bucket; ``shopflow report`` and
the HTTP API read it back with this model. ``FileValidation`` (in ``messages``) carries the
per-file summary of the same facts (status, quarantine reason, money rounding, column
warnings, schema changes) so the state machine can announce them without reading S3.

Changes to this module are additive only: readers of older reports rely on every field
they know keeping its meaning.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, model_validator

from shopflow_contracts.envelope import Contract
from shopflow_contracts.rows import FileKind

Accounting = Literal["rows_in == accepted + rejected + duplicates + pending"]
ACCOUNTING: Accounting = "rows_in == accepted + rejected + duplicates + pending"
LINE_NUMBERING = (
    "line is the 1-based physical line of the decompressed file on which the record starts "
    "(CR LF and LF each end a line; blank lines count as lines but are not rows); raw_line "
    "is the record's exact text without its line terminator and without a BOM"
)

# What a file whose rejected share is over the threshold does: it is set aside alone
# (``quarantine``, the rest of the batch carries on) or it fails the whole batch.
RejectPolicy = Literal["quarantine", "fail_batch"]
# ``round``: money with more than two places is rounded to the cent, half away from zero;
# ``strict``: such money breaks ``invalid_money`` (the behaviour before real exports).
MoneyMode = Literal["round", "strict"]
FileStatus = Literal["accepted", "quarantined"]


class QuarantineReason(Contract):
    """Why none of a file's rows reach the curated data."""

    cause: Literal["file_error", "reject_threshold"] = Field(
        description="file_error: the file could not be read as a file of its kind; "
        "reject_threshold: too large a share of its rows was rejected."
    )
    message: str = Field(min_length=1, description="One sentence: file, counts, reasons.")
    rejected_share: Decimal = Field(
        ge=0, le=1, description="Rows rejected / rows_in, rounded to 6 places (1 on a file error)."
    )
    threshold: Decimal = Field(ge=0, le=1, description="The reject threshold in force.")


class ColumnWarning(Contract):
    """Cells of a column no KPI and no rule needs that were invalid: nulled, rows kept."""

    column: str
    rule: str = Field(description="The rule the cells broke, e.g. invalid_money:cost.")
    count: int = Field(ge=1, description="Cells nulled in this file.")


class MoneyRounding(Contract):
    """Money cells rounded to the cent by more than float noise (a real sub-cent amount).

    Float noise is the difference a FLOAT32/FLOAT64 rendering of an exact cent amount
    leaves (``59.990001678466797`` is ``59.99``); see ``shopflow_contracts.rows``.
    """

    rows: int = Field(default=0, ge=0, description="Rows with at least one such cell.")
    by_column: dict[str, int] = Field(default_factory=dict, description="Column -> cells.")


class SchemaChange(Contract):
    """How a file's header differs from the last accepted file of its kind."""

    change: Literal["column_added", "column_missing"]
    column: str
    required: bool = Field(
        description="A missing required column is also the file's error (it is quarantined)."
    )
    compared_with: str | None = Field(
        description="source_key of the last accepted file of the kind (None: none yet)."
    )


class FileError(Contract):
    """Why a file was rejected as a whole."""

    rule: str = Field(min_length=1)
    message: str = Field(min_length=1)


class RepeatedRow(Contract):
    """A row whose key an earlier accepted row of the same file had."""

    line: int = Field(ge=1)
    key: int
    of_line: int = Field(
        ge=1,
        description="Duplicate: the line of the first of the equal rows; correction: the "
        "line of the version it replaces.",
    )


class RoundedMoney(Contract):
    """One money cell rounded by more than float noise."""

    line: int = Field(ge=1)
    column: str
    text: str = Field(description="The cell as written (quoted up to 80 characters).")
    value: Decimal = Field(description="What the curated data holds: exact cents.")


class NulledCell(Contract):
    """One cell nulled under a column warning."""

    line: int = Field(ge=1)
    column: str
    rule: str
    message: str


class NumOfItemMismatch(Contract):
    """An order whose ``num_of_item`` differs from its items in the batch (a warning)."""

    line: int = Field(ge=1)
    order_id: int
    num_of_item: int
    items_in_batch: int = Field(ge=0)


class AppliedPolicy(Contract):
    """The settings in force when the file was validated (after any per-command override)."""

    reject_policy: RejectPolicy
    reject_threshold: Decimal = Field(ge=0, le=1)
    money: MoneyMode


class ValidationReport(Contract):
    """Everything validation found about one file. ``rows_in == accepted + rejected +
    duplicates + pending`` always holds; a quarantined file's ``accepted`` rows are the rows
    that passed every rule, none of which reached the curated data."""

    report_version: Literal[1] = 1
    batch_id: str
    kind: FileKind
    source_key: str
    staged_key: str | None = None
    ingest_seq: str
    status: FileStatus
    quarantine: QuarantineReason | None = None
    policy: AppliedPolicy
    gzip: bool
    header_line: int | None = Field(description="Line of the header; None when none was read.")
    header: list[str] = Field(description="The header's cells as written.")
    accounting: Accounting = ACCOUNTING
    rows_in: int = Field(ge=0)
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    duplicates: int = Field(ge=0)
    pending: int = Field(ge=0)
    corrections: int = Field(
        ge=0, description="Accepted rows replacing an earlier accepted row of the file."
    )
    rejected_share: Decimal = Field(ge=0, le=1, description="Rounded to 6 places.")
    rejects_by_rule: dict[str, int] = Field(description="Most frequent first.")
    file_error: FileError | None = None
    primary_key: str
    listed_rows_limit: int = Field(ge=0, description="How many rows each listing holds at most.")
    duplicate_rows: list[RepeatedRow]
    correction_rows: list[RepeatedRow]
    money_rounding: MoneyRounding
    money_rounding_rows: list[RoundedMoney] = Field(description="The first of them, by line.")
    column_warnings: list[ColumnWarning]
    column_warning_cells: list[NulledCell] = Field(description="The first of them, by line.")
    extra_columns_ignored: list[str]
    column_aliases: dict[str, str] = Field(
        default_factory=dict, description="Header name -> the row model column it was read as."
    )
    schema_changes: list[SchemaChange]
    num_of_item_mismatches: int = Field(default=0, ge=0)
    num_of_item_mismatch_rows: list[NumOfItemMismatch] = Field(default_factory=list)
    warnings: list[str] = Field(description="For people; never a reason to reject a row.")
    line_numbering: str = LINE_NUMBERING
    rejects_key: str | None = Field(description="The rejected rows (CSV), None when none.")
    curated_key: str | None = Field(description="The accepted rows (Parquet), None when none.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        counted = self.accepted + self.rejected + self.duplicates + self.pending
        if self.rows_in != counted:
            raise ValueError(f"rows_in {self.rows_in} != {ACCOUNTING.split('== ')[1]} {counted}")
        if sum(self.rejects_by_rule.values()) != self.rejected:
            raise ValueError("rejects_by_rule does not add up to rejected")
        if (self.status == "quarantined") != (self.quarantine is not None):
            raise ValueError("a quarantined file, and only one, has a quarantine reason")
        if self.status == "quarantined" and self.curated_key is not None:
            raise ValueError("a quarantined file has no curated output")
        return self
