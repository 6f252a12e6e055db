"""An independent, deliberately plain implementation of the KPIs, used to check the production SQL.

Plain Python on purpose (csv module, Decimal, Fraction; no DuckDB, no pandas): it should be
obviously right by reading, not fast. The definitions it implements are the ones in the
project brief:

- ``order_date`` is the UTC calendar date of ``orders.created_at``; an item counts on its
  order's date. Cancelled orders count nowhere. Items whose order or product is missing do not
  count.
- An order is returned in a scope when one of its counted items in that scope is ``returned``
  (day scope: all its items; category scope: its items of that category).
- Money is exact; sums keep cents; averages and rates are rounded half away from zero to two
  places.

Rows are validated like the pipeline does (the contract's row models plus the domain rules
below, money rounded to the cent half away from zero): a row invalid in a column of
``ROW_REJECTING_COLUMNS`` is skipped, an invalid cell in any other column is read as empty,
and a later valid row with the same primary key replaces the earlier one.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import IO

from pydantic import ValidationError
from shopflow_contracts.rows import (
    PRIMARY_KEYS,
    ROW_MODELS,
    ROW_REJECTING_COLUMNS,
    FileKind,
    OrderItemRow,
    OrderRow,
    ProductRow,
    Row,
    canonical_header,
    missing_columns,
    parse_timestamp,
    recognise_kind,
)

_TIMESTAMP_FIELDS = frozenset({"created_at", "shipped_at", "delivered_at", "returned_at"})
_MONEY_FIELDS = frozenset({"sale_price", "cost", "retail_price"})
_LATER_THAN_CREATED = ("shipped_at", "delivered_at", "returned_at")
# A number as numeric exports write it (see shopflow_contracts.rows).
_MONEY_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_LARGEST_MONEY = Decimal("9999999999999999.99")
_INVALID = object()


def _money_value(text: str) -> object:
    """Money text as exact cents, half away from zero; ``_INVALID`` when not a number."""
    if not _MONEY_TEXT.fullmatch(text):
        return _INVALID
    value = Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return _INVALID if abs(value) > _LARGEST_MONEY else value


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open("r", encoding="utf-8-sig", newline="")


def validate_row(kind: FileKind, header: list[str], cells: list[str]) -> Row | None:
    """The row as the pipeline would accept it, or None when it would be rejected.

    ``header`` must already be canonical (see ``canonical_header``).
    """
    if len(cells) != len(header):
        return None
    model = ROW_MODELS[kind]
    rejecting = ROW_REJECTING_COLUMNS[kind]
    values: dict[str, object] = {}
    for column, cell in zip(header, cells, strict=True):
        if column not in model.model_fields:
            continue
        text = cell.strip()
        value: object = text
        if text == "":
            value = None
        elif column in _TIMESTAMP_FIELDS:
            try:
                value = parse_timestamp(text)
            except ValueError:
                value = _INVALID
        elif column in _MONEY_FIELDS:
            value = _money_value(text)
        elif column == "status":
            value = text.lower()
        if value is _INVALID:
            if column in rejecting:
                return None
            value = None
        values[column] = value
    try:
        row = model.model_validate(values)
    except ValidationError as invalid:
        # A bad cell in a column nothing needs is read as empty; any other rejects the row.
        columns = {str(error["loc"][0]) for error in invalid.errors() if error["loc"]}
        if not columns or columns & set(rejecting):
            return None
        try:
            row = model.model_validate(values | dict.fromkeys(columns))
        except ValidationError:
            return None
    if isinstance(row, OrderRow | OrderItemRow) and not _domain_rules_hold(row):
        return None
    return row


def _domain_rules_hold(row: OrderRow | OrderItemRow) -> bool:
    for name in _LATER_THAN_CREATED:
        moment: datetime | None = getattr(row, name)
        if moment is not None and moment < row.created_at:
            return False
    return not (row.status == "returned" and row.returned_at is None)


def read_rows(path: Path) -> Iterator[tuple[FileKind, Row]]:
    """The valid rows of one file, in file order; nothing when the file is not recognised."""
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        raw_header = next(reader, None)
        if raw_header is None:
            return
        kind = recognise_kind(raw_header)
        if kind is None or missing_columns(kind, raw_header):
            return
        header = canonical_header(kind, raw_header)
        for cells in reader:
            if not cells:
                continue
            row = validate_row(kind, header, cells)
            if row is not None:
                yield kind, row


@dataclass
class _Group:
    """The orders counted in one scope (a day, or a category on a day)."""

    orders: set[int] = field(default_factory=set)
    returned_orders: set[int] = field(default_factory=set)
    customers: set[int] = field(default_factory=set)
    revenue: Decimal = Decimal("0.00")
    items: int = 0


def _cents(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):f}"


def _ratio(numerator: Fraction, denominator: int) -> str:
    """numerator / denominator rounded half away from zero (values are never negative)."""
    hundredths = numerator * 100 / denominator
    rounded = int(hundredths + Fraction(1, 2))  # int() truncates; fine for values >= 0
    return f"{rounded // 100}.{rounded % 100:02d}"


def reference_kpis(files: Iterable[Path]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(category rows, day rows) of the given files, sorted by key, values as exported."""
    tables: dict[FileKind, dict[int, Row]] = {kind: {} for kind in FileKind}
    for path in files:
        for kind, row in read_rows(Path(path)):
            tables[kind][getattr(row, PRIMARY_KEYS[kind])] = row

    orders = {
        key: row
        for key, row in tables[FileKind.ORDERS].items()
        if isinstance(row, OrderRow) and row.status != "cancelled"
    }
    products = {
        key: row for key, row in tables[FileKind.PRODUCTS].items() if isinstance(row, ProductRow)
    }

    days: dict[date, _Group] = defaultdict(_Group)
    categories: dict[tuple[str, date], _Group] = defaultdict(_Group)
    for placed in orders.values():
        day = days[placed.created_at.date()]
        day.orders.add(placed.order_id)
        day.customers.add(placed.user_id)

    for item in tables[FileKind.ORDER_ITEMS].values():
        assert isinstance(item, OrderItemRow)
        order = orders.get(item.order_id)
        product = products.get(item.product_id)
        # An item naming another customer than its order breaks a domain rule: not counted.
        if order is None or product is None or item.user_id != order.user_id:
            continue
        order_date = order.created_at.date()
        for group in (days[order_date], categories[(product.category, order_date)]):
            group.orders.add(order.order_id)
            group.revenue += item.sale_price
            group.items += 1
            if item.status == "returned":
                group.returned_orders.add(order.order_id)

    category_rows = [
        {
            "category": category,
            "order_date": order_date.isoformat(),
            "daily_revenue": _cents(group.revenue),
            "avg_order_value": _ratio(Fraction(group.revenue), len(group.orders)),
            "avg_return_rate": _ratio(
                Fraction(100 * len(group.returned_orders)), len(group.orders)
            ),
        }
        for (category, order_date), group in sorted(categories.items())
    ]
    day_rows = [
        {
            "order_date": order_date.isoformat(),
            "total_orders": str(len(group.orders)),
            "total_revenue": _cents(group.revenue),
            "total_items_sold": str(group.items),
            "return_rate": _ratio(Fraction(100 * len(group.returned_orders)), len(group.orders)),
            "unique_customers": str(len(group.customers)),
        }
        for order_date, group in sorted(days.items())
    ]
    return category_rows, day_rows
