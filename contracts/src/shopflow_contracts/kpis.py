"""The two KPI tables' columns, in export order: what people query and what CSV exports hold."""

from __future__ import annotations

CATEGORY_KPI_COLUMNS: tuple[str, ...] = (
    "category",
    "order_date",
    "daily_revenue",
    "avg_order_value",
    "avg_return_rate",
)
DAY_KPI_COLUMNS: tuple[str, ...] = (
    "order_date",
    "total_orders",
    "total_revenue",
    "total_items_sold",
    "return_rate",
    "unique_customers",
)
