"""Values the validation domain takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from shopflow_contracts.report import (
    ColumnWarning,
    MoneyMode,
    MoneyRounding,
    NulledCell,
    NumOfItemMismatch,
    RepeatedRow,
    RoundedMoney,
)
from shopflow_contracts.rows import FileKind

# How many rows of each kind a report lists by line (all are counted).
REPORT_LISTED_ROWS = 1_000


@dataclass(frozen=True)
class ValidationConfig:
    """How money is read (see ``shopflow_contracts.rows``)."""

    money: MoneyMode = "round"


@dataclass(frozen=True)
class FileError:
    """Why a whole file was rejected: ``rule`` is a short snake-case id, ``message`` for people."""

    rule: str
    message: str


@dataclass(frozen=True)
class FileValidationResult:
    """What validating one file produced, locally.

    Every row is counted exactly once: ``rows_in == accepted + rejected + duplicates +
    pending``. Rows are the data records of the file; blank lines are not rows. On a
    file-level error no row is accepted and ``rows_in`` counts the records that could be
    read. ``duplicates`` are rows identical (after normalisation) to the previous accepted
    row with the same primary key in the file; they are not written again. ``pending`` is
    always 0 here: rows whose parent is in another batch are the KPI stage's concern.
    """

    kind: FileKind
    source_key: str
    stem: str
    rows_in: int
    accepted: int
    rejected: int
    # Rule -> rejected rows, most frequent first (ties by rule name).
    rejects_by_rule: dict[str, int]
    extra_columns: tuple[str, ...]
    file_error: FileError | None
    # Typed accepted rows; None when no row was accepted.
    accepted_path: Path | None
    # ``source_key,line,rule,message,raw_line``; None when no row was rejected.
    rejects_path: Path | None
    ingest_seq: str = ""
    staged_key: str | None = None
    duplicates: int = 0
    pending: int = 0
    # Accepted rows that replace an earlier accepted row with the same key in the file.
    corrections: int = 0
    # For people; never a reason to reject (num_of_item disagreeing with the batch's items).
    warnings: tuple[str, ...] = ()
    # What the report shows beyond the counts (see shopflow_contracts.report).
    header: tuple[str, ...] = ()
    header_line: int | None = None
    gzip: bool = False
    column_aliases: dict[str, str] = field(default_factory=dict)
    duplicate_rows: tuple[RepeatedRow, ...] = ()
    correction_rows: tuple[RepeatedRow, ...] = ()
    money_rounding: MoneyRounding = field(default_factory=MoneyRounding)
    money_rounding_rows: tuple[RoundedMoney, ...] = ()
    column_warnings: tuple[ColumnWarning, ...] = ()
    column_warning_cells: tuple[NulledCell, ...] = ()
    num_of_item_mismatches: int = 0
    num_of_item_mismatch_rows: tuple[NumOfItemMismatch, ...] = ()

    def __post_init__(self) -> None:
        counts = (self.rows_in, self.accepted, self.rejected, self.duplicates, self.pending)
        if min(counts) < 0 or self.corrections < 0:
            raise ValueError(f"{self.source_key}: negative count in {counts}")
        if self.rows_in != self.accepted + self.rejected + self.duplicates + self.pending:
            raise ValueError(
                f"{self.source_key}: rows_in {self.rows_in} != accepted {self.accepted} "
                f"+ rejected {self.rejected} + duplicates {self.duplicates} "
                f"+ pending {self.pending}"
            )

    @property
    def rejected_share(self) -> Fraction:
        """Share of rows rejected, exactly; a file-level error rejects the whole file (1)."""
        if self.file_error is not None:
            return Fraction(1)
        if self.rows_in == 0:
            return Fraction(0)
        return Fraction(self.rejected, self.rows_in)

    def top_reasons(self, limit: int = 5) -> list[tuple[str, int]]:
        if self.file_error is not None and not self.rejects_by_rule:
            return [(self.file_error.rule, self.rejected)]
        return list(self.rejects_by_rule.items())[:limit]
