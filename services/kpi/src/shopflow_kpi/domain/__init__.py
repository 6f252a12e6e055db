"""Pure KPI logic: definitions in SQL (DuckDB), results as plain values; no AWS.

Usage (what the handler does, and what a benchmark can call directly)::

    connection = duckdb.connect()
    register_curated(connection, CuratedPaths(orders=[...], order_items=[...], products=[...]))
    dates = touched_dates(connection, CuratedPaths(...the batch's files...))
    days, categories = compute_kpis(connection, dates)

or, for every date at once (a first run over the history)::

    dates, days, categories = compute_all_kpis(connection)

or, incrementally, over a persistent database that loads each curated file once::

    state = CuratedState.open(duckdb.connect("kpi-state.duckdb"))
    state.load([CuratedFileRef(kind, key, version, local_path), ...])
    days, categories = compute_kpis(connection, state.touched_dates(batch_keys))
"""

from shopflow_kpi.domain.kpis import (
    all_order_dates,
    compute_all_kpis,
    compute_kpis,
    register_curated,
    touched_dates,
)
from shopflow_kpi.domain.model import CategoryKpi, CuratedPaths, DayKpi
from shopflow_kpi.domain.state import CuratedFileRef, CuratedState, PendingItem, PendingSummary

__all__ = [
    "CategoryKpi",
    "CuratedFileRef",
    "CuratedPaths",
    "CuratedState",
    "DayKpi",
    "PendingItem",
    "PendingSummary",
    "all_order_dates",
    "compute_all_kpis",
    "compute_kpis",
    "register_curated",
    "touched_dates",
]
