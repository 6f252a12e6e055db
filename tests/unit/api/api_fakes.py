"""In-memory implementations of the API's ports (type-checked against them by mypy)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from shopflow_api.bootstrap import Services
from shopflow_api.domain.model import CategoryKpis, DayKpis
from shopflow_api.domain.queries import DateRange
from shopflow_api.domain.runs import Execution
from shopflow_api.ports import KpiStore, ReportStore, RunHistory
from shopflow_api.settings import ApiSettings


class FakeKpiStore:
    def __init__(self, days: list[DayKpis], categories: list[CategoryKpis]) -> None:
        self.days_by_date = {day.order_date: day for day in days}
        self.categories = categories
        self.calls: list[str] = []

    async def pinned(self) -> FakeKpiStore:
        return self

    async def day(self, order_date: date) -> DayKpis | None:
        self.calls.append("day")
        return self.days_by_date.get(order_date)

    async def days(self, span: DateRange, limit: int) -> list[DayKpis]:
        self.calls.append("days")
        inside = [
            d for when, d in sorted(self.days_by_date.items()) if span.first <= when <= span.last
        ]
        return inside[:limit]

    async def categories_on(self, order_date: date) -> list[CategoryKpis]:
        return [row for row in self.categories if row.order_date == order_date]

    async def category(self, category: str, span: DateRange, limit: int) -> list[CategoryKpis]:
        rows = [
            row
            for row in sorted(self.categories, key=lambda r: r.order_date)
            if row.category == category and span.first <= row.order_date <= span.last
        ]
        return rows[:limit]

    async def latest_day(self, on_or_before: date | None = None) -> date | None:
        known = [d for d in self.days_by_date if on_or_before is None or d <= on_or_before]
        return max(known, default=None)


class FakeRunHistory:
    def __init__(self, executions: list[Execution]) -> None:
        self.executions = executions

    async def recent(self, limit: int) -> list[Execution]:
        return sorted(self.executions, key=lambda e: e.started_at, reverse=True)[:limit]

    async def latest_change(self) -> str:
        return "|".join(f"{e.name}:{e.status}" for e in self.executions)


class FakeReportStore:
    def __init__(self, reports: dict[str, list[dict[str, Any]]]) -> None:
        self.reports = reports

    async def reports_of(self, file: str) -> list[dict[str, Any]]:
        return self.reports.get(file, [])


def services_of(
    kpis: KpiStore, runs: RunHistory | None = None, reports: ReportStore | None = None
) -> Any:
    services = Services(kpis, runs or FakeRunHistory([]), reports or FakeReportStore({}))

    @asynccontextmanager
    async def factory(_: ApiSettings) -> AsyncIterator[Services]:
        yield services

    return factory


def api_settings(**fields: Any) -> ApiSettings:
    return ApiSettings(
        daily_kpis_table="daily",
        category_kpis_table="category",
        ledger_table="ledger",
        data_bucket="data",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:pipeline",
        **fields,
    )
