"""The API over real HTTP (its own process, aiobotocore) against moto: every endpoint, the
bad-input answers, the ETag round trip, and the numbers equal to the KPI tables'."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from api_stack import CATEGORIES, REPORT_SOURCE, ApiStack
from boto3.dynamodb.types import TypeDeserializer
from shopflow_kpi.adapters.dynamo import DynamoKpiRepository
from shopflow_kpi.ports import Stamp
from shopflow_runtime.kpi_versions import row_values


def get(stack: ApiStack, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{stack.url}{path}", params=params, timeout=30)


def exact(response: httpx.Response) -> Any:
    """The body with every JSON number read as the Decimal it spells."""
    return json.loads(response.text, parse_float=Decimal)


def table_item(stack: ApiStack, table: str, key: dict[str, str]) -> dict[str, Any]:
    """The row as stored (its own attributes, without the version bookkeeping)."""
    item = stack.clients["dynamodb"].get_item(
        TableName=table, Key={name: {"S": value} for name, value in key.items()}
    )["Item"]
    return row_values({name: TypeDeserializer().deserialize(v) for name, v in item.items()})


def test_every_day_of_a_range_equals_the_table_to_the_cent(api_stack: ApiStack) -> None:
    # Given days written by the kpi service's repository, across a new year
    # When the range is read through the API, page by page
    items: list[dict[str, Any]] = []
    url: str | None = f"{api_stack.url}/v1/days?from=2024-12-01&to=2025-01-14"
    pages = 0
    while url is not None:
        response = httpx.get(url, timeout=30)
        assert response.status_code == 200
        body = exact(response)
        items.extend(body["items"])
        url = body["next"]
        pages += 1
    # Then every day with a row is there once, in order, over more than one page (31 a page)
    assert pages == 2
    assert [item["order_date"] for item in items] == [
        day.order_date.isoformat() for day in api_stack.days
    ]
    # And each number is the table's, money to the cent
    for item in items:
        year = item["order_date"][:4]
        stored = table_item(
            api_stack, api_stack.daily_table, {"order_year": year, "order_date": item["order_date"]}
        )
        for name in ("total_orders", "total_revenue", "total_items_sold", "return_rate"):
            assert item[name] == stored[name], (item["order_date"], name)
        assert item["unique_customers"] == stored["unique_customers"]
        assert item["avg_order_value"] == (
            stored["total_revenue"] / stored["total_orders"]
        ).quantize(Decimal("0.01"))


def test_money_is_a_json_number_with_its_cents(api_stack: ApiStack) -> None:
    # Given a day whose revenue ends in a zero cent (DynamoDB keeps 1074.70 as 1074.7)
    day = next(d for d in api_stack.days if d.total_revenue.as_tuple().digits[-1] == 0)
    # When it is read
    response = get(api_stack, f"/v1/days/{day.order_date.isoformat()}")
    # Then the revenue is a JSON number, not a string, spelled with both places
    assert f'"total_revenue": {day.total_revenue:.2f},' in response.text


def test_one_day_and_an_unknown_day(api_stack: ApiStack) -> None:
    day = api_stack.days[0]
    found = get(api_stack, f"/v1/days/{day.order_date.isoformat()}")
    assert found.status_code == 200
    assert exact(found)["total_revenue"] == day.total_revenue
    # A day without orders (none on the 5th day) is a 404 saying so
    missing = get(api_stack, "/v1/days/2024-12-05")
    assert missing.status_code == 404
    assert "2024-12-05" in missing.json()["message"]


def test_bad_dates_and_ranges_are_400s_naming_the_parameter(api_stack: ApiStack) -> None:
    cases = {
        "/v1/days?from=2024-13-01&to=2025-01-01": "from",
        "/v1/days?from=2025-01-10&to=2025-01-01": "from",
        "/v1/days": "from",
        "/v1/days?from=2025-01-01&limit=0": "limit",
        "/v1/days?from=2025-01-01&limit=many": "limit",
        "/v1/days/yesterday": "date",
        "/v1/categories?date=01/02/2025": "date",
        "/v1/runs?limit=1000000": "limit",
    }
    for path, parameter in cases.items():
        response = httpx.get(f"{api_stack.url}{path}", timeout=30)
        assert response.status_code == 400, path
        body = response.json()
        assert body["parameter"] == parameter, path
        assert body["message"].startswith(f"{parameter}:"), path


def test_categories_of_a_day_by_revenue_equal_the_table(api_stack: ApiStack) -> None:
    day = api_stack.days[3].order_date.isoformat()
    body = exact(get(api_stack, "/v1/categories", date=day))
    assert [item["category"] for item in body["items"]] == list(reversed(CATEGORIES))
    for item in body["items"]:
        stored = table_item(
            api_stack, api_stack.category_table, {"category": item["category"], "order_date": day}
        )
        for name in ("daily_revenue", "avg_order_value", "avg_return_rate"):
            assert item[name] == stored[name]


def test_one_category_over_time_and_an_unknown_category(api_stack: ApiStack) -> None:
    # When one category is read over a range across the new year
    body = exact(
        get(api_stack, "/v1/categories/Jeans", **{"from": "2024-12-30", "to": "2025-01-02"})
    )
    # Then it has a row for each day with orders in the range
    expected = [
        d.order_date.isoformat()
        for d in api_stack.days
        if date(2024, 12, 30) <= d.order_date <= date(2025, 1, 2)
    ]
    assert [item["order_date"] for item in body["items"]] == expected
    # And a category no day has is a 400 listing the known ones
    unknown = get(api_stack, "/v1/categories/Socks", **{"from": "2024-12-01"})
    assert unknown.status_code == 400
    assert unknown.json()["known"] == sorted(CATEGORIES)
    assert "Socks" in unknown.json()["message"]


def test_summary_compares_with_the_day_before_and_a_week_before(api_stack: ApiStack) -> None:
    # Given a day whose day before and week before both have rows
    by_date = {d.order_date: d for d in api_stack.days}
    day = next(
        d
        for d in api_stack.days
        if d.order_date - timedelta(days=1) in by_date
        and d.order_date - timedelta(days=7) in by_date
    )
    previous = by_date[day.order_date - timedelta(days=1)]
    week_before = by_date[day.order_date - timedelta(days=7)]
    # When its summary is read
    body = exact(get(api_stack, "/v1/summary", date=day.order_date.isoformat()))
    # Then each card has its value and both changes, exact
    cards = {card["measure"]: card for card in body["cards"]}
    revenue = cards["total_revenue"]
    assert revenue["value"] == day.total_revenue
    assert revenue["previous_day"]["change"] == day.total_revenue - previous.total_revenue
    assert revenue["week_before"]["value"] == week_before.total_revenue
    assert cards["return_rate"]["previous_day"]["change"] == day.return_rate - previous.return_rate
    # And the top category is the one with the most revenue
    assert body["top_categories"][0]["category"] == CATEGORIES[-1]
    # And without a date it is the latest day's
    assert exact(get(api_stack, "/v1/summary"))["date"] == api_stack.days[-1].order_date.isoformat()


def test_runs_show_state_stages_accounting_quarantine_and_failure(api_stack: ApiStack) -> None:
    body = exact(get(api_stack, "/v1/runs", limit=10))
    runs = {run["run_id"]: run for run in body["items"]}
    assert list(runs) == ["run-partial", "run-failed"]
    partial = runs["run-partial"]
    assert partial["status"] == "PARTIAL"
    assert partial["stages"][-3:] == ["LoadData", "Validate", "ComputeKpis"]
    assert partial["quarantined"][0]["reason"] == "too many rejected rows"
    for line in partial["files"]:
        assert line["rows_in"] == (
            line["accepted"] + line["rejected"] + line["duplicates"] + line["pending"]
        )
    assert partial["rejects_by_rule"]
    failed = runs["run-failed"]
    assert failed["status"] == "FAILED"
    assert failed["failure"]["error"] == "shopflow.DataError"
    assert failed["failure"]["reason"] == "orders.csv has no header"


def test_a_files_report_by_key_and_by_name(api_stack: ApiStack) -> None:
    for wanted in (REPORT_SOURCE, REPORT_SOURCE.rsplit("/", 1)[-1]):
        response = get(api_stack, f"/v1/files/{wanted}/report")
        assert response.status_code == 200, wanted
        assert response.json()["reports"][0]["source_key"] == REPORT_SOURCE
    assert get(api_stack, "/v1/files/landing/nothing.csv/report").status_code == 404


def test_etag_round_trip_answers_304_without_a_body(api_stack: ApiStack) -> None:
    first = get(api_stack, "/v1/days", **{"from": "2024-12-01", "to": "2024-12-10"})
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    again = httpx.get(
        f"{api_stack.url}/v1/days",
        params={"from": "2024-12-01", "to": "2024-12-10"},
        headers={"If-None-Match": etag},
        timeout=30,
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = httpx.get(
        f"{api_stack.url}/v1/days",
        params={"from": "2024-12-01", "to": "2024-12-11"},
        headers={"If-None-Match": etag},
        timeout=30,
    )
    assert other.status_code == 200


def test_health_openapi_and_changes(api_stack: ApiStack) -> None:
    assert get(api_stack, "/healthz").json() == {"status": "ok"}
    paths = get(api_stack, "/openapi.json").json()["paths"]
    for path in (
        "/v1/days",
        "/v1/days/{day}",
        "/v1/categories",
        "/v1/categories/{category}",
        "/v1/summary",
        "/v1/runs",
        "/v1/files/{key}/report",
        "/healthz",
    ):
        assert path in paths, path
    assert get(api_stack, "/v1/changes").json()["token"]


def test_a_kpi_run_that_has_not_published_is_not_seen_until_it_does(api_stack: ApiStack) -> None:
    # Given a KPI run that has rewritten one day in both tables but not yet published
    day = api_stack.days[0]
    changed = day.model_copy(update={"total_revenue": day.total_revenue + Decimal("100.00")})
    dynamodb = api_stack.clients["dynamodb"]
    writer = DynamoKpiRepository(
        dynamodb,
        api_stack.daily_table,
        api_stack.category_table,
        ledger_table=api_stack.ledger_table,
    )
    stamp = Stamp(batch_id="b-api-unpublished", computed_at=datetime(2025, 1, 21, 6, tzinfo=UTC))
    writer.begin(stamp)
    writer.write_day_rows([changed], stamp)
    path = f"/v1/days/{day.order_date.isoformat()}"
    # Then the API answers with the published run's numbers, in the day and in a range
    assert exact(get(api_stack, path))["total_revenue"] == day.total_revenue
    first = exact(
        get(
            api_stack,
            "/v1/days",
            **{"from": day.order_date.isoformat(), "to": day.order_date.isoformat()},
        )
    )
    assert [item["total_revenue"] for item in first["items"]] == [day.total_revenue]
    # When that run dies and the next run writes the day back as it was, and publishes
    again = Stamp(batch_id="b-api-test", computed_at=datetime(2025, 1, 20, 6, tzinfo=UTC))
    writer.begin(again)
    writer.write_day_rows([day], again)
    writer.publish(again)
    # Then the dead run's numbers were never seen, and the day reads as before
    assert exact(get(api_stack, path))["total_revenue"] == day.total_revenue
