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
from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeVar

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
    unique = [kind for kind in KPI_INPUTS if _files_keys_unique(connection, kind, curated.of(kind))]
    connection.execute("DELETE FROM curated_unique_keys")
    if unique:
        # Literals: a list parameter makes this tiny insert take seconds (DuckDB 1.5).
        values = ", ".join(f"({_sql_string(kind.value)})" for kind in unique)
        connection.execute(f"INSERT INTO curated_unique_keys VALUES {values}")


def prepare_session(connection: duckdb.DuckDBPyConnection) -> None:
    """Session settings and macros every KPI query relies on."""
    # Zone-less timestamps in the exports mean UTC; make the session agree.
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(_RATIO_MACRO)
    # Kinds whose curated keys are known to be unique across all their versions (none, until
    # register_curated finds out from the files).
    connection.execute("CREATE TEMP TABLE IF NOT EXISTS curated_unique_keys (kind VARCHAR)")


# Parquet key-value metadata the validator writes on every curated file: how many of its
# rows repeat a key of an earlier row of the file (0: the file's keys are unique).
KEY_REPEATS_METADATA = "shopflow.key_repeats"


def _files_keys_unique(
    connection: duckdb.DuckDBPyConnection, kind: FileKind, paths: Sequence[str]
) -> bool:
    """Whether no key of ``kind`` has two versions in ``paths``, told from metadata alone.

    True when every file says its keys are unique and the files' key ranges (their row
    groups' statistics) do not overlap, as files of consecutive ids do. Anything unknown
    (no statistics, no repeats count, a file without the key) means False: the versions
    are then picked as usual.
    """
    if not paths:
        return True
    files = "[" + ", ".join(_sql_string(p) for p in paths) + "]"
    key = KPI_INPUTS[kind].key
    rows = connection.execute(
        f"""
        WITH files AS (SELECT file_name FROM parquet_file_metadata({files})),
        ranges AS (
            SELECT file_name,
                   min(TRY_CAST(stats_min_value AS HUGEINT)) AS low,
                   max(TRY_CAST(stats_max_value AS HUGEINT)) AS high,
                   bool_and(stats_min_value IS NOT NULL AND stats_max_value IS NOT NULL)
                       AS has_statistics
            FROM parquet_metadata({files})
            WHERE path_in_schema = {_sql_string(key)}
            GROUP BY file_name
        ),
        repeats AS (
            SELECT file_name, decode(value) AS repeats
            FROM parquet_kv_metadata({files})
            WHERE decode(key) = {_sql_string(KEY_REPEATS_METADATA)}
        )
        SELECT r.low, r.high, coalesce(r.has_statistics, false), k.repeats
        FROM files AS f
        LEFT JOIN ranges AS r USING (file_name)
        LEFT JOIN repeats AS k USING (file_name)
        ORDER BY r.low
        """
    ).fetchall()
    previous_high = None
    for low, high, has_statistics, repeats in rows:
        if not has_statistics or repeats != "0" or low is None or high is None:
            return False
        if previous_high is not None and low <= previous_high:
            return False
        previous_high = high
    return True


def keys_known_unique(connection: duckdb.DuckDBPyConnection) -> set[FileKind]:
    """Kinds whose registered curated files hold each key once (see ``register_curated``)."""
    rows = connection.execute("SELECT kind FROM curated_unique_keys").fetchall()
    return {FileKind(row[0]) for row in rows}


# What tells the versions of a row apart, and their order, latest first (see "Current
# version").
VERSION_COLUMNS = "_ingest_seq, _source_key, _source_line"
LATEST_FIRST = (
    "_ingest_seq DESC NULLS LAST, _source_key DESC NULLS LAST, _source_line DESC NULLS LAST"
)


@dataclass(frozen=True)
class Step:
    """One named step of the KPI computation: the relations it reads, the one it creates.

    ``select`` reads only ``reads`` (and the session's macros); the step creates ``creates``
    from it, as a temporary table (computed once; its row count is then exact, so DuckDB
    builds each hash table on the small side and pushes the keys' range into the scans of
    the history) or as a view (re-read by each step that reads it: right for a plain scan
    of everything, too big to hold).
    """

    creates: str
    reads: tuple[str, ...]
    select: str
    keep: Literal["table", "view"] = "table"

    def run(self, connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute(
            f"CREATE OR REPLACE TEMP {self.keep.upper()} {self.creates} AS {self.select}"
        )


@dataclass(frozen=True)
class Query:
    """A named question over the steps' relations, whose rows are the answer."""

    name: str
    reads: tuple[str, ...]
    select: str


def _current(creates: str, versions: str, key: str, columns: str) -> Step:
    """``creates``: the current version of each ``key`` among ``versions`` (see "Current
    version").

    Almost every key has a single version, so the window that picks the latest one only
    runs on keys seen more than once; the rest stream through an anti-join. That keeps a
    full recomputation a pair of hash joins rather than a sort of the whole history.
    """
    return Step(
        creates,
        (versions,),
        f"""
        WITH repeated AS (SELECT {key} FROM {versions} GROUP BY {key} HAVING count(*) > 1)
        SELECT {columns} FROM {versions} ANTI JOIN repeated USING ({key})
        UNION ALL
        SELECT {columns} FROM (
            SELECT * FROM {versions} SEMI JOIN repeated USING ({key})
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {LATEST_FIRST}) = 1
        )""",
        keep="view",
    )


def _unique(creates: str, versions: str, columns: str) -> Step:
    """``creates``: ``versions`` as they are, each its key's only version (the curated files
    say their keys are unique and do not overlap), so there is nothing to pick."""
    return Step(creates, (versions,), f"SELECT {columns} FROM {versions}", keep="view")


# --- touched dates: which order dates a batch (views batch_<kind>) changes -----------------
# Every "current" is restricted to the keys a question is about before the window picks the
# latest version: the work follows the batch and the touched dates, while history is only
# scanned on a few narrow key columns.
TOUCHED_DATE_STEPS = (
    Step("batch_order_ids", ("batch_orders",), "SELECT DISTINCT order_id FROM batch_orders"),
    Step("batch_item_ids", ("batch_order_items",), "SELECT DISTINCT id FROM batch_order_items"),
    Step("batch_product_ids", ("batch_products",), "SELECT DISTINCT id FROM batch_products"),
    Step(
        "batch_product_item_ids",
        ("curated_order_items", "batch_product_ids"),
        """
        SELECT DISTINCT i.id FROM curated_order_items AS i
        SEMI JOIN batch_product_ids AS b ON b.id = i.product_id""",
    ),
    Step(
        "batch_product_item_versions",
        ("curated_order_items", "batch_product_item_ids"),
        f"""
        SELECT id, order_id, product_id, {VERSION_COLUMNS}
        FROM curated_order_items SEMI JOIN batch_product_item_ids USING (id)""",
    ),
    _current(
        "batch_product_current_items",
        "batch_product_item_versions",
        "id",
        "order_id, product_id",
    ),
    Step(
        "affected_order_ids",
        (
            "curated_order_items",
            "batch_item_ids",
            "batch_order_items",
            "batch_product_current_items",
            "batch_product_ids",
        ),
        """
        SELECT order_id FROM curated_order_items SEMI JOIN batch_item_ids USING (id)
        UNION
        SELECT order_id FROM batch_order_items
        UNION
        -- the current order of every current item of a batch product
        SELECT order_id FROM batch_product_current_items
        WHERE product_id IN (SELECT id FROM batch_product_ids)""",
    ),
    Step(
        "affected_order_versions",
        ("curated_orders", "affected_order_ids"),
        f"""
        SELECT order_id, order_date, {VERSION_COLUMNS}
        FROM curated_orders SEMI JOIN affected_order_ids USING (order_id)""",
    ),
    _current("affected_current_orders", "affected_order_versions", "order_id", "order_date"),
)
TOUCHED_DATES = Query(
    "touched_dates",
    ("curated_orders", "batch_order_ids", "batch_orders", "affected_current_orders"),
    """
    SELECT order_date FROM (
        -- every version of the batch's orders: a correction can move an order or cancel it
        SELECT order_date FROM curated_orders SEMI JOIN batch_order_ids USING (order_id)
        UNION
        SELECT order_date FROM batch_orders
        UNION
        -- the current date of every order an item of the batch, or of a batch product, is in
        SELECT order_date FROM affected_current_orders
    )
    WHERE order_date IS NOT NULL
    ORDER BY order_date""",
)


# --- the KPIs of chosen dates (table kpi_dates) ---------------------------------------------
_ORDER_FIELDS = "order_id, user_id, status, order_date"
_ORDER_COLUMNS = f"{_ORDER_FIELDS}, {VERSION_COLUMNS}"
_ITEM_FIELDS = "order_id, user_id, product_id, status, sale_price"
_ITEM_COLUMNS = f"id, {_ITEM_FIELDS}, {VERSION_COLUMNS}"


def chosen_dates(dates: Sequence[date]) -> Step:
    """``kpi_dates``: the dates asked for.

    Inlined as literals: a query parameter makes DuckDB's Python client import its optional
    dataframe libraries, seconds on a first call.
    """
    values = ", ".join(f"(DATE '{d.isoformat()}')" for d in dates)
    return Step(
        "kpi_dates", (), f"SELECT DISTINCT order_date FROM (VALUES {values}) AS t(order_date)"
    )


EVERY_DATE = Step(
    "kpi_dates",
    ("curated_orders",),
    "SELECT DISTINCT order_date FROM curated_orders WHERE order_date IS NOT NULL",
)


# Two ways to the versions the KPIs of kpi_dates read, each creating the view order_versions
# first and the view item_versions once counted_orders exists.
# For chosen dates: every version of every order that has any version on a chosen date (the
# current version of an order now on a chosen date is always among them), and every version
# of the items that name one of the counted orders; the work follows the dates.
def _narrowed(
    versions: str, curated: str, key: str, columns: str, by: str, on: str
) -> tuple[Step, ...]:
    """The view ``versions``: every version in ``curated`` of each ``key`` that has a version
    whose ``on`` is in the relation ``by``."""
    keys, kept = f"narrowed_{versions}_keys", f"narrowed_{versions}"
    return (
        Step(
            keys, (curated, by), f"SELECT DISTINCT {key} FROM {curated} SEMI JOIN {by} USING ({on})"
        ),
        Step(
            kept, (curated, keys), f"SELECT {columns} FROM {curated} SEMI JOIN {keys} USING ({key})"
        ),
        Step(versions, (kept,), f"FROM {kept}", keep="view"),
    )


NARROWED_ORDER_STEPS = _narrowed(
    "order_versions", "curated_orders", "order_id", _ORDER_COLUMNS, "kpi_dates", "order_date"
)
NARROWED_ITEM_STEPS = _narrowed(
    "item_versions", "curated_order_items", "id", _ITEM_COLUMNS, "counted_orders", "order_id"
)
# For every date: every version, nothing to narrow, read where it lies.
EVERY_ORDER_STEPS = (
    Step(
        "order_versions",
        ("curated_orders",),
        f"SELECT {_ORDER_COLUMNS} FROM curated_orders",
        keep="view",
    ),
)
EVERY_ITEM_STEPS = (
    Step(
        "item_versions",
        ("curated_order_items",),
        f"SELECT {_ITEM_COLUMNS} FROM curated_order_items",
        keep="view",
    ),
)

CURRENT_ORDERS = _current("current_orders", "order_versions", "order_id", _ORDER_FIELDS)
UNIQUE_ORDERS = _unique("current_orders", "order_versions", _ORDER_FIELDS)
CURRENT_ITEMS = _current("current_items", "item_versions", "id", _ITEM_FIELDS)
UNIQUE_ITEMS = _unique("current_items", "item_versions", _ITEM_FIELDS)

# Orders on dates not asked for may be among them (a version on a chosen date, the current
# one elsewhere): the KPI queries keep kpi_dates' rows only.
COUNTED_ORDERS = Step(
    "counted_orders",
    ("current_orders",),
    "SELECT order_id, user_id, order_date FROM current_orders WHERE status <> 'cancelled'",
)
# Categories are numbered by their rank among the categories: grouping millions of items by
# an order id and a small integer costs a good deal less than by an id, a date and a string.
CURRENT_PRODUCTS = (
    Step(
        "product_versions",
        ("curated_products",),
        f"SELECT id, category, {VERSION_COLUMNS} FROM curated_products",
        keep="view",
    ),
    _current("current_products", "product_versions", "id", "id, category"),
    Step(
        "kpi_products",
        ("current_products",),
        "SELECT id, category, dense_rank() OVER (ORDER BY category) AS category_rank "
        "FROM current_products",
    ),
)
# Per date and category (and per whole date): sums over the counted items, and the orders
# among them, each order once per category it has items in.
KPI_GROUPS = Step(
    "kpi_groups",
    ("current_items", "counted_orders", "kpi_products"),
    """
    WITH order_categories AS (
        SELECT
            i.order_id,
            p.category_rank,
            any_value(o.order_date) AS order_date,
            count(*) AS items,
            sum(i.sale_price) AS revenue,
            bool_or(i.status = 'returned') AS returned
        FROM current_items AS i
        -- An item naming another customer than its order's breaks a domain rule: it never
        -- counts (the validator rejects it when both arrive in one batch; this holds across
        -- batches).
        JOIN counted_orders AS o ON o.order_id = i.order_id AND o.user_id = i.user_id
        JOIN kpi_products AS p ON p.id = i.product_id
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
    SELECT g.order_date, c.category, g.whole_day, g.revenue, g.items, g.orders,
           g.returned_orders
    FROM groups AS g
    LEFT JOIN (SELECT DISTINCT category_rank, category FROM kpi_products) AS c
        ON c.category_rank = g.category_rank""",
)
# Small per-date tables joined: the orders side and the items side never meet row by row.
# The columns are named as the contract's DayKpi fields, in its order.
DAY_KPIS = Query(
    "day_kpis",
    ("counted_orders", "kpi_groups", "kpi_dates"),
    """
    WITH orders_per_day AS (
        SELECT order_date, count(*) AS total_orders, count(DISTINCT user_id) AS unique_customers
        FROM counted_orders SEMI JOIN kpi_dates USING (order_date)
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
    ORDER BY o.order_date""",
)
# The columns are named as the contract's CategoryKpi fields, in its order.
CATEGORY_KPIS = Query(
    "category_kpis",
    ("kpi_groups", "kpi_dates"),
    """
    SELECT
        category,
        order_date,
        revenue AS daily_revenue,
        shopflow_ratio_2dp(revenue, orders) AS avg_order_value,
        shopflow_ratio_2dp(100 * returned_orders, orders) AS avg_return_rate
    FROM kpi_groups SEMI JOIN kpi_dates USING (order_date)
    WHERE NOT whole_day
    ORDER BY order_date, category""",
)


def _run(connection: duckdb.DuckDBPyConnection, *steps: Step) -> None:
    for step in steps:
        step.run(connection)


def _ask(connection: duckdb.DuckDBPyConnection, query: Query) -> duckdb.DuckDBPyConnection:
    return connection.execute(query.select)


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
    _run(connection, *TOUCHED_DATE_STEPS)
    return [_as_date(row[0]) for row in _ask(connection, TOUCHED_DATES).fetchall()]


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
    are absent from the result, as are categories without counted orders on a date. Every
    version read is first narrowed to the keys those dates can involve, so the work follows
    the dates rather than the history.
    """
    wanted = sorted(set(dates))
    if not wanted:
        return [], []
    chosen_dates(wanted).run(connection)
    _run(connection, *NARROWED_ORDER_STEPS, CURRENT_ORDERS, COUNTED_ORDERS)
    _run(connection, *NARROWED_ITEM_STEPS, CURRENT_ITEMS, *CURRENT_PRODUCTS, KPI_GROUPS)
    return _read_kpis(connection)


def compute_all_kpis(
    connection: duckdb.DuckDBPyConnection,
) -> tuple[list[date], list[DayKpi], list[CategoryKpi]]:
    """The KPIs of every order date of the curated data, and those dates (ascending).

    Gives what ``compute_kpis(connection, all_order_dates(connection))`` gives, without
    narrowing every version to the dates first: the first run over a shop's history, or
    a rebuild, pays for one pass over each table rather than for the narrowing joins. Where
    the curated files say their keys are unique and their key ranges do not overlap
    (``register_curated``), no version needs picking and the pick is skipped.
    """
    EVERY_DATE.run(connection)
    dates = [
        _as_date(row[0])
        for row in connection.execute("SELECT order_date FROM kpi_dates ORDER BY 1").fetchall()
    ]
    if not dates:
        return [], [], []
    unique = keys_known_unique(connection)
    orders = UNIQUE_ORDERS if FileKind.ORDERS in unique else CURRENT_ORDERS
    items = UNIQUE_ITEMS if FileKind.ORDER_ITEMS in unique else CURRENT_ITEMS
    _run(connection, *EVERY_ORDER_STEPS, orders, COUNTED_ORDERS)
    _run(connection, *EVERY_ITEM_STEPS, items, *CURRENT_PRODUCTS, KPI_GROUPS)
    days, categories = _read_kpis(connection)
    return dates, days, categories


def _read_kpis(
    connection: duckdb.DuckDBPyConnection,
) -> tuple[list[DayKpi], list[CategoryKpi]]:
    return _rows(connection, DAY_KPIS, DayKpi), _rows(connection, CATEGORY_KPIS, CategoryKpi)


_Row = TypeVar("_Row", bound=KpiRow)


def _rows(connection: duckdb.DuckDBPyConnection, query: Query, model: type[_Row]) -> list[_Row]:
    """The query's rows as ``model``s, its columns named as the model's fields.

    The models are strict: a column the model lacks, or a float where money is expected,
    fails loudly instead of being dropped or converted.
    """
    cursor = _ask(connection, query)
    names = [column[0] for column in cursor.description or ()]
    return [model(**dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


# DuckDB hands back Python values typed as Any; this pins a date down.
def _as_date(value: object) -> date:
    if not isinstance(value, date):
        raise TypeError(f"expected a date, got {type(value).__name__}")
    return value
