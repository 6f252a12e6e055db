"""What a user would write instead of shopflow: short, idiomatic Polars and DuckDB scripts.

Each validates the three exports with the usual rules (types, required cells, the status
vocabulary, non-negative money, events not before creation, a returned order has its
``returned_at``, ``num_of_item >= 1``), writes the accepted rows as Parquet, then computes the
KPIs of ``shopflow_kpi`` from them (the last accepted row of a key counts; cancelled orders
count nowhere; ratios rounded half away from zero in integer cents). They do less than
shopflow: no line numbers, no raw text of rejected rows, no within-file repeats, no report.
Money is read with each tool's own decimal cast (no float on the way), so the KPI tables can
be compared with shopflow's and pandas' to the cent.

Written the way the tools' documentation shows, not tuned: a plain ``read_csv`` of text
columns, casts that turn a bad cell into null, one filter, ``write_parquet``/``COPY``, joins
and group-bys.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS
from shopflow_contracts.rows import ORDER_STATUSES

from shopflow_bench.pandas_baseline import INTEGER, MONEY, SCHEMAS, STATUS, TIMESTAMP

EVENTS = ("shipped_at", "delivered_at", "returned_at")


def _kind(columns: Sequence[str]) -> str:
    names = {name.strip().lower() for name in columns}
    for kind in ("order_items", "orders", "products"):
        if {c for c, (_, needed) in SCHEMAS[kind].items() if needed} <= names:
            return kind
    raise ValueError(f"unrecognised header: {list(columns)}")


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- DuckDB ------------------------------------------------------------------------------


def duckdb_validate(paths: Sequence[Path], out_dir: Path, threads: int) -> dict[str, Any]:
    """``read_csv`` as text, ``TRY_CAST`` each column, one ``WHERE``, ``COPY`` to Parquet."""
    import duckdb

    out_dir.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(config={"threads": threads})
    connection.execute("SET TimeZone = 'UTC'")
    files = []
    for index, path in enumerate(paths):
        source = f"read_csv({_sql_text(str(path))}, all_varchar = true, ignore_errors = true)"
        columns = [
            str(row[0]) for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        ]
        kind = _kind(columns)
        present = {name.lower(): name for name in columns}
        typed, checks = [], []
        for column, (column_type, required) in SCHEMAS[kind].items():
            if column not in present:
                continue
            cell = f"nullif(trim(\"{present[column]}\"), '')"
            if column_type == INTEGER:
                value = f"TRY_CAST({cell} AS BIGINT)"
            elif column_type == MONEY:
                value = f"TRY_CAST({cell} AS DECIMAL(18,2))"
            elif column_type == TIMESTAMP:
                value = f"TRY_CAST(replace({cell}, ' UTC', '') AS TIMESTAMPTZ)"
            elif column_type == STATUS:
                value = f"lower({cell})"
            else:
                value = cell
            typed.append(f"{value} AS {column}")
            valid = f"({cell} IS NULL OR {value} IS NOT NULL)"
            if column_type == STATUS:
                vocabulary = ", ".join(_sql_text(status) for status in ORDER_STATUSES)
                valid = f"({cell} IS NULL OR {value} IN ({vocabulary}))"
            if column_type == MONEY:
                valid += f" AND coalesce({value} >= 0, true)"
            if required:
                checks.append(f"{cell} IS NOT NULL")
            checks.append(valid)
        rules = [f"coalesce({event} >= created_at, true)" for event in EVENTS if event in present]
        if "num_of_item" in present:
            rules.append("num_of_item >= 1")
        if "returned_at" in present:
            rules.append("NOT (status = 'returned' AND returned_at IS NULL)")
        target = out_dir / f"{index}-{kind}.parquet"
        (rows_in,) = connection.execute(f"SELECT count(*) FROM {source}").fetchone() or (0,)
        (accepted,) = connection.execute(
            f"""COPY (
                SELECT * FROM (SELECT {", ".join(typed)} FROM {source} WHERE {" AND ".join(checks)})
                WHERE {" AND ".join(rules) or "true"}
            ) TO {_sql_text(str(target))} (FORMAT parquet)"""
        ).fetchone() or (0,)
        files.append({"kind": kind, "path": str(target), "rows_in": rows_in, "accepted": accepted})
    connection.close()
    return {"files": files, "rows_in": sum(int(f["rows_in"]) for f in files)}


_KPI_SQL = """
WITH orders AS (
    SELECT order_id, user_id, created_at::DATE AS order_date FROM (
        SELECT *, row_number() OVER (
            PARTITION BY order_id ORDER BY source DESC, file_row_number DESC
        ) AS latest
        FROM read_parquet({orders}, filename = source, file_row_number = true)
    ) WHERE latest = 1 AND status <> 'cancelled'
),
products AS (
    SELECT id AS product_id, category FROM (
        SELECT *, row_number() OVER (
            PARTITION BY id ORDER BY source DESC, file_row_number DESC
        ) AS latest
        FROM read_parquet({products}, filename = source, file_row_number = true)
    ) WHERE latest = 1
),
items AS (
    SELECT i.order_id, o.order_date, p.category, (i.sale_price * 100)::BIGINT AS cents,
           i.status = 'returned' AS returned
    FROM (
        SELECT *, row_number() OVER (
            PARTITION BY id ORDER BY source DESC, file_row_number DESC
        ) AS latest
        FROM read_parquet({items}, filename = source, file_row_number = true)
    ) AS i
    JOIN orders AS o USING (order_id)
    JOIN products AS p USING (product_id)
    WHERE i.latest = 1
),
per_order AS (
    SELECT o.order_date, o.order_id, o.user_id, count(i.order_id) AS items,
           coalesce(sum(i.cents), 0) AS cents, coalesce(bool_or(i.returned), false) AS returned
    FROM orders AS o LEFT JOIN items AS i USING (order_id)
    GROUP BY ALL
),
days AS (
    SELECT order_date, count(*) AS total_orders, sum(cents)::BIGINT AS cents,
           sum(items)::BIGINT AS total_items_sold, count(*) FILTER (WHERE returned) AS returned,
           count(DISTINCT user_id) AS unique_customers
    FROM per_order GROUP BY order_date
)
SELECT order_date::VARCHAR, total_orders, cents, total_items_sold,
       (2 * 10000 * returned + total_orders) // (2 * total_orders) AS rate, unique_customers
FROM days ORDER BY order_date
"""

_CATEGORY_SQL = """
SELECT category, order_date::VARCHAR, sum(cents)::BIGINT AS cents, count(*) AS orders,
       count(*) FILTER (WHERE returned) AS returned
FROM (
    SELECT category, order_date, order_id, sum(cents) AS cents, bool_or(returned) AS returned
    FROM items GROUP BY ALL
) GROUP BY category, order_date ORDER BY category, order_date
"""


def _two_places(hundredths: int) -> str:
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def _day_records(rows: list[tuple[Any, ...]]) -> list[dict[str, str]]:
    records = []
    for order_date, orders, cents, items, rate, customers in rows:
        values = (order_date, orders, _two_places(int(cents)), items, _two_places(int(rate)))
        records.append(dict(zip(DAY_KPI_COLUMNS, (*map(str, values), str(customers)), strict=True)))
    return records


def _category_records(rows: list[tuple[Any, ...]]) -> list[dict[str, str]]:
    records = []
    for category, order_date, cents, orders, returned in rows:
        cents, orders, returned = int(cents), int(orders), int(returned)
        values = (
            str(category),
            str(order_date),
            _two_places(cents),
            _two_places((2 * cents + orders) // (2 * orders)),
            _two_places((2 * 10000 * returned + orders) // (2 * orders)),
        )
        records.append(dict(zip(CATEGORY_KPI_COLUMNS, values, strict=True)))
    return records


def duckdb_kpis(files: Sequence[dict[str, Any]], threads: int) -> dict[str, Any]:
    """The KPI tables from ``duckdb_validate``'s Parquet: window dedup, joins, GROUP BY."""
    import duckdb

    def listed(kind: str) -> str:
        return "[" + ", ".join(_sql_text(f["path"]) for f in files if f["kind"] == kind) + "]"

    connection = duckdb.connect(config={"threads": threads})
    connection.execute("SET TimeZone = 'UTC'")
    query = _KPI_SQL.format(
        orders=listed("orders"), products=listed("products"), items=listed("order_items")
    )
    days = connection.execute(query).fetchall()
    with_items = query[: query.index("\nper_order AS")].rstrip().rstrip(",")
    categories = connection.execute(f"{with_items}\n{_CATEGORY_SQL}").fetchall()
    (items,) = connection.execute(
        f"SELECT count(*) FROM read_parquet({listed('order_items')})"
    ).fetchone() or (0,)
    connection.close()
    return {
        "items": int(items),
        "days": _day_records(days),
        "categories": _category_records(categories),
    }


# --- Polars ------------------------------------------------------------------------------


def polars_validate(paths: Sequence[Path], out_dir: Path, threads: int) -> dict[str, Any]:
    """``read_csv`` as text, non-strict casts, one ``filter``, ``write_parquet``."""
    import polars as pl

    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[dict[str, Any]] = []
    for index, path in enumerate(paths):
        raw = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True)
        raw = raw.rename({name: name.strip().lower() for name in raw.columns})
        kind = _kind(raw.columns)
        typed, checks = [], []
        for column, (column_type, required) in SCHEMAS[kind].items():
            if column not in raw.columns:
                continue
            cell = pl.col(column).str.strip_chars().replace("", None)
            if column_type == INTEGER:
                value = cell.cast(pl.Int64, strict=False)
            elif column_type == MONEY:
                value = cell.cast(pl.Decimal(18, 2), strict=False)
            elif column_type == TIMESTAMP:
                value = (
                    cell.str.replace(" UTC", "", literal=True)
                    .str.replace("T", " ", literal=True)
                    .str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_zone="UTC")
                )
            elif column_type == STATUS:
                value = cell.str.to_lowercase()
            else:
                value = cell
            typed.append(value.alias(column))
            valid = cell.is_null() | value.is_not_null()
            if column_type == STATUS:
                valid = cell.is_null() | value.is_in(ORDER_STATUSES)
            if column_type == MONEY:
                valid &= (value >= 0).fill_null(True)
            if required:
                checks.append(cell.is_not_null())
            checks.append(valid)
        rules = [
            (pl.col(event) >= pl.col("created_at")).fill_null(True)
            for event in EVENTS
            if event in raw.columns
        ]
        if "num_of_item" in raw.columns:
            rules.append(pl.col("num_of_item") >= 1)
        if "returned_at" in raw.columns:
            rules.append(~((pl.col("status") == "returned") & pl.col("returned_at").is_null()))
        accepted = (
            raw.filter(pl.all_horizontal(checks)).select(typed).filter(pl.all_horizontal(rules))
            if rules
            else raw.filter(pl.all_horizontal(checks)).select(typed)
        )
        target = out_dir / f"{index}-{kind}.parquet"
        accepted.write_parquet(target)
        files.append(
            {"kind": kind, "path": str(target), "rows_in": raw.height, "accepted": accepted.height}
        )
    return {"files": files, "rows_in": sum(int(f["rows_in"]) for f in files)}


def polars_kpis(files: Sequence[dict[str, Any]], threads: int) -> dict[str, Any]:
    """The KPI tables from ``polars_validate``'s Parquet: ``unique(keep='last')``, joins,
    ``group_by``."""
    import polars as pl

    def latest(kind: str, key: str) -> pl.LazyFrame:
        paths = [f["path"] for f in files if f["kind"] == kind]
        return pl.scan_parquet(paths).unique(subset=key, keep="last", maintain_order=True)

    orders = (
        latest("orders", "order_id")
        .filter(pl.col("status") != "cancelled")
        .select("order_id", "user_id", pl.col("created_at").dt.date().alias("order_date"))
    )
    products = latest("products", "id").select(pl.col("id").alias("product_id"), "category")
    items = (
        latest("order_items", "id")
        .join(orders.select("order_id", "order_date"), on="order_id")
        .join(products, on="product_id")
        .select(
            "order_id",
            "order_date",
            "category",
            (pl.col("sale_price") * 100).cast(pl.Int64).alias("cents"),
            (pl.col("status") == "returned").alias("returned"),
        )
    )
    per_order = items.group_by("order_id").agg(
        pl.len().alias("items"), pl.col("cents").sum(), pl.col("returned").any()
    )
    days = (
        orders.join(per_order, on="order_id", how="left")
        .group_by("order_date")
        .agg(
            pl.len().alias("total_orders"),
            pl.col("cents").fill_null(0).sum(),
            pl.col("items").fill_null(0).sum().alias("total_items_sold"),
            pl.col("returned").fill_null(False).sum().alias("returned"),
            pl.col("user_id").n_unique().alias("unique_customers"),
        )
        .with_columns(
            (
                (2 * 10000 * pl.col("returned") + pl.col("total_orders"))
                // (2 * pl.col("total_orders"))
            ).alias("rate")
        )
        .sort("order_date")
        .select(
            pl.col("order_date").cast(pl.String),
            "total_orders",
            "cents",
            "total_items_sold",
            "rate",
            "unique_customers",
        )
    )
    categories = (
        items.group_by("category", "order_date", "order_id")
        .agg(pl.col("cents").sum(), pl.col("returned").any())
        .group_by("category", "order_date")
        .agg(pl.col("cents").sum(), pl.len().alias("orders"), pl.col("returned").sum())
        .sort("category", "order_date")
        .select("category", pl.col("order_date").cast(pl.String), "cents", "orders", "returned")
    )
    day_rows, category_rows = pl.collect_all([days, categories])
    item_count = (
        pl.scan_parquet([f["path"] for f in files if f["kind"] == "order_items"])
        .select(pl.len())
        .collect()
        .item()
    )
    return {
        "items": int(item_count),
        "days": _day_records(day_rows.rows()),
        "categories": _category_records(category_rows.rows()),
    }
