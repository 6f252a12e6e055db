"""What the validator checks per column, derived from the row models in ``shopflow_contracts``.

Deriving the checks from the contracts (rather than restating them) keeps the curated
Parquet and the row models from drifting apart: a new column in a row model is validated
and kept as soon as its type is one of the four below.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime
from shopflow_contracts.rows import (
    REQUIRED_COLUMNS,
    ROW_MODELS,
    ROW_REJECTING_COLUMNS,
    FileKind,
    columns_of,
)


class ColumnType(Enum):
    INTEGER = "integer"
    MONEY = "money"
    TIMESTAMP = "timestamp"
    TEXT = "text"
    # Text restricted to a fixed set of values, stored lower case (order status).
    VOCABULARY = "vocabulary"


SQL_TYPES: dict[ColumnType, str] = {
    ColumnType.INTEGER: "BIGINT",
    ColumnType.MONEY: "DECIMAL(18,2)",
    ColumnType.TIMESTAMP: "TIMESTAMPTZ",
    ColumnType.TEXT: "VARCHAR",
    ColumnType.VOCABULARY: "VARCHAR",
}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: ColumnType
    required: bool
    # Allowed values (lower case) of a VOCABULARY column; empty otherwise.
    vocabulary: tuple[str, ...] = ()
    # Whether a bad value rejects the row (ROW_REJECTING_COLUMNS); else it is nulled.
    rejects: bool = True

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


def _base_type(annotation: Any) -> Any:
    """``Money | None`` -> ``Decimal``: the optional and the constraints are checked elsewhere."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return _base_type(members[0])
    if get_origin(annotation) is Annotated:
        return _base_type(get_args(annotation)[0])
    return annotation


def _column_type(kind: FileKind, name: str, annotation: Any) -> tuple[ColumnType, tuple[str, ...]]:
    base = _base_type(annotation)
    if get_origin(base) is Literal:
        return ColumnType.VOCABULARY, tuple(str(value).lower() for value in get_args(base))
    # bool is an int subclass; no row model uses it, and it must not pass as an id.
    if base is int:
        return ColumnType.INTEGER, ()
    if base is Decimal:
        return ColumnType.MONEY, ()
    if base is datetime or base is AwareDatetime:
        return ColumnType.TIMESTAMP, ()
    if base is str:
        return ColumnType.TEXT, ()
    raise TypeError(f"{kind.value}.{name}: no validation for column type {annotation!r}")


def column_specs(kind: FileKind) -> tuple[ColumnSpec, ...]:
    """The columns of ``kind`` in schema order, with their type and whether a value is required."""
    model = ROW_MODELS[kind]
    required = set(REQUIRED_COLUMNS[kind])
    rejecting = ROW_REJECTING_COLUMNS[kind]
    specs = []
    for name in columns_of(kind):
        column_type, vocabulary = _column_type(kind, name, model.model_fields[name].annotation)
        specs.append(ColumnSpec(name, column_type, name in required, vocabulary, name in rejecting))
    return tuple(specs)
