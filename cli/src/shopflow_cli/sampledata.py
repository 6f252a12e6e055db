"""A seeded, realistic TheLook-style sample: ``orders.csv``, ``order_items.csv``, ``products.csv``.

The sample is meant to exercise the pipeline the way a real export does, so it deliberately
contains what real exports contain: both timestamp spellings mixed, statuses in mixed case,
blank descriptive fields, quoted product names, items created just after midnight for orders
placed just before it, and a known number of broken rows. Every broken row is listed in the
manifest (file, line, column, the offending value, why it is broken, and its ``outcome``:
``rejected``, or kept with the cell ``nulled`` (a column nothing needs) or ``rounded`` to the
cent), so tests can assert that exactly the rejected ones are rejected.

Run ``python -m shopflow_cli.sampledata --out samples/thelook-small`` to regenerate the bundled
sample; the same arguments always give byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import itertools
import json
import random
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from shopflow_contracts.rows import ROW_REJECTING_COLUMNS, FileKind, columns_of

# The row schemas list the columns in the exports' own order (TheLook's headers).
ORDERS_HEADER = columns_of(FileKind.ORDERS)
ORDER_ITEMS_HEADER = columns_of(FileKind.ORDER_ITEMS)
PRODUCTS_HEADER = columns_of(FileKind.PRODUCTS)

ORDERS_FILE = "orders.csv"
ORDER_ITEMS_FILE = "order_items.csv"
PRODUCTS_FILE = "products.csv"
MANIFEST_FILE = "manifest.json"

_HEADERS: dict[str, tuple[str, ...]] = {
    ORDERS_FILE: ORDERS_HEADER,
    ORDER_ITEMS_FILE: ORDER_ITEMS_HEADER,
    PRODUCTS_FILE: PRODUCTS_HEADER,
}

_CENT = Decimal("0.01")

# category -> (product count, retail price range in whole currency units, women's share, nouns)
_CATEGORIES: dict[str, tuple[int, tuple[int, int], float, tuple[str, ...]]] = {
    "Jeans": (
        30,
        (29, 189),
        0.5,
        ("Slim Jean", "Straight Leg Jean", "Bootcut Jean", "Skinny Jean"),
    ),
    "Dresses": (26, (24, 229), 1.0, ("Wrap Dress", "Maxi Dress", "Shirt Dress", "Midi Dress")),
    "Tops & Tees": (34, (9, 69), 0.55, ("Crew Neck Tee", "V-Neck Tee", "Tank Top", "Henley")),
    "Outerwear & Coats": (22, (59, 349), 0.45, ("Parka", "Trench Coat", "Puffer Jacket", "Blazer")),
    "Accessories": (28, (6, 99), 0.6, ("Leather Belt", "Beanie", 'Sterling 18" Chain', "Scarf")),
    "Swim": (18, (14, 89), 0.8, ("Bikini Top", "One-Piece", "Swim Trunks", "Board Shorts")),
}
_BRANDS = (
    "Levi's",
    "Calvin Klein",
    "Carhartt",
    "Columbia",
    "Tommy Hilfiger",
    "Speedo",
    "Roxy",
    "Hanes",
    "Volcom",
    "Nautica",
    "Patagonia",
    "Lucky Brand",
)
_ADJECTIVES = ("Classic", "Essential", "Vintage", "Organic Cotton", "Slim Fit", "Relaxed")
_COLOURS = ("Black", "Navy", "Indigo", "Olive", "Heather Grey", "Coral", "White")

# Shares of the status an order is meant to reach; recent orders are then held back to an
# earlier status (see _timeline), which lowers "returned" a little, hence the extra weight.
_STATUS_WEIGHTS: dict[str, int] = {
    "complete": 24,
    "delivered": 14,
    "shipped": 20,
    "processing": 12,
    "pending": 6,
    "returned": 14,
    "cancelled": 8,
}
_ITEM_COUNT_WEIGHTS = {1: 55, 2: 28, 3: 12, 4: 5}
# Online shops are busiest in the evening; weights per UTC hour 0..23.
_HOUR_WEIGHTS = (3, 2, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 6, 6, 6, 6, 6, 7, 8, 9, 9, 8, 6, 4)
# One order in this many is placed a minute or two before midnight, so that every sample,
# however small, has items whose created_at falls on the next calendar day.
_MIDNIGHT_EVERY = 300

_DESCRIPTIVE_BLANK_SHARE = 0.04
_TITLE_CASE_STATUS_SHARE = 0.1


@dataclass(frozen=True)
class BrokenRow:
    file: str
    line: int
    """1-based physical line in the file; the header is line 1."""
    column: str
    value: str
    reason: str
    outcome: str = "rejected"
    """``rejected``; or the row is kept, its cell ``nulled`` or its money ``rounded``."""


@dataclass(frozen=True)
class SampleManifest:
    out_dir: Path
    orders_csv: Path
    order_items_csv: Path
    products_csv: Path
    manifest_json: Path
    seed: int
    start: date
    days: int
    counts: dict[str, int]
    """Data rows per file name (header excluded, broken rows included)."""
    broken_rows: tuple[BrokenRow, ...] = field(default=())

    def to_json(self) -> str:
        # File names only, so the manifest is byte-identical wherever the sample is written.
        document = {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "files": {
                name: {"rows": self.counts[name], "header": list(_HEADERS[name])}
                for name in (ORDERS_FILE, ORDER_ITEMS_FILE, PRODUCTS_FILE)
            },
            "broken_rows": [
                {
                    "file": row.file,
                    "line": row.line,
                    "column": row.column,
                    "value": row.value,
                    "reason": row.reason,
                    "outcome": row.outcome,
                }
                for row in self.broken_rows
            ],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@dataclass
class _Product:
    id: int
    category: str
    retail_price: Decimal


@dataclass
class _Timeline:
    status: str
    shipped_at: datetime | None
    delivered_at: datetime | None
    returned_at: datetime | None


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _format_ts(rng: random.Random, moment: datetime | None) -> str:
    if moment is None:
        return ""
    if rng.random() < 0.5:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _format_status(rng: random.Random, status: str) -> str:
    return status.title() if rng.random() < _TITLE_CASE_STATUS_SHARE else status


def _maybe_blank(rng: random.Random, text: str) -> str:
    return "" if rng.random() < _DESCRIPTIVE_BLANK_SHARE else text


def _products(rng: random.Random) -> tuple[list[_Product], list[list[str]]]:
    products: list[_Product] = []
    rows: list[list[str]] = []
    for category, (count, (low, high), women_share, nouns) in _CATEGORIES.items():
        for _ in range(count):
            product_id = len(products) + 1
            cents = rng.randint(low, high) * 100 + rng.choice((0, 0, 50, 95, 99))
            retail = Decimal(cents).scaleb(-2)
            cost = retail * Decimal(rng.randint(30, 62)) / 100
            brand = rng.choice(_BRANDS)
            name = f"{brand} {rng.choice(_ADJECTIVES)} {rng.choice(nouns)}"
            if rng.random() < 0.3:
                name += f", {rng.choice(_COLOURS)}"
            department = "Women" if rng.random() < women_share else "Men"
            products.append(_Product(product_id, category, retail))
            rows.append(
                [
                    str(product_id),
                    _money(cost),
                    category,
                    _maybe_blank(rng, name),
                    _maybe_blank(rng, brand),
                    _money(retail),
                    _maybe_blank(rng, department),
                    _maybe_blank(rng, f"{rng.getrandbits(128):032X}"),
                    str(rng.randint(1, 10)),
                ]
            )
    return products, rows


def _order_times(rng: random.Random, orders: int, start: date, days: int) -> list[datetime]:
    origin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hours = list(range(24))
    times = []
    for index in range(orders):
        day = origin + timedelta(days=rng.randrange(days))
        if index % _MIDNIGHT_EVERY == 0:
            # 23:58:00..23:58:59 plus an item delay of at least two minutes crosses midnight.
            times.append(day + timedelta(hours=23, minutes=58, seconds=rng.randrange(60)))
            continue
        hour = rng.choices(hours, weights=_HOUR_WEIGHTS)[0]
        times.append(day + timedelta(hours=hour, seconds=rng.randrange(3600)))
    times.sort()
    return times


def _timeline(rng: random.Random, created: datetime, exported_at: datetime) -> _Timeline:
    target = rng.choices(list(_STATUS_WEIGHTS), weights=list(_STATUS_WEIGHTS.values()))[0]
    if target in ("pending", "processing", "cancelled"):
        return _Timeline(target, None, None, None)
    shipped = created + timedelta(seconds=rng.randint(6 * 3600, 3 * 86400))
    delivered = shipped + timedelta(seconds=rng.randint(86400, 5 * 86400))
    returned = delivered + timedelta(seconds=rng.randint(86400, 9 * 86400))
    # The export is taken at the end of the window: nothing can have happened after it, so a
    # recent order is still at an earlier stage than the one it was heading for.
    if target == "returned" and returned > exported_at:
        target = "complete"
    if target in ("complete", "delivered") and delivered > exported_at:
        target = "shipped"
    if target == "shipped" and shipped > exported_at:
        return _Timeline("processing", None, None, None)
    if target == "shipped":
        return _Timeline(target, shipped, None, None)
    if target in ("complete", "delivered"):
        return _Timeline(target, shipped, delivered, None)
    return _Timeline(target, shipped, delivered, returned)


def _orders_and_items(
    rng: random.Random,
    products: list[_Product],
    orders: int,
    start: date,
    days: int,
) -> tuple[list[list[str]], list[list[str]]]:
    exported_at = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=days)
    users = max(1, orders * 2 // 5)
    order_rows: list[list[str]] = []
    item_rows: list[list[str]] = []
    counts = list(_ITEM_COUNT_WEIGHTS)
    count_weights = list(_ITEM_COUNT_WEIGHTS.values())
    for order_id, created in enumerate(_order_times(rng, orders, start, days), start=1):
        # Squaring skews towards low ids: a few loyal customers order often.
        user_id = 1 + int(users * rng.random() ** 2)
        timeline = _timeline(rng, created, exported_at)
        n_items = rng.choices(counts, weights=count_weights)[0]
        returned_items: set[int] = set()
        if timeline.status == "returned":
            n_returned = 1 if n_items == 1 or rng.random() < 0.7 else rng.randint(1, n_items)
            returned_items = set(rng.sample(range(n_items), n_returned))
        order_rows.append(
            [
                str(order_id),
                str(user_id),
                _format_status(rng, timeline.status),
                _format_ts(rng, created),
                _format_ts(rng, timeline.returned_at),
                _format_ts(rng, timeline.shipped_at),
                _format_ts(rng, timeline.delivered_at),
                str(n_items),
            ]
        )
        item_created = created
        for position in range(n_items):
            item_created += timedelta(seconds=rng.randint(120, 420))
            product = rng.choice(products)
            price = product.retail_price
            if rng.random() < 0.2:
                price = price * Decimal(100 - rng.randint(10, 40)) / 100
            status = timeline.status
            returned_at = None
            if timeline.status == "returned":
                # The rest of a partly returned order was delivered and kept.
                status = "returned" if position in returned_items else "complete"
                returned_at = timeline.returned_at if position in returned_items else None
            item_rows.append(
                [
                    str(len(item_rows) + 1),
                    str(order_id),
                    str(user_id),
                    str(product.id),
                    _format_status(rng, status),
                    _format_ts(rng, item_created),
                    _format_ts(rng, timeline.shipped_at),
                    _format_ts(rng, timeline.delivered_at),
                    _format_ts(rng, returned_at),
                    _money(price),
                ]
            )
    return order_rows, item_rows


# A corruption edits one row in place and returns (column, reason); the row keeps its
# position, so the manifest's line number stays right.
_Corruption = Callable[[random.Random, list[str], tuple[str, ...]], tuple[str, str]]


def _set(row: list[str], header: tuple[str, ...], column: str, value: str) -> None:
    row[header.index(column)] = value


def _get(row: list[str], header: tuple[str, ...], column: str) -> str:
    return row[header.index(column)]


def _non_numeric_key(column: str, prefix: str) -> _Corruption:
    def corrupt(rng: random.Random, row: list[str], header: tuple[str, ...]) -> tuple[str, str]:
        _set(row, header, column, prefix + _get(row, header, column))
        return column, f"{column} is not an integer"

    return corrupt


def _thousands_separator(column: str) -> _Corruption:
    def corrupt(rng: random.Random, row: list[str], header: tuple[str, ...]) -> tuple[str, str]:
        amount = Decimal(_get(row, header, column)) + 1000
        _set(row, header, column, f"{amount:,.2f}")
        return column, f"{column} has a thousands separator"

    return corrupt


def _negative(column: str) -> _Corruption:
    def corrupt(rng: random.Random, row: list[str], header: tuple[str, ...]) -> tuple[str, str]:
        _set(row, header, column, "-" + _get(row, header, column))
        return column, f"{column} is negative"

    return corrupt


def _unknown_status(rng: random.Random, row: list[str], header: tuple[str, ...]) -> tuple[str, str]:
    _set(row, header, "status", "shipped?")
    return "status", "status is not a known order status"


def _empty_created_at(
    rng: random.Random, row: list[str], header: tuple[str, ...]
) -> tuple[str, str]:
    _set(row, header, "created_at", "")
    return "created_at", "created_at is empty"


def _impossible_date(
    rng: random.Random, row: list[str], header: tuple[str, ...]
) -> tuple[str, str]:
    _set(row, header, "created_at", "2025-02-30 10:15:00 UTC")
    return "created_at", "created_at is not a valid date"


def _returned_without_returned_at(
    rng: random.Random, row: list[str], header: tuple[str, ...]
) -> tuple[str, str]:
    _set(row, header, "status", "returned")
    _set(row, header, "returned_at", "")
    return "returned_at", "status is returned but returned_at is empty"


def _shipped_before_created(
    rng: random.Random, row: list[str], header: tuple[str, ...]
) -> tuple[str, str]:
    text = _get(row, header, "created_at").removesuffix(" UTC").replace(" ", "T")
    created = datetime.fromisoformat(text)
    _set(row, header, "shipped_at", _format_ts(rng, created - timedelta(hours=3)))
    return "shipped_at", "shipped_at is before created_at"


def _zero_items(rng: random.Random, row: list[str], header: tuple[str, ...]) -> tuple[str, str]:
    _set(row, header, "num_of_item", "0")
    return "num_of_item", "num_of_item is below 1"


def _three_decimals(rng: random.Random, row: list[str], header: tuple[str, ...]) -> tuple[str, str]:
    _set(row, header, "sale_price", _get(row, header, "sale_price") + "5")
    return "sale_price", _SUB_CENT


def _empty_category(rng: random.Random, row: list[str], header: tuple[str, ...]) -> tuple[str, str]:
    _set(row, header, "category", "")
    return "category", "category is empty"


_SUB_CENT = "sale_price has more than two decimal places"
_KINDS = {
    ORDERS_FILE: FileKind.ORDERS,
    ORDER_ITEMS_FILE: FileKind.ORDER_ITEMS,
    PRODUCTS_FILE: FileKind.PRODUCTS,
}


def _outcome(file: str, column: str, reason: str) -> str:
    """What the validator makes of a row broken this way (see shopflow_contracts.rows)."""
    if reason == _SUB_CENT:
        return "rounded"
    return "rejected" if column in ROW_REJECTING_COLUMNS[_KINDS[file]] else "nulled"


# Interleaved across files so that any count of broken rows spreads over all three; products
# come up less often because a rejected product silently drops every item that sells it.
_CORRUPTIONS: tuple[tuple[str, _Corruption], ...] = (
    (ORDERS_FILE, _non_numeric_key("order_id", "ORD-")),
    (ORDER_ITEMS_FILE, _thousands_separator("sale_price")),
    (PRODUCTS_FILE, _empty_category),
    (ORDERS_FILE, _unknown_status),
    (ORDER_ITEMS_FILE, _negative("sale_price")),
    (ORDERS_FILE, _empty_created_at),
    (ORDER_ITEMS_FILE, _returned_without_returned_at),
    (PRODUCTS_FILE, _thousands_separator("retail_price")),
    (ORDERS_FILE, _returned_without_returned_at),
    (ORDER_ITEMS_FILE, _shipped_before_created),
    (ORDERS_FILE, _zero_items),
    (ORDER_ITEMS_FILE, _non_numeric_key("id", "x")),
    (PRODUCTS_FILE, _negative("cost")),
    (ORDER_ITEMS_FILE, _three_decimals),
    (ORDERS_FILE, _impossible_date),
    (ORDER_ITEMS_FILE, _unknown_status),
    (PRODUCTS_FILE, _non_numeric_key("id", "P")),
)


def _break_rows(
    rng: random.Random, tables: dict[str, list[list[str]]], broken_rows: int
) -> tuple[BrokenRow, ...]:
    capacity = sum(len(rows) for rows in tables.values())
    if not 0 <= broken_rows <= capacity:
        raise ValueError(f"broken_rows must be between 0 and {capacity}, got {broken_rows}")
    taken: dict[str, set[int]] = {name: set() for name in tables}
    broken: list[BrokenRow] = []
    position = 0
    while len(broken) < broken_rows:
        file, corrupt = _CORRUPTIONS[position % len(_CORRUPTIONS)]
        position += 1
        rows = tables[file]
        free = [index for index in range(len(rows)) if index not in taken[file]]
        if not free:
            continue
        index = rng.choice(free)
        taken[file].add(index)
        header = _HEADERS[file]
        column, reason = corrupt(rng, rows[index], header)
        value = _get(rows[index], header, column)
        broken.append(
            BrokenRow(file, index + 2, column, value, reason, _outcome(file, column, reason))
        )
    return tuple(sorted(broken, key=lambda row: (row.file, row.line)))


def _write_csv(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def generate_sample(
    out_dir: Path,
    *,
    seed: int = 7,
    orders: int = 3000,
    days: int = 42,
    start: date = date(2025, 3, 1),
    broken_rows: int = 12,
) -> SampleManifest:
    """Write the three CSVs and ``manifest.json`` into ``out_dir``; same arguments, same bytes."""
    if orders < 1 or days < 1:
        raise ValueError("orders and days must be at least 1")
    # Reproducible on purpose: the sample must be byte-identical for a given seed.
    rng = random.Random(seed)  # noqa: S311
    products, product_rows = _products(rng)
    order_rows, item_rows = _orders_and_items(rng, products, orders, start, days)
    tables = {ORDERS_FILE: order_rows, ORDER_ITEMS_FILE: item_rows, PRODUCTS_FILE: product_rows}
    broken = _break_rows(rng, tables, broken_rows)

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        _write_csv(out_dir / name, _HEADERS[name], rows)
    manifest = SampleManifest(
        out_dir=out_dir,
        orders_csv=out_dir / ORDERS_FILE,
        order_items_csv=out_dir / ORDER_ITEMS_FILE,
        products_csv=out_dir / PRODUCTS_FILE,
        manifest_json=out_dir / MANIFEST_FILE,
        seed=seed,
        start=start,
        days=days,
        counts={name: len(rows) for name, rows in tables.items()},
        broken_rows=broken,
    )
    with manifest.manifest_json.open("w", encoding="utf-8", newline="") as handle:
        handle.write(manifest.to_json())
    return manifest


# --- the same data as BigQuery's ``bq extract`` writes it ------------------------------

EXPORT_MANIFEST_FILE = "export.json"
# The same rows with every money cell in exact cents: what the KPIs must come out as.
EXACT_DIR = "exact"
# TheLook's own column sets (extra columns included), in its order.
THELOOK_HEADERS: dict[str, tuple[str, ...]] = {
    ORDERS_FILE: (
        "order_id",
        "user_id",
        "status",
        "gender",
        "created_at",
        "returned_at",
        "shipped_at",
        "delivered_at",
        "num_of_item",
    ),
    ORDER_ITEMS_FILE: (
        "id",
        "order_id",
        "user_id",
        "product_id",
        "inventory_item_id",
        "status",
        "created_at",
        "shipped_at",
        "delivered_at",
        "returned_at",
        "sale_price",
    ),
    PRODUCTS_FILE: PRODUCTS_HEADER,
}
# Shards per file, and which shards are gzipped (bq extract --compression GZIP on some).
_SHARDS = {ORDERS_FILE: 2, ORDER_ITEMS_FILE: 3, PRODUCTS_FILE: 1}
_GZIPPED_SHARDS = {ORDERS_FILE: {1}, ORDER_ITEMS_FILE: {1}, PRODUCTS_FILE: set()}
_TIMESTAMP_COLUMNS = frozenset({"created_at", "returned_at", "shipped_at", "delivered_at"})
_SHOPFLOW_SPELLINGS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S UTC")
# Share of timestamps with a fraction of a second (BigQuery writes it only when non-zero).
_FRACTION_SHARE = 0.8


@dataclass(frozen=True)
class ExportManifest:
    """What ``generate_export`` wrote: the shards, their exact twins, the broken rows."""

    out_dir: Path
    shards: tuple[Path, ...]
    """As bq extract writes them: ``<file>-<12 digits>.csv[.gz]``, each with its header."""
    exact_shards: tuple[Path, ...]
    """The same names under ``exact/``, the same text but money in exact cents."""
    seed: int
    start: date
    days: int
    counts: dict[str, int]
    """Data rows per file (over its shards)."""
    broken_rows: tuple[BrokenRow, ...] = field(default=())
    """``file`` is the shard's name, ``line`` its line in that shard."""

    def to_json(self) -> str:
        document = {
            "style": "bigquery",
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "rows": self.counts,
            "shards": [path.name for path in self.shards],
            "exact_dir": EXACT_DIR,
            "broken_rows": [
                {
                    "file": row.file,
                    "line": row.line,
                    "column": row.column,
                    "value": row.value,
                    "reason": row.reason,
                    "outcome": row.outcome,
                }
                for row in self.broken_rows
            ],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _float_money(rng: random.Random, amount: Decimal) -> str:
    """An exact amount as a FLOAT64 column holding it is exported (TheLook's went through
    FLOAT32): ``59.990001678466797``, ``59.990000000000002``, ``59.99`` or ``5.999E+1``."""
    value = float(amount)
    roll = rng.random()
    if roll < 0.6:
        return f"{_float32(value):.17g}"
    if roll < 0.85:
        return f"{value:.17g}"
    if roll < 0.95:
        return repr(value)
    return f"{amount.normalize():E}"


def _sub_cent_cost(rng: random.Random, cost: Decimal) -> tuple[str, str]:
    """A cost as TheLook has it (retail x a random share: a real sub-cent amount), and its
    cents. Never half a cent, so no float rendering can round it the other way."""
    extra = rng.choice([k for k in range(1, 100) if k != 50])
    exact = cost + Decimal(extra).scaleb(-4)
    return f"{float(exact):.17g}", _money(exact)


def _export_timestamp(rng: random.Random, text: str, zone: str) -> str:
    for spelling in _SHOPFLOW_SPELLINGS:
        try:
            moment = datetime.strptime(text, spelling)
        except ValueError:
            continue
        micros = rng.randrange(1, 1_000_000) if rng.random() < _FRACTION_SHARE else 0
        fraction = f".{micros:06d}" if micros else ""
        return f"{moment:%Y-%m-%d %H:%M:%S}{fraction}{zone}"
    return text  # not one the generator writes (a broken cell): left as it is


def _export_rows(
    rng: random.Random,
    name: str,
    rows: list[list[str]],
    broken: dict[int, str],
    zones: list[str],
) -> tuple[list[list[str]], list[list[str]]]:
    """(as exported, exact twin) of one file's rows; ``broken``: row index -> broken column,
    left as it is in both; ``zones``: the zone suffix of each row's timestamps."""
    header = _HEADERS[name]
    exported: list[list[str]] = []
    exact: list[list[str]] = []
    for index, row in enumerate(rows):
        cells = dict(zip(header, row, strict=True))
        twin = dict(cells)
        for column, text in cells.items():
            if broken.get(index) == column or not text:
                continue
            if column in _TIMESTAMP_COLUMNS:
                cells[column] = twin[column] = _export_timestamp(rng, text, zones[index])
            elif column == "cost":
                cells[column], twin[column] = _sub_cent_cost(rng, Decimal(text))
            elif column in ("sale_price", "retail_price"):
                cells[column] = _float_money(rng, Decimal(text))
        if name == ORDERS_FILE:
            cells["gender"] = twin["gender"] = rng.choice("MF")
        if name == ORDER_ITEMS_FILE:
            inventory = str(10 * int(row[0]) + rng.randrange(10)) if row[0].isdigit() else ""
            cells["inventory_item_id"] = twin["inventory_item_id"] = inventory
        exported.append([cells[column] for column in THELOOK_HEADERS[name]])
        exact.append([twin[column] for column in THELOOK_HEADERS[name]])
    return exported, exact


def _shard_bounds(rows: int, shards: int) -> list[tuple[int, int]]:
    cuts = [rows * shard // shards for shard in range(shards + 1)]
    return list(itertools.pairwise(cuts))


def _write_shard(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    body = buffer.getvalue().encode("utf-8")
    path.write_bytes(gzip.compress(body, mtime=0) if path.name.endswith(".gz") else body)


def generate_export(
    out_dir: Path,
    *,
    seed: int = 7,
    orders: int = 3000,
    days: int = 42,
    start: date = date(2025, 3, 1),
    broken_rows: int = 12,
) -> ExportManifest:
    """The sample's data (same seed, same rows) written the way ``bq extract`` writes
    TheLook: money as float renderings, microsecond timestamps with `` UTC`` or ``+00:00``
    (the fraction only when not zero), TheLook's extra columns, sharded and partly gzipped
    files; plus its exact twin under ``exact/``. Same arguments, same bytes."""
    if orders < 1 or days < 1:
        raise ValueError("orders and days must be at least 1")
    rng = random.Random(seed)  # noqa: S311 (reproducible on purpose)
    products, product_rows = _products(rng)
    order_rows, item_rows = _orders_and_items(rng, products, orders, start, days)
    tables = {ORDERS_FILE: order_rows, ORDER_ITEMS_FILE: item_rows, PRODUCTS_FILE: product_rows}
    broken = _break_rows(rng, tables, broken_rows)
    # Its own generator, so the data is the sample's whatever the rendering draws.
    render = random.Random(seed * 1_000_003 + 1)  # noqa: S311

    exact_dir = out_dir / EXACT_DIR
    exact_dir.mkdir(parents=True, exist_ok=True)
    shards: list[Path] = []
    exact_shards: list[Path] = []
    shard_broken: list[BrokenRow] = []
    for name, rows in tables.items():
        stem = name.removesuffix(".csv")
        broken_here = {row.line - 2: row for row in broken if row.file == name}
        for shard, (first, end) in enumerate(_shard_bounds(len(rows), _SHARDS[name])):
            suffix = ".csv.gz" if shard in _GZIPPED_SHARDS[name] else ".csv"
            shard_name = f"{stem}-{shard:012d}{suffix}"
            zone = " UTC" if shard % 2 == 0 else "+00:00"
            exported, exact = _export_rows(
                render,
                name,
                rows[first:end],
                {i - first: row.column for i, row in broken_here.items() if first <= i < end},
                [zone] * (end - first),
            )
            _write_shard(out_dir / shard_name, THELOOK_HEADERS[name], exported)
            _write_shard(exact_dir / shard_name, THELOOK_HEADERS[name], exact)
            shards.append(out_dir / shard_name)
            exact_shards.append(exact_dir / shard_name)
            shard_broken += [
                replace(row, file=shard_name, line=index - first + 2)
                for index, row in sorted(broken_here.items())
                if first <= index < end
            ]
    manifest = ExportManifest(
        out_dir=out_dir,
        shards=tuple(shards),
        exact_shards=tuple(exact_shards),
        seed=seed,
        start=start,
        days=days,
        counts={name: len(rows) for name, rows in tables.items()},
        broken_rows=tuple(shard_broken),
    )
    (out_dir / EXPORT_MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m shopflow_cli.sampledata",
        description="Write a seeded TheLook-style sample (orders, order_items, products).",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 3, 1))
    parser.add_argument("--broken-rows", type=int, default=12)
    parser.add_argument(
        "--style",
        choices=("shopflow", "bigquery"),
        default="shopflow",
        help="bigquery: the same data as bq extract writes TheLook (float money, microsecond "
        "timestamps, extra columns, sharded and partly gzipped files, exact twin in exact/)",
    )
    args = parser.parse_args(argv)
    if args.style == "bigquery":
        try:
            export = generate_export(
                args.out,
                seed=args.seed,
                orders=args.orders,
                days=args.days,
                start=args.start,
                broken_rows=args.broken_rows,
            )
        except ValueError as error:
            parser.error(str(error))
        print(f"wrote {len(export.shards)} shards to {export.out_dir} (exact twin in {EXACT_DIR}/)")
        return
    try:
        manifest = generate_sample(
            args.out,
            seed=args.seed,
            orders=args.orders,
            days=args.days,
            start=args.start,
            broken_rows=args.broken_rows,
        )
    except ValueError as error:
        parser.error(str(error))
    counts = ", ".join(f"{name}: {rows} rows" for name, rows in manifest.counts.items())
    print(f"wrote {manifest.out_dir} ({counts}; {len(manifest.broken_rows)} broken rows)")


if __name__ == "__main__":
    main()
