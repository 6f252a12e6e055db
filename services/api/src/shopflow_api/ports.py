"""What the API reads, as the HTTP layer needs it; adapters implement these on aiobotocore."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from shopflow_api.domain.model import CategoryKpis, DayKpis
from shopflow_api.domain.queries import DateRange
from shopflow_api.domain.runs import Execution


class KpiStore(Protocol):
    async def pinned(self) -> KpiStore:
        """This store as of the KPI version published now: both tables of one run."""
        ...

    async def day(self, order_date: date) -> DayKpis | None: ...

    async def days(self, span: DateRange, limit: int) -> list[DayKpis]:
        """The first ``limit`` days of ``span`` that have a row, in date order."""
        ...

    async def categories_on(self, order_date: date) -> list[CategoryKpis]: ...

    async def category(self, category: str, span: DateRange, limit: int) -> list[CategoryKpis]:
        """The first ``limit`` days of ``span`` on which ``category`` has a row."""
        ...

    async def latest_day(self, on_or_before: date | None = None) -> date | None:
        """The last day with a row (not after ``on_or_before`` when given)."""
        ...


class RunHistory(Protocol):
    async def recent(self, limit: int) -> list[Execution]:
        """The newest ``limit`` runs, newest first, each with its output and history."""
        ...

    async def latest_change(self) -> str:
        """A token that changes whenever a run starts or ends (the dashboard's refresh cue)."""
        ...


class ReportStore(Protocol):
    async def reports_of(self, file: str) -> list[dict[str, Any]]:
        """Every validation report of ``file`` (object key or bare name), oldest first."""
        ...
