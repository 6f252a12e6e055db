"""The dashboard in headless Chromium (Debian's, driven by Playwright) after the bundled
sample ran through the local stack: the day's numbers, a range change, a category, the run
list, and a console without errors. Screenshots go to tests/e2e/screenshots/."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from e2e_stack import SAMPLE, Pipeline
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "chromium is missing: make setup-compiled installs it (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def _exact(response: httpx.Response) -> dict[str, object]:
    body: dict[str, object] = json.loads(response.text, parse_float=Decimal)
    return body


def _money(value: object) -> str:
    return f"{Decimal(str(value)):,.2f}"


def _chart_dates(page: Page, chart: str) -> list[str]:
    dates: list[str] = json.loads(page.get_attribute(f"#{chart}", "data-dates") or "[]")
    return dates


def test_the_dashboard_shows_the_samples_kpis_and_runs(
    pipeline: Pipeline, browser: Browser
) -> None:
    # Given the bundled sample through the local stack, and the table's latest day
    pipeline.upload(*sorted(p for p in SAMPLE.rglob("*.csv*")))
    executions = pipeline.settle()
    assert executions and all(e.status == "SUCCEEDED" for e in executions)
    api = pipeline.stack.api_url
    assert api is not None
    summary = _exact(httpx.get(f"{api}/v1/summary", timeout=30))
    day = summary["day"]
    assert isinstance(day, dict)
    SCREENSHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            problems.append(f"{message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))

    # When the dashboard opens
    page.goto(f"{api}/")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    # Then the cards show the latest day's numbers, exact to the cent
    assert page.text_content("#cards-date") == summary["date"]
    revenue = page.text_content('#cards li[data-measure="total_revenue"] .value')
    assert revenue == _money(day["total_revenue"])
    orders = page.text_content('#cards li[data-measure="total_orders"] .value')
    assert orders == f"{day['total_orders']:,}"
    # And the revenue chart holds the table's days of the last 30
    latest = date.fromisoformat(str(summary["date"]))
    shown = _chart_dates(page, "chart-total_revenue")
    days = _exact(
        httpx.get(
            f"{api}/v1/days",
            params={"from": (latest - timedelta(days=29)).isoformat(), "to": latest.isoformat()},
            timeout=30,
        )
    )["items"]
    assert isinstance(days, list)
    assert shown == [item["order_date"] for item in days]
    values = json.loads(page.get_attribute("#chart-total_revenue", "data-values") or "[]")
    assert [Decimal(str(v)) for v in values] == [item["total_revenue"] for item in days]

    # When the range is changed to the first week of those days (keyboard only)
    first = date.fromisoformat(shown[0])
    page.focus("#from")
    page.fill("#from", first.isoformat())
    page.fill("#to", (first + timedelta(days=6)).isoformat())
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(first) => document.querySelector('#range-label').textContent.startsWith(first)",
        arg=first.isoformat(),
        timeout=30_000,
    )
    page.wait_for_selector("body[data-ready=true]")
    # Then the chart's data is that week's
    narrowed = _chart_dates(page, "chart-total_revenue")
    assert narrowed and narrowed != shown
    assert all(first.isoformat() <= d <= (first + timedelta(days=6)).isoformat() for d in narrowed)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-range.png"), full_page=True)

    # When a category is chosen from the day's table
    first_category = page.get_attribute("#categories tbody button[data-category]", "data-category")
    assert first_category
    page.click(f'#categories tbody button[data-category="{first_category}"]')
    page.wait_for_selector("#chart-category:not([hidden])")
    page.wait_for_function(
        "document.querySelector('#chart-category').dataset.dates !== undefined", timeout=30_000
    )
    # Then its chart holds the category's rows over the range
    category_rows = _exact(
        httpx.get(
            f"{api}/v1/categories/{first_category}",
            params={"from": first.isoformat(), "to": (first + timedelta(days=6)).isoformat()},
            timeout=30,
        )
    )["items"]
    assert isinstance(category_rows, list)
    assert _chart_dates(page, "chart-category") == [row["order_date"] for row in category_rows]
    # And sorting by name puts the categories in order
    page.click('#categories th button[data-sort="category"]')
    names = page.eval_on_selector_all(
        "#categories tbody button[data-category]", "nodes => nodes.map(n => n.dataset.category)"
    )
    assert names == sorted(names, reverse=True) or names == sorted(names)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-category.png"), full_page=True)

    # And the run list shows the run, with its rows accounted for
    run_row = page.locator(f'#runs tbody tr[data-run="{executions[0].name}"]')
    assert run_row.count() == 1
    assert "SUCCEEDED" in (run_row.text_content() or "") or "PARTIAL" in (
        run_row.text_content() or ""
    )
    # And nothing went wrong in the page
    assert problems == []
