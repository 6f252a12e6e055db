"""The KPI definitions, as DuckDB SQL over curated Parquet.

Vocabulary
----------
- ``order_date``: the calendar date, in UTC, of ``orders.created_at``. An item counts on its
  order's date, never on its own ``created_at``.
- Statuses compare case-insensitively (``Returned`` is ``returned``).
- Current version of a row: rows sharing a primary key (``orders.order_id``,
  ``order_items.id``, ``products.id``) count once, as the version with the greatest
  ``_ingest_seq`` (a later upload corrects an earlier one). Versions with equal
  ``_ingest_seq`` come from the same upload; the later ``_source_key``/``_source_line``
  wins there, so the choice is deterministic.
- Counted order: the current version of an order whose status is not ``cancelled``.
  A cancelled order counts nowhere, items included.
- Counted item: the current version of an item whose order (current version) is counted,
  names the same ``user_id`` as that order, and whose product has arrived. Its category is
  its product's (current) category. An item whose order or product has not arrived yet does
  not count until it has.
- An order is *returned in a scope* when at least one of its counted items in that scope has
  status ``returned``. Day scope: all the order's items; category scope: the order's items of
  that category.

Day KPIs (per order date D, over the counted orders of D)
---------------------------------------------------------
- ``total_orders``: number of orders, including orders with no counted item yet;
- ``total_revenue``: sum of ``sale_price`` of their counted items (gross: returned items
  included);
- ``total_items_sold``: number of their counted items;
- ``return_rate``: 100 x (orders returned in day scope) / ``total_orders``;
- ``unique_customers``: number of distinct ``user_id`` of the orders.

Category KPIs (per category C and order date D, over the counted orders of D having at least
one counted item of C)
--------------------------------------------------------------------------------------------
- ``daily_revenue``: sum of ``sale_price`` of their counted items of C (gross);
- ``avg_order_value``: ``daily_revenue`` / number of those orders;
- ``avg_return_rate``: 100 x (those orders returned in category scope C) / number of those
  orders.

Numbers
-------
Money stays DECIMAL end to end and sums keep their cents. ``avg_order_value`` and the rates
are rounded to 2 decimal places, half away from zero. DuckDB divides DECIMALs in DOUBLE, so
the ratios are computed in integer arithmetic instead (``shopflow_ratio_2dp``): exact, and
rounded the way ``ROUND`` rounds a DECIMAL.

A date with no counted order produces no day row and no category row; a category with no
counted order on a date produces no row for that date. Callers delete what is absent.

Touched dates
-------------
A batch of curated files changes the KPIs of these order dates, and only these:
- the dates of every version of the batch's orders (a correction can move an order to
  another day, or cancel it: the old day changes too);
- the current dates of the orders of every version of the batch's items (a correction can
  move an item to another order);
- the current dates of the orders of the current items of the batch's products (a product's
  category can change, or the product can arrive after its items).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TypeVar

import duckdb
from shopflow_contracts.kpis import CategoryKpi, DayKpi, KpiRow
from shopflow_contracts.rows import FileKind

from shopflow_kpi.domain.model import CuratedPaths
from shopflow_kpi.domain.sources import KPI_INPUTS

_RATIO_MACRO = """
CREATE OR REPLACE TEMP MACRO shopflow_ratio_2dp(num, den) AS
    -- num has at most 2 decimal places, den > 0: num * 100 is an exact integer, and
    -- (2|n| + d) // 2d is |n| / d rounded half up, so the result is rounded half away
    -- from zero without ever leaving integer arithmetic.
    CAST(
        CAST(
            sign(CAST(num * 100 AS HUGEINT))
            * ((2 * abs(CAST(num * 100 AS HUGEINT)) + den) // (2 * den))
            AS DECIMAL(38, 0)
        ) * 0.01
        AS DECIMAL(18, 2)
    )
"""


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_in_strings(column: str, texts: Iterable[str]) -> str:
    """``column IN ('a', 'b')`` with the texts inlined as quoted literals (false for none).

    Literals, not a list parameter: DuckDB pushes a constant IN list into the table scan,
    where the zone maps skip row groups that hold none of the values. State rows are
    stored file by file, so picking out a few files' rows skips almost all the others.
    """
    quoted = [_sql_string(t) for t in texts]
    return f"{column} IN ({', '.join(quoted)})" if quoted else "false"


def _source_sql(kind: FileKind, paths: Sequence[str], content_hash: Sequence[str] = ()) -> str:
    source = KPI_INPUTS[kind]
    hashed = f"hash({', '.join(content_hash)})" if content_hash else None
    if not paths:
        typed_nulls = [f"CAST(NULL AS {t}) AS {c}" for c, t in source.columns.items()]
        if hashed:
            typed_nulls.append("CAST(NULL AS UBIGINT) AS _row_hash")
        return f"SELECT {', '.join(typed_nulls)} WHERE false"
    casts = [f"{hashed} AS _row_hash"] if hashed else []
    for column, sql_type in source.columns.items():
        value = f"CAST({column} AS {sql_type})"
        if column in source.vocabulary_columns:
            value = f"lower(trim({value}))"
        casts.append(f"{value} AS {column}")
    files = "[" + ", ".join(_sql_string(p) for p in paths) + "]"
    return f"SELECT {', '.join(casts)} FROM read_parquet({files}, union_by_name = true)"


def _moved_to_end(select: str) -> str:
    return f"SELECT * EXCLUDE (_row_hash), _row_hash FROM ({select})"


def source_select(kind: FileKind, paths: Sequence[str], content_hash: Sequence[str] = ()) -> str:
    """The typed rows of ``kind`` in ``paths``; orders gain their UTC ``order_date``.

    With ``content_hash`` (column names of the curated file), rows also carry ``_row_hash``,
    a hash of those columns: it tells an identical re-upload from a correction even for
    columns the KPIs never read.
    """
    select = _source_sql(kind, paths, content_hash)
    if kind is FileKind.ORDERS:
        # The UTC calendar date, whatever the session's time zone: the instant's microseconds
        # since the epoch read as a zone-less timestamp. Plain arithmetic, about 7x cheaper
        # than converting through a time zone, which every full scan of orders pays.
        select = (
            "SELECT *, CAST(make_timestamp(epoch_us(created_at)) AS DATE) AS order_date "
            f"FROM ({select})"
        )
    return _moved_to_end(select) if content_hash else select


def _register_raw(connection: duckdb.DuckDBPyConnection, prefix: str, paths: CuratedPaths) -> None:
    for kind in KPI_INPUTS:
        connection.execute(
            f"CREATE OR REPLACE TEMP VIEW {prefix}_{kind} AS {source_select(kind, paths.of(kind))}"
        )


def register_curated(connection: duckdb.DuckDBPyConnection, curated: CuratedPaths) -> None:
    """Expose curated Parquet files to ``touched_dates`` and ``compute_kpis``.

    Creates the views ``curated_<kind>`` (every version of every row). ``curated`` must
    include the batch's own files. ``CuratedState`` offers the same views over a persistent
    database that only ever loads new files.
    """
    prepare_session(connection)
    _register_raw(connection, "curated", curated)


def prepare_session(connection: duckdb.DuckDBPyConnection) -> None:
    """Session settings and macros every KPI query relies on."""
    # Zone-less timestamps in the exports mean UTC; make the session agree.
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(_RATIO_MACRO)


# What tells the versions of a row apart, and their order, latest first (see "Current
# version").
VERSION_COLUMNS = "_ingest_seq, _source_key, _source_line"
LATEST_FIRST = (
    "_ingest_seq DESC NULLS LAST, _source_key DESC NULLS LAST, _source_line DESC NULLS LAST"
)


def _current(versions: str, key: str, columns: str, *, streamed: bool = False) -> str:
    """The current version of each ``key`` among ``versions`` (see "Current version").

    Almost every key has a single version, so the window that picks the latest one only
    runs on keys seen more than once; the rest stream through an anti-join. That keeps a
    full recomputation a pair of hash joins rather than a sort of the whole history.

    ``versions`` is read three times: ``streamed`` re-reads it each time (right for a plain
    scan of everything, too big to hold), otherwise it is computed once and kept (right for
    versions narrowed down by joins over the history, which are few but costly to find).
    """
    keep = "NOT MATERIALIZED" if streamed else "MATERIALIZED"
    return f"""(
        WITH versions AS {keep} ({versions}),
        repeated AS (SELECT {key} FROM versions GROUP BY {key} HAVING count(*) > 1)
        SELECT {columns} FROM versions ANTI JOIN repeated USING ({key})
        UNION ALL
        SELECT {columns} FROM (
            SELECT * FROM versions SEMI JOIN repeated USING ({key})
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {LATEST_FIRST}) = 1
        )
    )"""


# Every "current" below is restricted to the keys a question is about before the window
# picks the latest version: the work follows the batch and the touched dates, while history
# is only scanned on a few narrow key columns. The keys go to temporary tables first: their
# row counts are then exact, so DuckDB builds each hash table on the small side (estimated
# from filters alone, a batch's share of a history of few files can look like half of it,
# and the history was hashed instead), and it pushes their range into the scan of the
# history: where keys grow with time, as ids do, whole row groups of it are skipped.
_CURRENT_ITEMS_OF_BATCH_PRODUCTS = _current(
    f"SELECT id, order_id, product_id, {VERSION_COLUMNS} "
    "FROM curated_order_items SEMI JOIN batch_product_item_ids USING (id)",
    "id",
    "order_id, product_id",
)
_CURRENT_AFFECTED_ORDERS = _current(
    f"SELECT order_id, order_date, {VERSION_COLUMNS} "
    "FROM curated_orders SEMI JOIN affected_order_ids USING (order_id)",
    "order_id",
    "order_date",
)
_TOUCHED_KEYS_SQL = f"""
CREATE OR REPLACE TEMP TABLE batch_order_ids AS SELECT DISTINCT order_id FROM batch_orders;
CREATE OR REPLACE TEMP TABLE batch_item_ids AS SELECT DISTINCT id FROM batch_order_items;
CREATE OR REPLACE TEMP TABLE batch_product_ids AS SELECT DISTINCT id FROM batch_products;
CREATE OR REPLACE TEMP TABLE batch_product_item_ids AS
SELECT DISTINCT i.id FROM curated_order_items AS i
SEMI JOIN batch_product_ids AS b ON b.id = i.product_id;
CREATE OR REPLACE TEMP TABLE affected_order_ids AS
SELECT order_id FROM curated_order_items SEMI JOIN batch_item_ids USING (id)
UNION
SELECT order_id FROM batch_order_items
UNION
-- the current order of every current item of a batch product
SELECT order_id FROM {_CURRENT_ITEMS_OF_BATCH_PRODUCTS}
WHERE product_id IN (SELECT id FROM batch_product_ids);
"""
_TOUCHED_DATES_SQL = f"""
SELECT order_date FROM (
    -- every version of the batch's orders: a correction can move an order or cancel it
    SELECT order_date FROM curated_orders SEMI JOIN batch_order_ids USING (order_id)
    UNION
    SELECT order_date FROM batch_orders
    UNION
    -- the current date of every order an item of the batch, or of a batch product, is in
    SELECT order_date FROM {_CURRENT_AFFECTED_ORDERS}
)
WHERE order_date IS NOT NULL
ORDER BY order_date
"""


def touched_dates(connection: duckdb.DuckDBPyConnection, batch: CuratedPaths) -> list[date]:
    """Order dates whose KPIs the batch's curated files change, ascending.

    Needs ``register_curated`` on the same connection first.
    """
    if batch.is_empty():
        return []
    _register_raw(connection, "batch", batch)
    return touched_dates_of_views(connection)


def touched_dates_of_views(connection: duckdb.DuckDBPyConnection) -> list[date]:
    """Touched dates of the batch exposed as the views ``batch_<kind>``."""
    connection.execute(_TOUCHED_KEYS_SQL)
    rows = connection.execute(_TOUCHED_DATES_SQL).fetchall()
    return [_as_date(row[0]) for row in rows]


_DATES_SQL = """
CREATE OR REPLACE TEMP TABLE kpi_dates AS
SELECT DISTINCT unnest(CAST($dates AS DATE[])) AS order_date
"""

_ORDER_FIELDS = "order_id, user_id, status, order_date"
_ORDER_COLUMNS = f"{_ORDER_FIELDS}, {VERSION_COLUMNS}"
_PRODUCT_VERSIONS = f"SELECT id, category, {VERSION_COLUMNS} FROM curated_products"
_ITEM_FIELDS = "order_id, user_id, product_id, status, sale_price"
_ITEM_COLUMNS = f"id, {_ITEM_FIELDS}, {VERSION_COLUMNS}"


def _counted_sql(*, every_date: bool) -> str:
    """``counted_orders`` and ``kpi_groups``, the two tables the KPI queries read.

    For chosen dates, every version read is first narrowed to the keys those dates can
    involve, so the work follows the dates rather than the history; for every date there
    is nothing to narrow.
    """
    if every_date:
        order_keys = item_keys = ""
        order_versions = f"SELECT {_ORDER_COLUMNS} FROM curated_orders"
        on_dates = "true"
        item_versions = f"SELECT {_ITEM_COLUMNS} FROM curated_order_items"
    else:
        # every version of every order that has any version on a chosen date: the current
        # version of an order now on a chosen date is always among them
        # (key tables first, for the reasons given above _TOUCHED_KEYS_SQL)
        order_keys = """
CREATE OR REPLACE TEMP TABLE kpi_order_ids AS
SELECT DISTINCT order_id FROM curated_orders SEMI JOIN kpi_dates USING (order_date);
"""
        order_versions = (
            f"SELECT {_ORDER_COLUMNS} FROM curated_orders SEMI JOIN kpi_order_ids USING (order_id)"
        )
        on_dates = "order_date IN (SELECT order_date FROM kpi_dates)"
        item_keys = """
CREATE OR REPLACE TEMP TABLE kpi_item_ids AS
SELECT DISTINCT id FROM curated_order_items SEMI JOIN counted_orders USING (order_id);
"""
        item_versions = (
            f"SELECT {_ITEM_COLUMNS} FROM curated_order_items SEMI JOIN kpi_item_ids USING (id)"
        )
    return f"""{order_keys}
CREATE OR REPLACE TEMP TABLE counted_orders AS
SELECT order_id, user_id, order_date
FROM {_current(order_versions, "order_id", _ORDER_FIELDS, streamed=every_date)}
WHERE {on_dates} AND status <> 'cancelled';
{item_keys}
-- Per date and category (and per whole date): sums over the counted items, and the
-- orders among them, each order once per category it has items in. Categories are
-- grouped by their rank among the categories, an integer: grouping millions of items
-- by an order id and a small integer costs a good deal less than by an id, a date and a
-- string (an order's date goes along, it depends on the order alone).
CREATE OR REPLACE TEMP TABLE kpi_groups AS
WITH products AS (
    SELECT id, category, dense_rank() OVER (ORDER BY category) AS category_rank
    FROM {_current(_PRODUCT_VERSIONS, "id", "id, category")}
),
order_categories AS (
    SELECT
        i.order_id,
        p.category_rank,
        any_value(o.order_date) AS order_date,
        count(*) AS items,
        sum(i.sale_price) AS revenue,
        bool_or(i.status = 'returned') AS returned
    FROM {_current(item_versions, "id", _ITEM_FIELDS, streamed=every_date)} AS i
    -- An item naming another customer than its order's breaks a domain rule: it never
    -- counts (the validator rejects it when both arrive in one batch; this holds across
    -- batches).
    JOIN counted_orders AS o ON o.order_id = i.order_id AND o.user_id = i.user_id
    JOIN products AS p ON p.id = i.product_id
    GROUP BY i.order_id, p.category_rank
),
groups AS (
    SELECT
        order_date,
        category_rank,
        GROUPING(category_rank) = 1 AS whole_day,
        sum(revenue) AS revenue,
        sum(items) AS items,
        count(*) AS orders,
        -- an order is returned in day scope when any of its categories is
        count(DISTINCT order_id) FILTER (WHERE returned) AS returned_orders
    FROM order_categories
    GROUP BY GROUPING SETS ((order_date, category_rank), (order_date))
)
SELECT g.order_date, c.category, g.whole_day, g.revenue, g.items, g.orders, g.returned_orders
FROM groups AS g
LEFT JOIN (SELECT DISTINCT category_rank, category FROM products) AS c
    ON c.category_rank = g.category_rank;
"""


# Small per-date tables joined: the orders side and the items side never meet row by row.
_DAY_SQL = """
WITH orders_per_day AS (
    SELECT order_date, count(*) AS total_orders, count(DISTINCT user_id) AS unique_customers
    FROM counted_orders
    GROUP BY order_date
)
SELECT
    o.order_date,
    o.total_orders,
    coalesce(g.revenue, CAST(0 AS DECIMAL(18, 2))) AS total_revenue,
    CAST(coalesce(g.items, 0) AS BIGINT) AS total_items_sold,
    -- orders with no counted item yet still count
    shopflow_ratio_2dp(100 * coalesce(g.returned_orders, 0), o.total_orders) AS return_rate,
    o.unique_customers
FROM orders_per_day AS o
LEFT JOIN kpi_groups AS g ON g.order_date = o.order_date AND g.whole_day
ORDER BY o.order_date
"""

_CATEGORY_SQL = """
SELECT
    category,
    order_date,
    revenue AS daily_revenue,
    shopflow_ratio_2dp(revenue, orders) AS avg_order_value,
    shopflow_ratio_2dp(100 * returned_orders, orders) AS avg_return_rate
FROM kpi_groups
WHERE NOT whole_day
ORDER BY order_date, category
"""


def all_order_dates(connection: duckdb.DuckDBPyConnection) -> list[date]:
    """Every order date any version of any curated order has, ascending."""
    rows = connection.execute(
        "SELECT DISTINCT order_date FROM curated_orders WHERE order_date IS NOT NULL "
        "ORDER BY order_date"
    ).fetchall()
    return [_as_date(row[0]) for row in rows]


def compute_kpis(
    connection: duckdb.DuckDBPyConnection, dates: Iterable[date]
) -> tuple[list[DayKpi], list[CategoryKpi]]:
    """Day and category KPIs of ``dates`` from all curated data (see the module docstring).

    Needs ``register_curated`` on the same connection first. Dates without counted orders
    are absent from the result, as are categories without counted orders on a date.
    """
    wanted = sorted(set(dates))
    if not wanted:
        return [], []
    connection.execute(_DATES_SQL, {"dates": wanted})
    connection.execute(_counted_sql(every_date=False))
    return _read_kpis(connection)


def compute_all_kpis(
    connection: duckdb.DuckDBPyConnection,
) -> tuple[list[date], list[DayKpi], list[CategoryKpi]]:
    """The KPIs of every order date of the curated data, and those dates (ascending).

    Gives what ``compute_kpis(connection, all_order_dates(connection))`` gives, without
    narrowing every version to the dates first: the first run over a shop's history, or
    a rebuild, pays for one pass over each table rather than for the narrowing joins.
    """
    dates = all_order_dates(connection)
    if not dates:
        return [], [], []
    connection.execute(_counted_sql(every_date=True))
    days, categories = _read_kpis(connection)
    return dates, days, categories


def _read_kpis(
    connection: duckdb.DuckDBPyConnection,
) -> tuple[list[DayKpi], list[CategoryKpi]]:
    return _rows(connection, _DAY_SQL, DayKpi), _rows(connection, _CATEGORY_SQL, CategoryKpi)


_Row = TypeVar("_Row", bound=KpiRow)


def _rows(connection: duckdb.DuckDBPyConnection, query: str, model: type[_Row]) -> list[_Row]:
    """The query's rows as ``model``s, its columns named as the model's fields.

    The models are strict: a column the model lacks, or a float where money is expected,
    fails loudly instead of being dropped or converted.
    """
    cursor = connection.execute(query)
    names = [column[0] for column in cursor.description or ()]
    return [model(**dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


# DuckDB hands back Python values typed as Any; this pins a date down.
def _as_date(value: object) -> date:
    if not isinstance(value, date):
        raise TypeError(f"expected a date, got {type(value).__name__}")
    return value
