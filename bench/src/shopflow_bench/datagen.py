"""Bulk, seeded TheLook-style CSVs for the benchmark: tens of millions of rows in seconds.

``shopflow_cli.sampledata`` builds every row in Python, which is right for the bundled
sample (a manifest of each broken row) but takes minutes for tens of millions of rows.
This module writes the same three files with the same shape from DuckDB SQL instead:

- orders' ``created_at`` spread evenly over ``days`` (``order_id`` grows with the date, so
  the items of one date are a contiguous id range), one order in 300 placed a minute or two
  before midnight, so some items are created on the next calendar day;
- both timestamp spellings mixed, statuses in mixed case, item counts 1-4, returned orders
  with some of their items returned, 20% of items sold at a discount;
- ``products.csv`` is ``sampledata``'s own (158 products, quoted names, blanks);
- about one row in ``BROKEN_EVERY`` broken in one of the ways real exports break (negative
  or three-decimal or thousands-separated prices, unknown statuses, impossible dates, empty
  required cells, events before creation, returned without a return date).

Every value is a function of (seed, row id) through DuckDB's ``hash``: the same arguments
give the same files with the same DuckDB version.
"""

from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
from shopflow_cli.sampledata import (
    ORDER_ITEMS_FILE,
    ORDERS_FILE,
    PRODUCTS_FILE,
    generate_sample,
)

# Mean items per order of the weights below (55/28/12/5 for 1..4 items).
MEAN_ITEMS_PER_ORDER = 1.67
BROKEN_EVERY = 5000
DEFAULT_START = date(2024, 1, 1)
MANIFEST = "bulk.json"


@dataclass(frozen=True)
class Dataset:
    """Three CSVs written by ``generate_bulk``, with their row counts (header excluded)."""

    directory: Path
    orders: int
    order_items: int
    products: int
    days: int
    start: date
    seed: int

    @property
    def orders_csv(self) -> Path:
        return self.directory / ORDERS_FILE

    @property
    def order_items_csv(self) -> Path:
        return self.directory / ORDER_ITEMS_FILE

    @property
    def products_csv(self) -> Path:
        return self.directory / PRODUCTS_FILE

    @property
    def rows(self) -> int:
        return self.orders + self.order_items + self.products

    def to_json(self) -> str:
        document = asdict(self)
        document["directory"] = str(self.directory)
        document["start"] = self.start.isoformat()
        return json.dumps(document, indent=2)

    @classmethod
    def load(cls, directory: Path) -> Dataset | None:
        path = directory / MANIFEST
        if not path.exists():
            return None
        document = json.loads(path.read_text())
        return cls(
            directory=directory,
            orders=int(document["orders"]),
            order_items=int(document["order_items"]),
            products=int(document["products"]),
            days=int(document["days"]),
            start=date.fromisoformat(document["start"]),
            seed=int(document["seed"]),
        )


def orders_for_items(order_items: int) -> int:
    return max(1, round(order_items / MEAN_ITEMS_PER_ORDER))


def _products(directory: Path, seed: int) -> list[tuple[int, int]]:
    """Write sampledata's products.csv into ``directory``; (id, retail price in cents)."""
    with tempfile.TemporaryDirectory() as scratch:
        manifest = generate_sample(Path(scratch), seed=seed, orders=1, days=1, broken_rows=0)
        text = manifest.products_csv.read_text(encoding="utf-8")
    (directory / PRODUCTS_FILE).write_text(text, encoding="utf-8")
    with (directory / PRODUCTS_FILE).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [(int(row["id"]), round(float(row["retail_price"]) * 100)) for row in rows]


def _connect(threads: int, memory_limit: str, spill: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(
        config={
            "threads": threads,
            "memory_limit": memory_limit,
            "temp_directory": str(spill),
            "preserve_insertion_order": True,
        }
    )
    connection.execute("SET enable_progress_bar = false")
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def _macros(seed: int) -> str:
    salt = f"shopflow-bench-{seed}-"
    return f"""
    -- A uniform draw in [0, 1) that depends only on (seed, row id, what it is for).
    CREATE OR REPLACE TEMP MACRO rnd(i, what) AS
        -- Re-hashing the xor keeps draws for different purposes independent (hash(a, b)
        -- alone combines the two hashes linearly, which correlates their low bits).
        (hash(xor(hash(i), hash('{salt}' || what))) % 1000000007) / 1000000007.0;
    CREATE OR REPLACE TEMP MACRO fmt_ts(ts, i, what) AS
        CASE WHEN ts IS NULL THEN NULL
             WHEN rnd(i, what) < 0.5 THEN strftime(ts, '%Y-%m-%dT%H:%M:%S')
             ELSE strftime(ts, '%Y-%m-%d %H:%M:%S') || ' UTC' END;
    CREATE OR REPLACE TEMP MACRO fmt_status(s, i, what) AS
        CASE WHEN rnd(i, what) < 0.1 THEN upper(s[1]) || s[2:] ELSE s END;
    CREATE OR REPLACE TEMP MACRO money(cents) AS
        printf('%d.%02d', cents // 100, cents % 100);
    """


def _orders_sql(orders: int, days: int, start: date) -> str:
    exported_at = start + timedelta(days=days)
    return f"""
    CREATE OR REPLACE TEMP TABLE o AS
    WITH base AS (
        SELECT
            i AS order_id,
            1 + CAST(floor(greatest(1, {orders} * 2 // 5) * pow(rnd(i, 'user'), 2)) AS BIGINT)
                AS user_id,
            TIMESTAMP '{start.isoformat()} 00:00:00'
                + to_days(CAST((i - 1) * {days} // {orders} AS INTEGER))
                + CASE WHEN i % 300 = 0
                       THEN to_seconds(CAST(23 * 3600 + 58 * 60 + floor(rnd(i, 'mid') * 60)
                                            AS BIGINT))
                       ELSE to_seconds(CAST(floor(rnd(i, 'time') * 86340) AS BIGINT)) END
                AS created,
            rnd(i, 'status') * 98 AS s,
            rnd(i, 'items') * 100 AS n
        FROM range(1, {orders} + 1) AS t(i)
    ),
    planned AS (
        SELECT *,
            CASE WHEN s < 24 THEN 'complete' WHEN s < 38 THEN 'delivered'
                 WHEN s < 58 THEN 'shipped' WHEN s < 70 THEN 'processing'
                 WHEN s < 76 THEN 'pending' WHEN s < 90 THEN 'returned'
                 ELSE 'cancelled' END AS target,
            CASE WHEN n < 55 THEN 1 WHEN n < 83 THEN 2 WHEN n < 95 THEN 3 ELSE 4 END
                AS num_of_item,
            created + to_seconds(CAST(6 * 3600 + floor(rnd(order_id, 'ship') * 66 * 3600)
                                      AS BIGINT)) AS ship
        FROM base
    ),
    timeline AS (
        SELECT *,
            ship + to_seconds(CAST(86400 + floor(rnd(order_id, 'deliver') * 4 * 86400)
                                   AS BIGINT)) AS deliver
        FROM planned
    ),
    timeline2 AS (
        SELECT *,
            deliver + to_seconds(CAST(86400 + floor(rnd(order_id, 'return') * 8 * 86400)
                                      AS BIGINT)) AS ret
        FROM timeline
    ),
    -- The export is taken at the end of the window: a recent order is at an earlier stage.
    capped AS (
        SELECT *,
            CASE
                WHEN target IN ('pending', 'processing', 'cancelled') THEN target
                WHEN target = 'returned' AND ret <= TIMESTAMP '{exported_at}' THEN 'returned'
                WHEN deliver <= TIMESTAMP '{exported_at}' AND target <> 'shipped'
                    THEN CASE WHEN target = 'returned' THEN 'complete' ELSE target END
                WHEN ship <= TIMESTAMP '{exported_at}' THEN 'shipped'
                ELSE 'processing'
            END AS status
        FROM timeline2
    )
    SELECT
        order_id, user_id, status, created, num_of_item,
        CASE WHEN status IN ('shipped', 'complete', 'delivered', 'returned') THEN ship END
            AS shipped_at,
        CASE WHEN status IN ('complete', 'delivered', 'returned') THEN deliver END
            AS delivered_at,
        CASE WHEN status = 'returned' THEN ret END AS returned_at,
        CAST(floor(rnd(order_id, 'retpos') * num_of_item) AS INTEGER) AS returned_pos,
        sum(num_of_item) OVER (ORDER BY order_id ROWS UNBOUNDED PRECEDING) - num_of_item
            AS items_before
    FROM capped
    """


_ORDERS_OUT = """
SELECT
    CASE WHEN b = 1 THEN 'ORD-' || order_id ELSE CAST(order_id AS VARCHAR) END AS order_id,
    CAST(user_id AS VARCHAR) AS user_id,
    CASE WHEN b = 2 THEN 'shipped?' WHEN b = 4 THEN 'returned'
         ELSE fmt_status(status, order_id, 'ocase') END AS status,
    CASE WHEN b = 3 THEN NULL WHEN b = 6 THEN '2025-02-30 10:15:00 UTC'
         ELSE fmt_ts(created, order_id, 'oc') END AS created_at,
    CASE WHEN b = 4 THEN NULL ELSE fmt_ts(returned_at, order_id, 'or') END AS returned_at,
    CASE WHEN b = 7 THEN fmt_ts(created - INTERVAL 3 HOUR, order_id, 'os')
         ELSE fmt_ts(shipped_at, order_id, 'os') END AS shipped_at,
    fmt_ts(delivered_at, order_id, 'od') AS delivered_at,
    CASE WHEN b = 5 THEN '0' ELSE CAST(num_of_item AS VARCHAR) END AS num_of_item
FROM (
    SELECT *, order_id AS k,
        CASE WHEN rnd(order_id, 'broken-order') * {every} < 1
             THEN 1 + CAST(floor(rnd(order_id, 'broken-kind') * 7) AS INTEGER) ELSE 0 END AS b
    FROM o
)
ORDER BY k
"""

_ITEMS_SQL = """
CREATE OR REPLACE TEMP TABLE it AS
WITH exploded AS (
    SELECT o.*, unnest(range(num_of_item)) AS pos FROM o
),
items AS (
    SELECT
        items_before + pos + 1 AS id,
        order_id, user_id, pos, status AS order_status, returned_pos,
        created + to_seconds(CAST((pos + 1) * 120 + floor(rnd(order_id * 8 + pos, 'ic') * 300)
                                  AS BIGINT)) AS created,
        shipped_at, delivered_at, returned_at
    FROM exploded
)
SELECT
    items.*,
    1 + CAST(floor(rnd(id, 'product') * {products}) AS BIGINT) AS product_id,
    CASE WHEN order_status <> 'returned' THEN order_status
         WHEN pos = returned_pos OR rnd(id, 'ret') < 0.3 THEN 'returned'
         ELSE 'complete' END AS status
FROM items
"""

_ITEMS_OUT = """
SELECT
    CASE WHEN b = 6 THEN 'x' || id ELSE CAST(id AS VARCHAR) END AS id,
    CAST(order_id AS VARCHAR) AS order_id,
    CAST(user_id AS VARCHAR) AS user_id,
    CAST(product_id AS VARCHAR) AS product_id,
    CASE WHEN b = 4 THEN 'shipped?' WHEN b = 7 THEN 'returned'
         ELSE fmt_status(status, id, 'icase') END AS status,
    CASE WHEN b = 8 THEN '2025-02-30 10:15:00 UTC' ELSE fmt_ts(created, id, 'ic') END
        AS created_at,
    CASE WHEN b = 5 THEN fmt_ts(created - INTERVAL 3 HOUR, id, 'is')
         ELSE fmt_ts(shipped_at, id, 'is') END AS shipped_at,
    fmt_ts(delivered_at, id, 'id') AS delivered_at,
    CASE WHEN b = 7 THEN NULL
         WHEN status = 'returned' THEN fmt_ts(returned_at, id, 'ir') END AS returned_at,
    CASE WHEN b = 1 THEN printf('%d,%03d.%02d', (cents // 100 + 1000) // 1000,
                                (cents // 100 + 1000) % 1000, cents % 100)
         WHEN b = 2 THEN '-' || money(cents)
         WHEN b = 3 THEN money(cents) || '5'
         ELSE money(cents) END AS sale_price
FROM (
    SELECT it.*, it.id AS k,
        CASE WHEN rnd(it.id, 'discount') < 0.2
             THEN CAST(round(p.cents * (90 - floor(rnd(it.id, 'pct') * 31)) / 100) AS BIGINT)
             ELSE p.cents END AS cents,
        CASE WHEN rnd(it.id, 'broken-item') * {every} < 1
             THEN 1 + CAST(floor(rnd(it.id, 'broken-kind') * 8) AS INTEGER) ELSE 0 END AS b
    FROM it JOIN prices AS p ON p.pid = it.product_id
)
ORDER BY k
"""


def _copy(connection: duckdb.DuckDBPyConnection, select: str, target: Path) -> None:
    connection.execute(
        f"COPY ({select}) TO '{target}' (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"')"
    )


def generate_bulk(
    directory: Path,
    *,
    order_items: int,
    days: int = 365,
    start: date = DEFAULT_START,
    seed: int = 7,
    threads: int = 2,
    memory_limit: str = "2GB",
) -> Dataset:
    """Write orders.csv, order_items.csv and products.csv with about ``order_items`` items.

    Reuses what an earlier call with the same arguments left in ``directory``.
    """
    orders = orders_for_items(order_items)
    existing = Dataset.load(directory)
    if (
        existing is not None
        and (existing.orders, existing.days, existing.start, existing.seed)
        == (orders, days, start, seed)
        and all(p.exists() for p in (existing.orders_csv, existing.order_items_csv))
    ):
        return existing
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).unlink(missing_ok=True)
    prices = _products(directory, seed)
    spill = directory / ".spill"
    connection = _connect(threads, memory_limit, spill)
    try:
        connection.execute(_macros(seed))
        connection.execute("CREATE TEMP TABLE prices (pid BIGINT, cents BIGINT)")
        connection.executemany("INSERT INTO prices VALUES (?, ?)", prices)
        connection.execute(_orders_sql(orders, days, start))
        _copy(
            connection,
            _ORDERS_OUT.format(every=BROKEN_EVERY),
            directory / ORDERS_FILE,
        )
        connection.execute(_ITEMS_SQL.format(products=len(prices)))
        _copy(connection, _ITEMS_OUT.format(every=BROKEN_EVERY), directory / ORDER_ITEMS_FILE)
        (items,) = connection.execute("SELECT count(*) FROM it").fetchone() or (0,)
    finally:
        connection.close()
    dataset = Dataset(
        directory=directory,
        orders=orders,
        order_items=int(items),
        products=len(prices),
        days=days,
        start=start,
        seed=seed,
    )
    (directory / MANIFEST).write_text(dataset.to_json())
    return dataset


def correction_file(
    dataset: Dataset, target: Path, *, rows: int = 1000, seed: int = 11, first_id: int | None = None
) -> tuple[Path, int]:
    """An order_items file correcting ``rows`` existing items (new sale prices).

    The items are consecutive ids straddling the midnight between two order dates (ids grow
    with the order date), so the file touches one or two dates. Returns (path, first id).
    """
    if first_id is None:
        # Around the items of the order placed at the end of the middle day.
        middle_order = orders_for_items(dataset.order_items) * (dataset.days // 2 + 1)
        middle_order //= dataset.days
        first_id = max(1, round(middle_order * MEAN_ITEMS_PER_ORDER) - rows // 2)
    last_id = min(dataset.order_items, first_id + rows - 1)
    connection = duckdb.connect(config={"threads": 1})
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(_macros(seed))
        select = f"""
            SELECT id, order_id, user_id, product_id, status, created_at, shipped_at,
                   delivered_at, returned_at,
                   money(CAST(floor(rnd(TRY_CAST(id AS BIGINT), 'corr') * 20000) AS BIGINT) + 100)
                       AS sale_price
            FROM read_csv('{dataset.order_items_csv}', all_varchar = true, header = true,
                          delim = ',', quote = '"', escape = '"')
            WHERE TRY_CAST(id AS BIGINT) BETWEEN {first_id} AND {last_id}
              AND TRY_CAST(sale_price AS DECIMAL(18, 2)) >= 0
              AND lower(status) <> 'shipped?'
            ORDER BY TRY_CAST(id AS BIGINT)
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy(connection, select, target)
    finally:
        connection.close()
    return target, first_id
