"""Pure KPI logic: definitions in SQL (DuckDB), results as plain values; no AWS, no storage.

Usage (what a benchmark can call directly)::

    connection = duckdb.connect()
    register_curated(connection, CuratedPaths(orders=[...], order_items=[...], products=[...]))
    dates = touched_dates(connection, CuratedPaths(...the batch's files...))
    days, categories = compute_kpis(connection, dates)

or, for every date at once (a first run over the history)::

    dates, days, categories = compute_all_kpis(connection)

The service runs the same queries over its persistent state, a repository that loads each
curated file once (``shopflow_kpi.adapters.duckdb_state.CuratedState``).
"""

from shopflow_kpi.domain.kpis import (
    all_order_dates,
    compute_all_kpis,
    compute_kpis,
    register_curated,
    touched_dates,
)
from shopflow_kpi.domain.model import (
    CategoryKpi,
    CuratedPaths,
    DayKpi,
    PendingItem,
    PendingSummary,
)

__all__ = [
    "CategoryKpi",
    "CuratedPaths",
    "DayKpi",
    "PendingItem",
    "PendingSummary",
    "all_order_dates",
    "compute_all_kpis",
    "compute_kpis",
    "register_curated",
    "touched_dates",
]
