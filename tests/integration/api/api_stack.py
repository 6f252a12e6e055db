"""What the API's HTTP tests read: KPI rows, a pipeline of Pass states answering the golden
stage results, and the stack the fixture builds from them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from shopflow_kpi.domain import CategoryKpi, DayKpi

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"
FIRST_DAY = date(2024, 12, 1)
DAYS = 45  # across a new year: two partitions of the day table
CATEGORIES = ("Accessories", "Jeans", "Outerwear & Coats")
REPORT_SOURCE = "landing/orders-2025-03.csv"


def day_rows() -> list[DayKpi]:
    rows = []
    for n in range(DAYS):
        if n % 9 == 4:  # some days have no orders, hence no row
            continue
        orders = 20 + n % 7
        rows.append(
            DayKpi(
                order_date=FIRST_DAY + timedelta(days=n),
                total_orders=orders,
                total_revenue=Decimal(f"{1000 + 37 * n}.{(n * 7) % 100:02d}"),
                total_items_sold=orders * 2 + n % 3,
                return_rate=Decimal(f"{n % 20}.{(n * 3) % 100:02d}"),
                unique_customers=orders - n % 4,
            )
        )
    return rows


def category_rows(days: list[DayKpi]) -> list[CategoryKpi]:
    rows = []
    for day in days:
        for index, category in enumerate(CATEGORIES):
            rows.append(
                CategoryKpi(
                    category=category,
                    order_date=day.order_date,
                    daily_revenue=Decimal(f"{100 * (index + 1) + day.order_date.day}.10"),
                    avg_order_value=Decimal(f"{40 + index}.05"),
                    avg_return_rate=Decimal(f"{index * 10}.00"),
                )
            )
    return rows


def _pass(result: Any, result_path: str, following: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Pass", "Result": result, "ResultPath": result_path}
    state.update({"Next": following} if following else {"End": True})
    return state


def pipeline_definition(quarantine: bool) -> str:
    """The pipeline's stage names, each a Pass state answering its golden result."""
    validation = json.loads((EXAMPLES / "validate_result.json").read_text())
    if quarantine:
        file = validation["payload"]["files"][0]
        file["status"] = "quarantined"
        file["quarantine"] = {
            "cause": "reject_threshold",
            "message": "too many rejected rows",
            "rejected_share": "0.6",
            "threshold": "0.5",
        }
    return json.dumps(
        {
            "StartAt": "Route",
            "States": {
                "Route": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "RunFailed"}],
                    "Default": "LoadData",
                },
                "LoadData": _pass(
                    json.loads((EXAMPLES / "load_result.json").read_text()), "$.load", "Validate"
                ),
                "Validate": _pass(validation, "$.validation", "ComputeKpis"),
                "ComputeKpis": _pass(
                    json.loads((EXAMPLES / "kpi_result.json").read_text()), "$.kpis", None
                ),
                "RunFailed": {"Type": "Fail", "Error": "shopflow.DataError", "Cause": "bad"},
            },
        }
    )


@dataclass(frozen=True)
class ApiStack:
    url: str
    clients: dict[str, Any]
    daily_table: str
    category_table: str
    ledger_table: str
    days: list[DayKpi]


def finished(sfn: Any, arn: str) -> None:
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{arn} still running")
        time.sleep(0.1)
