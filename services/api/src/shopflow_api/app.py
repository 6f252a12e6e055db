"""The HTTP API (FastAPI) and the dashboard's files.

Every ``/v1`` answer is JSON with exact numbers (money is the ``Decimal`` rendered, never a
float), carries an ``ETag`` (a hash of its body) and ``Cache-Control``: a poller that sends
``If-None-Match`` gets ``304`` and no body while nothing changed. Bad input is a ``400``
naming the parameter; an unknown day or file a ``404``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, datetime
from importlib.resources import files
from typing import Any

import simplejson
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from shopflow_api.bootstrap import Services, open_services
from shopflow_api.domain.queries import (
    BadRequest,
    DateRange,
    NotFound,
    Page,
    check_category,
    page_of,
    parse_date,
    parse_limit,
    parse_range,
)
from shopflow_api.domain.runs import run_view
from shopflow_api.domain.summary import comparison_dates, summarise
from shopflow_api.ports import KpiStore
from shopflow_api.settings import ApiSettings

STATIC = files("shopflow_api") / "static"
JSON = "application/json"
ServicesFactory = Callable[[ApiSettings], AbstractAsyncContextManager[Services]]


def _plain(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def render(content: Any) -> bytes:
    """JSON with ``Decimal`` written as the number it is (``use_decimal``), dates as ISO."""
    text: str = simplejson.dumps(content, use_decimal=True, default=_plain)
    return text.encode()


class DecimalJSONResponse(Response):
    media_type = JSON

    def render(self, content: Any) -> bytes:
        return render(content)


def _error(status: int, body: dict[str, Any]) -> Response:
    return Response(render(body), status_code=status, media_type=JSON)


async def touch_health_file(settings: ApiSettings) -> None:
    """A loop that stops touching the file is a stuck process: the health check fails."""
    if settings.health_file is None:
        return
    while True:
        settings.health_file.touch()
        await asyncio.sleep(settings.health_touch_seconds)


def create_app(settings: ApiSettings, services_factory: ServicesFactory = open_services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with services_factory(settings) as services:
            app.state.services = services
            heartbeat = asyncio.create_task(touch_health_file(settings))
            try:
                yield
            finally:
                heartbeat.cancel()

    app = FastAPI(
        title="shopflow API",
        version="1",
        summary="The shop's daily and category KPIs, its pipeline runs and validation reports.",
        lifespan=lifespan,
        default_response_class=DecimalJSONResponse,
        # The interactive docs load their scripts from a CDN; the page must work offline.
        docs_url=None,
        redoc_url=None,
    )
    cache_control = f"max-age={settings.cache_max_age_seconds}, must-revalidate"

    def services(request: Request) -> Services:
        found: Services = request.app.state.services
        return found

    async def kpis(request: Request) -> KpiStore:
        """The KPI tables as of one published version for the whole request: a summary's
        day, its comparisons and its categories all come from the same run."""
        pinned: KpiStore | None = getattr(request.state, "kpis", None)
        if pinned is None:
            pinned = await services(request).kpis.pinned()
            request.state.kpis = pinned
        return pinned

    def cached(request: Request, content: Any) -> Response:
        body = render(content)
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Cache-Control": cache_control}
        wanted = request.headers.get("if-none-match", "")
        if etag in {tag.strip() for tag in wanted.split(",")} or wanted.strip() == "*":
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=JSON, headers=headers)

    def page_json(page: Page[Any], span: DateRange, request: Request) -> dict[str, Any]:
        following = None
        if page.next_from is not None:
            following = str(
                request.url.include_query_params(**{"from": page.next_from.isoformat()})
            )
        return {
            "from": span.first.isoformat(),
            "to": span.last.isoformat(),
            "items": [row.as_json() for row in page.items],
            "next": following,
        }

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, problem: BadRequest) -> Response:
        return _error(
            400,
            {
                "error": "bad_request",
                "parameter": problem.parameter,
                "message": str(problem),
                **problem.details,
            },
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, problem: RequestValidationError) -> Response:
        first = problem.errors()[0] if problem.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return _error(
            400,
            {
                "error": "bad_request",
                "parameter": where,
                "message": f"{where}: {first.get('msg', 'invalid')}",
            },
        )

    @app.exception_handler(NotFound)
    async def not_found(_: Request, problem: NotFound) -> Response:
        return _error(404, {"error": "not_found", "message": str(problem)})

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers (AWS is not called)."""
        return {"status": "ok"}

    @app.get("/v1/days", tags=["days"])
    async def days(
        request: Request,
        from_: str | None = Query(None, alias="from", description="First day, YYYY-MM-DD."),
        to: str | None = Query(None, description="Last day, YYYY-MM-DD (inclusive)."),
        limit: str | None = Query(None, description="Most days in this page."),
    ) -> Response:
        """The daily KPIs of every day with orders in the range, oldest first, paged: ``next``
        is the URL of the following page (null on the last)."""
        span = parse_range(from_, to, default_days=settings.default_range_days)
        size = parse_limit(limit, default=settings.max_page_days, maximum=settings.max_page_days)
        rows = await (await kpis(request)).days(span, size + 1)
        page = page_of(rows, size, lambda row: row.order_date)
        return cached(request, page_json(page, span, request))

    @app.get("/v1/days/{day}", tags=["days"])
    async def one_day(request: Request, day: str) -> Response:
        """One day's KPIs; 404 when the day had no counted orders."""
        wanted = parse_date("date", day)
        found = await (await kpis(request)).day(wanted)
        if found is None:
            raise NotFound(f"no KPIs for {wanted.isoformat()}: no counted orders that day")
        return cached(request, found.as_json())

    async def chosen_day(request: Request, text: str | None) -> date:
        if text is not None:
            return parse_date("date", text)
        latest = await (await kpis(request)).latest_day()
        if latest is None:
            raise NotFound("no KPIs yet: no run has computed any")
        return latest

    @app.get("/v1/categories", tags=["categories"])
    async def categories(
        request: Request,
        date_: str | None = Query(None, alias="date", description="YYYY-MM-DD; the latest day."),
    ) -> Response:
        """Every category's KPIs on one day, by revenue (highest first)."""
        day = await chosen_day(request, date_)
        rows = await (await kpis(request)).categories_on(day)
        if not rows and await (await kpis(request)).day(day) is None:
            raise NotFound(f"no KPIs for {day.isoformat()}: no counted orders that day")
        ranked = sorted(rows, key=lambda row: (-row.daily_revenue, row.category))
        return cached(request, {"date": day.isoformat(), "items": [r.as_json() for r in ranked]})

    @app.get("/v1/categories/{category}", tags=["categories"])
    async def one_category(
        request: Request,
        category: str,
        from_: str | None = Query(None, alias="from", description="First day, YYYY-MM-DD."),
        to: str | None = Query(None, description="Last day, YYYY-MM-DD (inclusive)."),
        limit: str | None = Query(None, description="Most days in this page."),
    ) -> Response:
        """One category over a range of days, oldest first, paged like ``/v1/days``; 400 for
        a category no day has, with the known ones listed."""
        span = parse_range(from_, to, default_days=settings.default_range_days)
        size = parse_limit(limit, default=settings.max_page_days, maximum=settings.max_page_days)
        store = await kpis(request)
        rows = await store.category(category, span, size + 1)
        if not rows:
            # Known: the categories of the latest day (a Query, where a list of every
            # category ever seen would be a Scan).
            latest = await store.latest_day()
            on_latest = [] if latest is None else await store.categories_on(latest)
            check_category(category, [row.category for row in on_latest])
        body = page_json(page_of(rows, size, lambda r: r.order_date), span, request)
        return cached(request, {"category": category, **body})

    @app.get("/v1/summary", tags=["days"])
    async def summary(
        request: Request,
        date_: str | None = Query(None, alias="date", description="YYYY-MM-DD; the latest day."),
    ) -> Response:
        """How a day went: its totals and average order value, each against the day before
        and the same weekday a week before, and its top categories by revenue."""
        store = await kpis(request)
        day = await chosen_day(request, date_)
        found = await store.day(day)
        if found is None:
            raise NotFound(f"no KPIs for {day.isoformat()}: no counted orders that day")
        earlier = {label: await store.day(when) for label, when in comparison_dates(day).items()}
        return cached(request, summarise(found, earlier, await store.categories_on(day)))

    @app.get("/v1/runs", tags=["runs"])
    async def runs(
        request: Request, limit: str | None = Query(None, description="How many, newest first.")
    ) -> Response:
        """Recent runs: status (``PARTIAL``: succeeded with files quarantined), stages
        entered, duration, per-file row accounting, quarantined files, rejects by rule, and a
        failed run's typed error."""
        size = parse_limit(limit, default=20, maximum=settings.max_runs)
        listed = await services(request).runs.recent(size)
        return cached(request, {"items": [run_view(run).as_json() for run in listed]})

    @app.get("/v1/changes", tags=["runs"])
    async def changes(request: Request) -> Response:
        """A token that changes when a run starts or ends: poll this, refetch on a change."""
        return cached(request, {"token": await services(request).runs.latest_change()})

    @app.get("/v1/files/{key:path}/report", tags=["runs"])
    async def file_report(request: Request, key: str) -> Response:
        """Every validation report of one uploaded file (its object key, or its bare name),
        oldest first."""
        found = await services(request).reports.reports_of(key)
        if not found:
            raise NotFound(
                f"no validation report for {key!r}: never uploaded, not validated yet, or "
                "skipped (unrecognised, or identical to an earlier upload)"
            )
        return cached(request, {"file": key, "reports": found})

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app
