"""Pure KPI logic: definitions in SQL (DuckDB), results as plain values; no AWS.

Usage (what the handler does, and what a benchmark can call directly)::

    connection = duckdb.connect()
    register_curated(connection, CuratedPaths(orders=[...], order_items=[...], products=[...]))
    dates = touched_dates(connection, CuratedPaths(...the batch's files...))
    days, categories = compute_kpis(connection, dates)
"""

from shopflow_kpi.domain.kpis import compute_kpis, register_curated, touched_dates
from shopflow_kpi.domain.model import CategoryKpi, CuratedPaths, DayKpi

__all__ = [
    "CategoryKpi",
    "CuratedPaths",
    "DayKpi",
    "compute_kpis",
    "register_curated",
    "touched_dates",
]
