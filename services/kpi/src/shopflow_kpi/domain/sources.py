"""What the KPI stage reads of each kind of curated file, derived from the row contracts.

Only the names of the columns the KPIs read are stated here; their curated types, the
primary keys and the kinds themselves come from ``shopflow_contracts.rows``. Every
``FileKind`` is either read (``KPI_INPUTS``) or deliberately not (``NOT_READ``):
tests/unit/kpi/test_kpi_sources.py fails for a kind that is neither, so a new kind is
decided on before it ever reaches a run.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime
from pydantic.fields import FieldInfo
from shopflow_contracts.rows import PRIMARY_KEYS, ROW_MODELS, FileKind

# What tells the versions of a row apart (see "Current version" in kpis.py), as the
# validator writes them next to the schema columns.
VERSION_COLUMN_TYPES = {
    "_ingest_seq": "VARCHAR",
    "_source_key": "VARCHAR",
    "_source_line": "BIGINT",
}


@dataclass(frozen=True)
class KpiInput:
    """The part of one kind's curated rows the KPIs read."""

    kind: FileKind
    key: str  # the primary key: versions of a row share it
    columns: dict[str, str]  # column -> its curated DuckDB type, schema order, versions last
    vocabulary_columns: frozenset[str]  # compared case-insensitively (statuses)


def curated_type(field: FieldInfo) -> str:
    """The DuckDB type the validator gives a row-model field in curated Parquet."""
    annotation, metadata = field.annotation, list(field.metadata)
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        metadata += [m for e in extra for m in getattr(e, "metadata", [e])]
    if get_origin(annotation) is Literal or annotation is str:
        return "VARCHAR"
    # bool is an int subclass, told apart by identity: no row model has one
    if annotation is int:
        return "BIGINT"
    if annotation is datetime or annotation is AwareDatetime:
        return "TIMESTAMPTZ"
    if annotation is Decimal:
        digits = next((m.max_digits for m in metadata if hasattr(m, "max_digits")), None)
        places = next((m.decimal_places for m in metadata if hasattr(m, "decimal_places")), None)
        if digits is not None and places is not None:
            return f"DECIMAL({digits},{places})"
    raise TypeError(f"no curated type for {field.annotation!r}")


def _input(kind: FileKind, read: tuple[str, ...]) -> KpiInput:
    fields = ROW_MODELS[kind].model_fields
    unknown = [column for column in read if column not in fields]
    if unknown:
        raise KeyError(f"the KPIs read {unknown} of {kind}, which its row model lacks")
    key = PRIMARY_KEYS[kind]
    if key not in read:
        raise KeyError(f"the KPIs must read {kind}'s primary key {key}")
    ordered = [column for column in fields if column in read]
    return KpiInput(
        kind=kind,
        key=key,
        columns={
            **{column: curated_type(fields[column]) for column in ordered},
            **VERSION_COLUMN_TYPES,
        },
        vocabulary_columns=frozenset(
            column for column in ordered if get_origin(fields[column].annotation) is Literal
        ),
    )


# The columns each kind's KPIs read (see the definitions in kpis.py).
KPI_INPUTS: dict[FileKind, KpiInput] = {
    FileKind.ORDERS: _input(FileKind.ORDERS, ("order_id", "user_id", "status", "created_at")),
    FileKind.ORDER_ITEMS: _input(
        FileKind.ORDER_ITEMS, ("id", "order_id", "user_id", "product_id", "status", "sale_price")
    ),
    FileKind.PRODUCTS: _input(FileKind.PRODUCTS, ("id", "category")),
}
# Kinds curated for other readers that no KPI depends on: never loaded by the KPI stage.
NOT_READ: frozenset[FileKind] = frozenset()
