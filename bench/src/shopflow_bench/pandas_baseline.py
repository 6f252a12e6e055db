"""The usual pandas approach, as the baseline shopflow is measured against.

What public TheLook pipelines do: ``read_csv`` each export, check the columns with
vectorised string methods, drop the rows that break a rule, then ``merge`` and ``groupby``
for the KPIs. It implements the same rules as the validator (types, required cells, status
vocabulary, money >= 0 as numeric exports write it, rounded to the cent half away from zero,
ISO-8601 timestamps in the export spellings, a date alone is no timestamp, events not before
creation, returned orders have a ``returned_at``, ``num_of_item >= 1``; a bad cell in a
column nothing needs is nulled, not a reason to drop the row) and the same KPI definitions
as ``shopflow_kpi``
(current version of a row = its last valid occurrence; cancelled orders count nowhere;
items need their order and product; ratios rounded half away from zero to 2 places).

Money is kept in integer cents (the careful version of the usual ``astype(float)``), so the
KPI tables can be compared with shopflow's to the cent: amounts with at most two places go
through a float (exact at that size), any other spelling through ``Decimal``.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS
from shopflow_contracts.rows import ORDER_STATUSES, ROW_REJECTING_COLUMNS, FileKind

INTEGER = "integer"
MONEY = "money"
TIMESTAMP = "timestamp"
TEXT = "text"
STATUS = "status"


# kind -> column -> (type, required); the columns and rules of shopflow_contracts.rows.
SCHEMAS: dict[str, dict[str, tuple[str, bool]]] = {
    "orders": {
        "order_id": (INTEGER, True),
        "user_id": (INTEGER, True),
        "status": (STATUS, True),
        "created_at": (TIMESTAMP, True),
        "returned_at": (TIMESTAMP, False),
        "shipped_at": (TIMESTAMP, False),
        "delivered_at": (TIMESTAMP, False),
        "num_of_item": (INTEGER, True),
    },
    "order_items": {
        "id": (INTEGER, True),
        "order_id": (INTEGER, True),
        "user_id": (INTEGER, True),
        "product_id": (INTEGER, True),
        "status": (STATUS, True),
        "created_at": (TIMESTAMP, True),
        "shipped_at": (TIMESTAMP, False),
        "delivered_at": (TIMESTAMP, False),
        "returned_at": (TIMESTAMP, False),
        "sale_price": (MONEY, True),
    },
    "products": {
        "id": (INTEGER, True),
        "cost": (MONEY, False),
        "category": (TEXT, True),
        "name": (TEXT, False),
        "brand": (TEXT, False),
        "retail_price": (MONEY, False),
        "department": (TEXT, False),
        "sku": (TEXT, False),
        "distribution_center_id": (INTEGER, False),
    },
}
KEYS = {"orders": "order_id", "order_items": "id", "products": "id"}
# What the KPIs need of each kind.
KPI_COLUMNS = {
    "orders": ["order_id", "user_id", "status", "created_at"],
    "order_items": ["id", "order_id", "product_id", "status", "sale_price"],
    "products": ["id", "category"],
}

INTEGER_RE = r"[+-]?[0-9]+"
MONEY_RE = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
CENTS_RE = r"[+-]?[0-9]{1,16}(?:\.[0-9]{0,2})?"
LARGEST_CENTS = 10**18 - 1
TIMESTAMP_RE = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r" ?(?:Z|UTC|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
INT64_MAX_DIGITS = 18


@dataclass
class Validated:
    """One file's accepted rows (typed) and how many rows it had."""

    kind: str
    rows_in: int
    frame: pd.DataFrame

    @property
    def accepted(self) -> int:
        return len(self.frame)


def kind_of(header: Sequence[str]) -> str:
    names = {str(name).strip().lower() for name in header}
    for kind in ("order_items", "orders", "products"):
        required = {c for c, (_, needed) in SCHEMAS[kind].items() if needed}
        if required <= names:
            return kind
    raise ValueError(f"unrecognised header: {list(header)}")


def _integer(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    ok = text.str.fullmatch(INTEGER_RE) & (text.str.lstrip("+-").str.len() <= INT64_MAX_DIGITS)
    value = pd.to_numeric(text.where(ok, None), errors="coerce").astype("Int64")
    return value, ok


def _exact_cents(text: str) -> int | None:
    cents = int(Decimal(text).scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return cents if abs(cents) <= LARGEST_CENTS else None


def _money_cents(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    plain = text.str.fullmatch(CENTS_RE)
    # Exact for any amount under 2**53 cents: x * 100 lands within 1e-6 of an integer.
    cents = (pd.to_numeric(text.where(plain, None), errors="coerce") * 100).round().astype("Int64")
    other = text.str.fullmatch(MONEY_RE) & ~plain
    if other.any():
        cents[other] = pd.array(text[other].map(_exact_cents).tolist(), dtype="Int64")
    return cents, (plain | other) & cents.notna()


def _timestamp(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    ok = text.str.fullmatch(TIMESTAMP_RE)
    cleaned = (
        text.where(ok, None)
        .str.replace(r" ?(?:UTC|Z)$", "", regex=True)
        .str.replace(r" (?=[+-][0-9]{2}(?::?[0-9]{2})?$)", "", regex=True)
    )
    # Zone-less means UTC; an impossible date (30 February) becomes NaT.
    value = pd.to_datetime(cleaned, format="ISO8601", utc=True, errors="coerce")
    return value, ok & value.notna()


def validate_frame(kind: str, raw: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``raw`` (all cells text) that keep every rule, typed; money in cents."""
    raw.columns = [str(c).replace("\ufeff", "").strip().strip('"').strip().lower() for c in raw]
    schema = SCHEMAS[kind]
    rejecting = ROW_REJECTING_COLUMNS[FileKind(kind)]
    if kind == "products":
        raw = raw.rename(columns={"product_distribution_center_id": "distribution_center_id"})
    last = raw.columns[-1]
    # Too few fields: read_csv pads the row with NaN (a blank cell reads as "").
    good = raw[last].notna()
    typed: dict[str, Any] = {}
    for column, (column_type, required) in schema.items():
        if column not in raw:
            if required:
                raise ValueError(f"{kind}: required column {column} missing")
            continue
        text = raw[column].fillna("").str.strip(" \t")
        blank = text == ""
        if required:
            good &= ~blank
        if column_type == INTEGER:
            value, ok = _integer(text)
        elif column_type == MONEY:
            value, ok = _money_cents(text)
            ok &= ~(value < 0).fillna(False)
        elif column_type == TIMESTAMP:
            value, ok = _timestamp(text)
        elif column_type == STATUS:
            value = text.str.lower()
            ok = value.isin(ORDER_STATUSES)
        else:
            value, ok = text.where(~blank, None), pd.Series(True, index=text.index)
        if column in rejecting:
            good &= ok | blank
        else:
            # Nothing needs this column: a bad cell is nulled and the row kept.
            value = value.where(ok | blank, None)
        typed[column] = value
    frame = pd.DataFrame(typed)
    if "num_of_item" in frame:
        good &= ~(frame["num_of_item"] < 1).fillna(False)
    for event in ("shipped_at", "delivered_at", "returned_at"):
        if event in frame:
            good &= ~(frame[event] < frame["created_at"]).fillna(False)
    if "returned_at" in frame:
        good &= ~((frame["status"] == "returned") & frame["returned_at"].isna())
    return frame[good.astype(bool)]


def read_and_validate(path: Path) -> Validated:
    raw = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        on_bad_lines="skip",
        encoding="utf-8-sig",
    )
    kind = kind_of(list(raw.columns))
    rows_in = len(raw)
    frame = validate_frame(kind, raw)
    return Validated(kind, rows_in, frame)


def validate_files(paths: Sequence[Path]) -> list[Validated]:
    return [read_and_validate(path) for path in paths]


def current_tables(validated: Sequence[Validated]) -> dict[str, pd.DataFrame]:
    """Per kind, the KPI columns of the current version of each row (the last valid one)."""
    tables: dict[str, pd.DataFrame] = {}
    for kind in SCHEMAS:
        frames = [v.frame[KPI_COLUMNS[kind]] for v in validated if v.kind == kind]
        if frames:
            table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        else:
            table = pd.DataFrame({c: pd.Series(dtype="object") for c in KPI_COLUMNS[kind]})
        tables[kind] = table.drop_duplicates(subset=KEYS[kind], keep="last")
    return tables


def save_tables(tables: dict[str, pd.DataFrame], target: Path) -> None:
    with target.open("wb") as handle:
        pickle.dump(tables, handle, protocol=pickle.HIGHEST_PROTOCOL)


def load_tables(source: Path) -> dict[str, pd.DataFrame]:
    with source.open("rb") as handle:
        tables: dict[str, pd.DataFrame] = pickle.load(handle)  # noqa: S301 (our own file)
    return tables


def _hundredths(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator in hundredths, rounded half away from zero (both >= 0);
    ``numerator`` is itself in hundredths."""
    num = numerator.astype("int64")
    den = denominator.astype("int64")
    return (2 * num + den) // (2 * den)


def _two_places(hundredths: pd.Series) -> pd.Series:
    values = hundredths.astype("int64")
    return (values // 100).astype(str) + "." + (values % 100).astype(str).str.zfill(2)


def compute_kpis(
    tables: dict[str, pd.DataFrame],
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(day rows, category rows), values formatted as strings, sorted by key."""
    orders = tables["orders"]
    orders = orders[orders["status"] != "cancelled"].copy()
    orders["order_date"] = orders["created_at"].dt.strftime("%Y-%m-%d")
    orders = orders[["order_id", "user_id", "order_date"]]
    products = tables["products"][["id", "category"]].rename(columns={"id": "product_id"})
    items = tables["order_items"].merge(orders[["order_id", "order_date"]], on="order_id")
    items = items.merge(products, on="product_id")
    items["returned"] = items["status"] == "returned"
    items["cents"] = items["sale_price"].astype("int64")

    per_order = items.groupby("order_id").agg(
        items=("id", "size"), cents=("cents", "sum"), returned=("returned", "any")
    )
    placed = orders.merge(per_order, left_on="order_id", right_index=True, how="left")
    placed["items"] = placed["items"].fillna(0).astype("int64")
    placed["cents"] = placed["cents"].fillna(0).astype("int64")
    placed["returned"] = placed["returned"].astype("boolean").fillna(False).astype("int64")
    day = (
        placed.groupby("order_date")
        .agg(
            total_orders=("order_id", "size"),
            cents=("cents", "sum"),
            total_items_sold=("items", "sum"),
            returned=("returned", "sum"),
            unique_customers=("user_id", "nunique"),
        )
        .reset_index()
        .sort_values("order_date")
    )
    day["total_revenue"] = _two_places(day["cents"])
    day["return_rate"] = _two_places(_hundredths(10000 * day["returned"], day["total_orders"]))

    per_category_order = items.groupby(["order_date", "category", "order_id"]).agg(
        cents=("cents", "sum"), returned=("returned", "any")
    )
    per_category_order["returned"] = per_category_order["returned"].astype("int64")
    category = (
        per_category_order.groupby(["order_date", "category"])
        .agg(cents=("cents", "sum"), orders=("cents", "size"), returned=("returned", "sum"))
        .reset_index()
        .sort_values(["category", "order_date"])
    )
    category["daily_revenue"] = _two_places(category["cents"])
    category["avg_order_value"] = _two_places(_hundredths(category["cents"], category["orders"]))
    category["avg_return_rate"] = _two_places(
        _hundredths(10000 * category["returned"], category["orders"])
    )
    return _records(day, DAY_KPI_COLUMNS), _records(category, CATEGORY_KPI_COLUMNS)


def _records(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, str]]:
    as_text = frame[list(columns)].astype(str)
    return [dict(zip(columns, row, strict=True)) for row in as_text.itertuples(index=False)]
