"""Row schemas of the three TheLook-style CSV exports, and what counts as their header.

Conventions that apply to every file:
- An empty cell is null.
- Timestamps are ISO-8601 with ``T`` or a space between date and time (``hh:mm``, optional
  ``:ss`` and a fraction of up to 9 digits, kept to the microsecond by truncation),
  optionally followed by a zone: ``Z``, `` UTC``, ``+02``, ``+0200``, ``+02:00`` (with or
  without a space before it). A timestamp without a zone is UTC: the shop's exports are
  written in UTC, so a missing zone never means local time. A date without a time of day is
  not a timestamp (``date_without_time``).
- Money is a decimal number as numeric exports write it: digits with an optional fraction
  (``5``, ``5.``, ``.5``, ``59.990001678466797``), an optional sign (``+5``) and an optional
  exponent (``1.5E1``, ``6.0e-2``); no thousands separator. It is converted to exact cents
  from its text (never through a binary float), rounded half away from zero (``0.125`` is
  ``0.13``, as the KPI ratios round). A rounding is float noise when the text is within
  ``max(1e-6, |cents| / (2^24 - 1))`` of the cents: at most half a FLOAT32 unit in the last
  place, what a FLOAT32 or FLOAT64 rendering of an exact amount leaves (``59.990001678466797``
  is 1.7e-6 away from ``59.99``, the nearest FLOAT32); any larger rounding (a real sub-cent
  amount such as ``0.125``) is counted and listed in the file's report. (Above about 16,000 a
  third decimal place is within FLOAT32's precision, and cannot be told from noise.) With
  the validator's ``money_mode=strict`` a money cell must have at most two places instead, and
  no exponent.
- Descriptive fields (``name``, ``brand``, ``department``, ``sku``) may be blank.
- Only the columns in ``ROW_REJECTING_COLUMNS`` can reject a row (each says why); a bad
  value in any other column of a row model is nulled and counted as a column warning. A
  header column that no row model has is ignored and reported.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]

OrderStatus = Literal[
    "pending", "processing", "shipped", "complete", "delivered", "returned", "cancelled"
]
ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)

# An upload is a CSV file, plain or gzip-compressed; compression is told by these first bytes,
# never by the file name.
GZIP_MAGIC = b"\x1f\x8b"


class FileKind(StrEnum):
    ORDERS = "orders"
    ORDER_ITEMS = "order_items"
    PRODUCTS = "products"


class Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderRow(Row):
    order_id: int
    user_id: int
    status: OrderStatus
    created_at: AwareDatetime
    returned_at: AwareDatetime | None = None
    shipped_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    num_of_item: int = Field(ge=1)


class OrderItemRow(Row):
    id: int
    order_id: int
    user_id: int
    product_id: int
    status: OrderStatus
    created_at: AwareDatetime
    shipped_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    returned_at: AwareDatetime | None = None
    sale_price: Money


class ProductRow(Row):
    id: int
    cost: Money | None = None
    category: str = Field(min_length=1)
    name: str | None = None
    brand: str | None = None
    retail_price: Money | None = None
    department: str | None = None
    sku: str | None = None
    distribution_center_id: int | None = None


ROW_MODELS: dict[FileKind, type[Row]] = {
    FileKind.ORDERS: OrderRow,
    FileKind.ORDER_ITEMS: OrderItemRow,
    FileKind.PRODUCTS: ProductRow,
}

PRIMARY_KEYS: dict[FileKind, str] = {
    FileKind.ORDERS: "order_id",
    FileKind.ORDER_ITEMS: "id",
    FileKind.PRODUCTS: "id",
}

# Columns the pipeline cannot do without: keys, what the KPIs read, and what a rule needs.
# Every other column of a row model is optional in the header (a missing one reads as null),
# because exports often leave descriptive columns out.
REQUIRED_COLUMNS: dict[FileKind, tuple[str, ...]] = {
    FileKind.ORDERS: ("order_id", "user_id", "status", "created_at", "num_of_item"),
    FileKind.ORDER_ITEMS: (
        "id",
        "order_id",
        "user_id",
        "product_id",
        "status",
        "created_at",
        "sale_price",
    ),
    FileKind.PRODUCTS: ("id", "category"),
}

# The columns whose bad value (or empty value, where required) rejects the row, and why:
# what a KPI reads, a key, or what a rule needs. Every other row model column is kept
# nullable: an invalid cell there becomes null in the curated data, counted per column.
ROW_REJECTING_COLUMNS: dict[FileKind, dict[str, str]] = {
    FileKind.ORDERS: {
        "order_id": "the primary key; items join their order by it",
        "user_id": "unique_customers counts it; an item must name its order's user_id",
        "status": "cancelled orders count nowhere (status vocabulary rule)",
        "created_at": "its UTC date is the order_date of every KPI",
        "returned_at": "rules returned_before_created and returned_without_returned_at",
        "shipped_at": "rule shipped_before_created",
        "delivered_at": "rule delivered_before_created",
        "num_of_item": "rule num_of_item_below_one, and the batch's num_of_item check",
    },
    FileKind.ORDER_ITEMS: {
        "id": "the primary key",
        "order_id": "an item counts on its order's date",
        "user_id": "rule user_mismatch (the item must name its order's user_id)",
        "product_id": "an item's category is its product's",
        "status": "returned items make the return rates (status vocabulary rule)",
        "created_at": "the rules comparing shipped_at, delivered_at and returned_at with it",
        "shipped_at": "rule shipped_before_created",
        "delivered_at": "rule delivered_before_created",
        "returned_at": "rules returned_before_created and returned_without_returned_at",
        "sale_price": "total_revenue and daily_revenue sum it",
    },
    FileKind.PRODUCTS: {
        "id": "the primary key; items join their product by it",
        "category": "the category KPIs group by it",
    },
}

# Other names exports give a row model column (header name -> column).
COLUMN_ALIASES: dict[FileKind, dict[str, str]] = {
    FileKind.ORDERS: {},
    FileKind.ORDER_ITEMS: {},
    FileKind.PRODUCTS: {"product_distribution_center_id": "distribution_center_id"},
}

# Most specific first: used to break ties when a header half-matches several kinds.
_RECOGNITION_ORDER = (FileKind.ORDER_ITEMS, FileKind.ORDERS, FileKind.PRODUCTS)


def columns_of(kind: FileKind) -> tuple[str, ...]:
    """Every column the curated data keeps for ``kind``, in schema order."""
    return tuple(ROW_MODELS[kind].model_fields)


def normalise_header(cells: list[str]) -> list[str]:
    """Header cells as compared: BOM and surrounding blanks removed, lower case."""
    return [cell.replace("\ufeff", "").strip().strip('"').strip().lower() for cell in cells]


def recognise_kind(header: list[str]) -> FileKind | None:
    """The kind of file a header belongs to, or None when it resembles none.

    The kind is the one sharing the largest share of its columns with the header (at least
    half of its required ones), so a file that lost a required column is still recognised
    and can be rejected for exactly that, rather than as "unknown".
    """
    present = set(normalise_header(header))
    best: FileKind | None = None
    best_score = 0.0
    for kind in _RECOGNITION_ORDER:
        required = set(REQUIRED_COLUMNS[kind])
        if len(required & present) * 2 < len(required):
            continue
        score = len(set(columns_of(kind)) & present) / len(columns_of(kind))
        if score > best_score:
            best, best_score = kind, score
    return best


def canonical_header(kind: FileKind, header: list[str]) -> list[str]:
    """Header cells normalised, and aliases of ``kind``'s columns replaced by the column."""
    aliases = COLUMN_ALIASES[kind]
    return [aliases.get(name, name) for name in normalise_header(header)]


def missing_columns(kind: FileKind, header: list[str]) -> list[str]:
    present = set(canonical_header(kind, header))
    return [column for column in REQUIRED_COLUMNS[kind] if column not in present]


def parse_timestamp(text: str) -> datetime:
    """Parse an export timestamp; zone-less means UTC (see module docstring).

    Raises ``ValueError`` for what is not a timestamp, a date without a time included.
    """
    from datetime import UTC

    cleaned = text.strip()
    if len(cleaned) <= len("2025-03-30"):
        raise ValueError(f"{text!r} is a date without a time of day")
    if cleaned.endswith(" UTC"):
        cleaned = cleaned[: -len(" UTC")] + "+00:00"
    parsed = datetime.fromisoformat(cleaned.replace(" ", "T", 1))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
