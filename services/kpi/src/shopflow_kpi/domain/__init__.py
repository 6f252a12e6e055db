"""Pure KPI logic: definitions in SQL (DuckDB), results as plain values; no AWS."""

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
