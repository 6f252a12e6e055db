"""Schema drift: how a file's header differs from the last accepted file of its kind.

A new column or a missing optional one is news, not an error: it is listed in the file's
report and in the run's result. Only a missing required column is an error, and that one is
the file's own (``missing_required_column``), whatever the previous header was.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from shopflow_contracts.report import SchemaChange
from shopflow_contracts.rows import REQUIRED_COLUMNS, FileKind, canonical_header


class AcceptedHeader(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    header: list[str] = Field(description="Normalised, aliases resolved.")
    source_key: str
    batch_id: str


class AcceptedHeaders(BaseModel):
    """The validator's memory: the header of the last accepted file of each kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by_kind: dict[FileKind, AcceptedHeader] = Field(default_factory=dict)

    def accepting(
        self, kind: FileKind, header: list[str], source_key: str, batch_id: str
    ) -> AcceptedHeaders:
        entry = AcceptedHeader(
            header=canonical_header(kind, header), source_key=source_key, batch_id=batch_id
        )
        return AcceptedHeaders(by_kind={**self.by_kind, kind: entry})


def schema_changes(
    kind: FileKind, header: list[str], previous: AcceptedHeader | None
) -> list[SchemaChange]:
    """Columns added to or missing from ``header`` since ``previous`` (none without one)."""
    if previous is None or not header:
        return []
    now = canonical_header(kind, header)
    required = set(REQUIRED_COLUMNS[kind])

    def change(kind_of_change: str, column: str) -> SchemaChange:
        return SchemaChange.model_validate(
            {
                "change": kind_of_change,
                "column": column,
                "required": column in required,
                "compared_with": previous.source_key,
            }
        )

    return [change("column_added", column) for column in now if column not in previous.header] + [
        change("column_missing", column) for column in previous.header if column not in now
    ]
