"""The HTTP layer on fakes: status codes, error bodies, ETags, exact numbers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from api_fakes import FakeKpiStore, api_settings, services_of
from fastapi.testclient import TestClient
from shopflow_api.app import create_app
from shopflow_api.domain.model import CategoryKpis, DayKpis

DAYS = [
    DayKpis(
        order_date=date(2025, 1, n),
        total_orders=10,
        total_revenue=Decimal(f"{100 + n}.50"),
        total_items_sold=12,
        return_rate=Decimal("10.00"),
        unique_customers=9,
    )
    for n in range(1, 11)
]


def category(name: str, revenue: str, average: str, return_rate: str) -> CategoryKpis:
    return CategoryKpis(
        category=name,
        order_date=date(2025, 1, 10),
        daily_revenue=Decimal(revenue),
        avg_order_value=Decimal(average),
        avg_return_rate=Decimal(return_rate),
    )


CATEGORIES = [category("Jeans", "60.10", "30.05", "0"), category("Tops", "80.00", "40.00", "50")]


def client(**settings: object) -> TestClient:
    store = FakeKpiStore(DAYS, CATEGORIES)
    return TestClient(create_app(api_settings(**settings), services_of(store)))


def test_days_are_paged_with_a_next_link() -> None:
    with client(max_page_days=4) as api:
        body = api.get("/v1/days", params={"from": "2025-01-01", "to": "2025-01-10"}).json()
        assert [item["order_date"] for item in body["items"]] == [
            "2025-01-01",
            "2025-01-02",
            "2025-01-03",
            "2025-01-04",
        ]
        assert "from=2025-01-05" in body["next"]
        assert api.get(body["next"]).json()["items"][0]["order_date"] == "2025-01-05"


def test_numbers_are_json_numbers_with_two_places() -> None:
    with client() as api:
        text = api.get("/v1/days/2025-01-02").text
        assert '"total_revenue": 102.50' in text
        assert '"avg_order_value": 10.25' in text


def test_an_if_none_match_of_the_same_body_is_a_304() -> None:
    with client(cache_max_age_seconds=7) as api:
        first = api.get("/v1/summary", params={"date": "2025-01-10"})
        assert first.headers["cache-control"] == "max-age=7, must-revalidate"
        again = api.get(
            "/v1/summary",
            params={"date": "2025-01-10"},
            headers={"If-None-Match": f'W/"x", {first.headers["etag"]}'},
        )
        assert again.status_code == 304
        assert again.content == b""


def test_unknown_day_is_404_and_unknown_category_400_listing_known() -> None:
    with client() as api:
        assert api.get("/v1/days/2025-02-01").status_code == 404
        assert api.get("/v1/summary", params={"date": "2025-02-01"}).status_code == 404
        refused = api.get("/v1/categories/Socks", params={"from": "2025-01-01"})
        assert refused.status_code == 400
        assert refused.json()["known"] == ["Jeans", "Tops"]
        # A known category without rows in the range is an empty page, not an error
        quiet = api.get("/v1/categories/Jeans", params={"to": "2025-01-05"})
        assert quiet.status_code == 200
        assert quiet.json()["items"] == []


def test_the_days_categories_by_revenue() -> None:
    with client() as api:
        body = api.get("/v1/categories").json()
        assert body["date"] == "2025-01-10"
        assert [item["category"] for item in body["items"]] == ["Tops", "Jeans"]
