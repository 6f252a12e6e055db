"""The API's domain: exact ratios, checked requests, pages, deltas, runs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from shopflow_api.domain.model import DayKpis, ratio_to_cents
from shopflow_api.domain.queries import BadRequest, page_of, parse_limit, parse_range
from shopflow_api.domain.runs import Execution, failure_in, run_view
from shopflow_api.domain.summary import delta, percent_of, summarise


def day(when: str, orders: int, revenue: str, rate: str = "0") -> DayKpis:
    return DayKpis(
        order_date=date.fromisoformat(when),
        total_orders=orders,
        total_revenue=Decimal(revenue),
        total_items_sold=orders,
        return_rate=Decimal(rate),
        unique_customers=orders,
    )


def test_ratios_round_half_away_from_zero_exactly() -> None:
    # 0.125 is a half: up to 0.13; -0.125 down to -0.13; 2/3 of a cent-exact sum
    assert ratio_to_cents(Decimal("0.25"), 2) == Decimal("0.13")
    assert ratio_to_cents(Decimal("-0.25"), 2) == Decimal("-0.13")
    assert ratio_to_cents(Decimal("200.00"), 3) == Decimal("66.67")
    assert day("2025-01-01", 3, "100.00").avg_order_value == Decimal("33.33")


def test_percent_changes_and_shares() -> None:
    assert percent_of(Decimal("-25"), Decimal("200")) == Decimal("-12.50")
    assert percent_of(Decimal("1"), Decimal("0")) is None
    # A rate changes in points: no percent of a percent
    assert delta(Decimal("5.00"), Decimal("4.00"), "return_rate") == {
        "value": Decimal("4.00"),
        "change": Decimal("1.00"),
    }
    assert delta(Decimal("5"), None, "total_orders") is None


def test_a_range_is_checked_and_completed() -> None:
    assert parse_range("2025-01-01", None, default_days=7).last == date(2025, 1, 7)
    assert parse_range(None, "2025-01-07", default_days=7).first == date(2025, 1, 1)
    with pytest.raises(BadRequest, match=r"from: from \(2025-02-01\) is after to"):
        parse_range("2025-02-01", "2025-01-01", default_days=7)
    with pytest.raises(BadRequest, match="to: '2025-02-30' is not a date"):
        parse_range("2025-02-01", "2025-02-30", default_days=7)
    with pytest.raises(BadRequest, match="limit: must be from 1 to 10"):
        parse_limit("11", default=5, maximum=10)


def test_a_page_says_where_the_next_one_starts() -> None:
    rows = [day(f"2025-01-0{n}", 1, "1") for n in range(1, 5)]
    page = page_of(rows, 3, lambda row: row.order_date)
    assert [r.order_date.day for r in page.items] == [1, 2, 3]
    assert page.next_from == date(2025, 1, 4)
    assert page_of(rows, 4, lambda row: row.order_date).next_from is None


def test_summary_without_an_earlier_day_has_no_delta() -> None:
    today = day("2025-01-08", 4, "100.00", "25.00")
    body = summarise(
        today, {"previous_day": day("2025-01-07", 2, "80.00"), "week_before": None}, []
    )
    orders = next(card for card in body["cards"] if card["measure"] == "total_orders")
    assert orders["previous_day"] == {"value": 2, "change": 2, "percent": Decimal("100.00")}
    assert orders["week_before"] is None
    aov = next(card for card in body["cards"] if card["measure"] == "avg_order_value")
    assert aov["value"] == Decimal("25.00")
    assert aov["previous_day"]["change"] == Decimal("-15.00")


def _execution(status: str, output: Mapping[str, object] | None) -> Execution:
    started = datetime(2025, 1, 1, 6, tzinfo=UTC)
    return Execution(
        name="run-1",
        status=status,
        started_at=started,
        stopped_at=started.replace(minute=1),
        output=None if output is None else json.dumps(output),
        entered_states=["LoadData", "ValidateData", "ComputeKpis"],
    )


def _file(status: str = "accepted") -> dict[str, object]:
    return {
        "kind": "order_items",
        "source_key": "landing/items.csv",
        "rows_in": 10,
        "accepted": 7,
        "rejected": 3,
        "status": status,
        "top_reasons": [{"rule": "bad_money", "count": 3}],
        "report_key": "reports/batch=b/0000-items.report.json",
    }


def test_a_run_settles_accepted_rows_the_kpi_stage_found_pending() -> None:
    output = {
        "validation": {"payload": {"files": [_file()]}},
        "kpis": {"payload": {"settled_files": [{"source_key": "landing/items.csv", "pending": 2}]}},
        "load": {"payload": {"skipped": [{"source_key": "landing/x.csv", "reason": "empty_file"}]}},
    }
    view = run_view(_execution("SUCCEEDED", output)).as_json()
    assert view["status"] == "SUCCEEDED"
    line = view["files"][0]
    assert (line["accepted"], line["pending"], line["rejected"]) == (5, 2, 3)
    assert view["totals"]["rows_in"] == 10
    assert view["duration_seconds"] == 60
    assert view["skipped"][0]["reason"] == "empty_file"
    assert view["rejects_by_rule"] == {"bad_money": 3}


def test_a_succeeded_run_with_a_quarantined_file_is_partial() -> None:
    output = {"validation": {"payload": {"files": [_file("quarantined")]}}}
    view = run_view(_execution("SUCCEEDED", output)).as_json()
    assert view["status"] == "PARTIAL"
    assert view["execution_status"] == "SUCCEEDED"
    assert view["quarantined"][0]["source_key"] == "landing/items.csv"


def test_a_failure_is_read_from_the_failure_paths_input() -> None:
    history = [
        {"stateEnteredEventDetails": {"name": "LoadData", "input": "{}"}},
        {
            "stateEnteredEventDetails": {
                "name": "DescribeFailure",
                "input": json.dumps(
                    {"error": {"Error": "shopflow.DataError", "Cause": '{"reason": "no header"}'}}
                ),
            }
        },
    ]
    assert failure_in(history) == {"error": "shopflow.DataError", "reason": "no header"}
    assert failure_in(history[:1]) is None
