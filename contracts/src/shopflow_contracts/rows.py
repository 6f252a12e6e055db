"""Row schemas of the three TheLook-style CSV exports, and what counts as their header.

Conventions that apply to every file:
- An empty cell is null.
- Timestamps are ISO-8601 with ``T`` or a space between date and time, optionally followed
  by a zone (``Z``, ``UTC``, ``+02:00``). A timestamp without a zone is UTC: the shop's
  exports are written in UTC, so a missing zone never means local time.
- Money is a decimal with at most two places and no thousands separator.
- Descriptive fields (``name``, ``brand``, ``department``, ``sku``) may be blank.
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


def missing_columns(kind: FileKind, header: list[str]) -> list[str]:
    present = set(normalise_header(header))
    return [column for column in REQUIRED_COLUMNS[kind] if column not in present]


def parse_timestamp(text: str) -> datetime:
    """Parse an export timestamp; zone-less means UTC (see module docstring)."""
    from datetime import UTC

    cleaned = text.strip()
    if cleaned.endswith(" UTC"):
        cleaned = cleaned[: -len(" UTC")] + "+00:00"
    parsed = datetime.fromisoformat(cleaned.replace(" ", "T", 1))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
