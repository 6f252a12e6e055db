"""The API under load: ``/v1/days`` over a year of data, 50 concurrent clients, against the
same query made with synchronous boto3 in threads.

Both sides run against one moto server on 127.0.0.1 holding 365 days (and their categories)
written by the kpi service's own repository. The API side is the real process
(``python -m shopflow_api``: uvicorn, aiobotocore) driven over HTTP by asyncio clients that
send no ``If-None-Match``, so every request reaches DynamoDB; the baseline is 50 threads each
calling ``Query`` (one per year spanned, paged) and turning the items into rows, with boto3's
shared thread-safe client and the same pool size. Each client repeats its request until the
section's time is up; latencies are per request, throughput is requests per second of wall
time. Run: ``python -m shopflow_bench.api_load [--clients 50] [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from shopflow_kpi.adapters.dynamo import DynamoKpiRepository
from shopflow_kpi.domain import CategoryKpi, DayKpi
from shopflow_kpi.ports import Stamp

from shopflow_bench.stats import percentile

BENCH_DIR = Path(__file__).resolve().parents[2]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"
YEAR = 2024
CATEGORIES = ("Accessories", "Dresses", "Jeans", "Outerwear & Coats", "Swim", "Tops & Tees")
DAILY, CATEGORY = "bench-daily-kpis", "bench-category-kpis"
# Holds the published KPI version the API reads as of (nothing published: rows as written).
LEDGER = "bench-ledger"
# /v1/days reads no runs; the setting is required all the same.
UNUSED_STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:unused"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 (loopback)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


@contextmanager
def _process(command: list[str], env: dict[str, str], url: str, what: str) -> Iterator[None]:
    process = subprocess.Popen(
        command,
        env={**os.environ, **CREDENTIALS, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(url, process, what)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _client(endpoint: str, pool: int) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(max_pool_connections=pool, retries={"mode": "standard"}),
    )


def _keys(hash_key: str, range_key: str) -> list[dict[str, str]]:
    return [
        {"AttributeName": hash_key, "KeyType": "HASH"},
        {"AttributeName": range_key, "KeyType": "RANGE"},
    ]


def _create_tables(dynamodb: Any) -> None:
    """The template's two KPI tables (keys, and the keys-only by_order_date index) and the
    ledger (``pk``, ``sk``)."""
    dynamodb.create_table(
        TableName=LEDGER,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        KeySchema=_keys("pk", "sk"),
    )
    for table, hash_key, index in (
        (DAILY, "order_year", None),
        (CATEGORY, "category", "by_order_date"),
    ):
        extra: dict[str, Any] = {}
        if index is not None:
            extra["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index,
                    "KeySchema": _keys("order_date", hash_key),
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ]
        dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in (hash_key, "order_date")
            ],
            KeySchema=_keys(hash_key, "order_date"),
            **extra,
        )


def _a_year_of_rows(dynamodb: Any) -> int:
    days = [date(YEAR, 1, 1) + timedelta(days=n) for n in range(366 if YEAR % 4 == 0 else 365)]
    day_rows = [
        DayKpi(
            order_date=d,
            total_orders=40 + n % 17,
            total_revenue=Decimal(f"{4000 + 31 * n}.{n % 100:02d}"),
            total_items_sold=70 + n % 23,
            return_rate=Decimal(f"{n % 15}.{(7 * n) % 100:02d}"),
            unique_customers=38 + n % 13,
        )
        for n, d in enumerate(days)
    ]
    category_rows = [
        CategoryKpi(
            category=c,
            order_date=d,
            daily_revenue=Decimal(f"{300 + 11 * i + d.day}.25"),
            avg_order_value=Decimal(f"{50 + i}.10"),
            avg_return_rate=Decimal(f"{i}.50"),
        )
        for d in days
        for i, c in enumerate(CATEGORIES)
    ]
    repository = DynamoKpiRepository(dynamodb, DAILY, CATEGORY)
    stamp = Stamp(batch_id="bench", computed_at=datetime.now(UTC))
    repository.write_day_rows(day_rows, stamp)
    repository.write_category_rows(category_rows, stamp)
    return len(day_rows)


@dataclass(frozen=True)
class Load:
    name: str
    latencies: list[float]
    wall_seconds: float
    rows_per_answer: int
    errors: int

    def as_json(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "errors": self.errors,
            "rows_per_answer": self.rows_per_answer,
            "p50_ms": round(percentile(ordered, 50) * 1000, 1),
            "p95_ms": round(percentile(ordered, 95) * 1000, 1),
            "requests_per_second": round(len(ordered) / self.wall_seconds, 1),
        }


async def _api_load(url: str, clients: int, seconds: float) -> Load:
    params = {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}
    latencies: list[float] = []
    errors = 0
    rows = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        # One warm-up request per client connection, not measured.
        await asyncio.gather(*(http.get("/v1/days", params=params) for _ in range(clients)))
        started = time.perf_counter()
        deadline = started + seconds

        async def one_client() -> None:
            nonlocal errors, rows
            while time.perf_counter() < deadline:
                begun = time.perf_counter()
                response = await http.get("/v1/days", params=params)
                if response.status_code != 200:
                    errors += 1
                    continue
                rows = len(response.json()["items"])
                latencies.append(time.perf_counter() - begun)

        await asyncio.gather(*(one_client() for _ in range(clients)))
        wall = time.perf_counter() - started
    return Load("api (aiobotocore, HTTP)", latencies, wall, rows, errors)


def _query_year(dynamodb: Any) -> list[dict[str, Any]]:
    """The API's days query, synchronously: one Query per year spanned, page by page."""
    rows: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": DAILY,
        "KeyConditionExpression": "order_year = :y AND order_date BETWEEN :a AND :b",
        "ExpressionAttributeValues": {
            ":y": {"S": str(YEAR)},
            ":a": {"S": f"{YEAR}-01-01"},
            ":b": {"S": f"{YEAR}-12-31"},
        },
    }
    while True:
        response = dynamodb.query(**request)
        for item in response["Items"]:
            rows.append(
                {
                    name: Decimal(value["N"]) if "N" in value else value["S"]
                    for name, value in item.items()
                }
            )
        if "LastEvaluatedKey" not in response:
            return rows
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _threads_load(endpoint: str, clients: int, seconds: float) -> Load:
    dynamodb = _client(endpoint, clients)
    for _ in range(clients):
        _query_year(dynamodb)
    latencies: list[float] = []
    lock = threading.Lock()
    rows = 0
    started = time.perf_counter()
    deadline = started + seconds

    def one_client() -> None:
        nonlocal rows
        mine: list[float] = []
        while time.perf_counter() < deadline:
            begun = time.perf_counter()
            found = _query_year(dynamodb)
            mine.append(time.perf_counter() - begun)
            rows = len(found)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=one_client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return Load("boto3 in threads (direct Query)", latencies, wall, rows, 0)


def run(clients: int, seconds: float) -> dict[str, Any]:
    moto_port, api_port = _free_port(), _free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    with _process(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
        {"MOTO_PORT": str(moto_port)},
        f"{endpoint}/moto-api/",
        "moto server",
    ):
        dynamodb = _client(endpoint, clients)
        _create_tables(dynamodb)
        days = _a_year_of_rows(dynamodb)
        api_env = {
            "SHOPFLOW_AWS_ENDPOINT_URL": endpoint,
            "SHOPFLOW_AWS_REGION": REGION,
            "SHOPFLOW_DAILY_KPIS_TABLE": DAILY,
            "SHOPFLOW_CATEGORY_KPIS_TABLE": CATEGORY,
            "SHOPFLOW_LEDGER_TABLE": LEDGER,
            "SHOPFLOW_DATA_BUCKET": "unused",
            "SHOPFLOW_STATE_MACHINE_ARN": UNUSED_STATE_MACHINE,
            "SHOPFLOW_HOST": "127.0.0.1",
            "SHOPFLOW_PORT": str(api_port),
            "SHOPFLOW_MAX_POOL_CONNECTIONS": str(clients),
            "SHOPFLOW_LOG_LEVEL": "WARNING",
        }
        with _process([sys.executable, "-m", "shopflow_api"], api_env, f"{api_url}/healthz", "API"):
            api = asyncio.run(_api_load(api_url, clients, seconds))
        threads = _threads_load(endpoint, clients, seconds)
    return {
        "what": "/v1/days over a year of data (one Query of 366 rows)",
        "days": days,
        "clients": clients,
        "seconds_per_side": seconds,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "api": api.as_json(),
        "boto3_threads": threads.as_json(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shopflow_bench.api_load")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.clients, args.seconds)
    for side in ("api", "boto3_threads"):
        figures = result[side]
        print(
            f"{side:14} {figures['requests']:6} requests  p50 {figures['p50_ms']:7.1f} ms  "
            f"p95 {figures['p95_ms']:7.1f} ms  {figures['requests_per_second']:7.1f} req/s  "
            f"({figures['rows_per_answer']} rows each, {figures['errors']} errors)"
        )
    if not args.no_save:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        path = args.results_dir / f"{datetime.now(UTC):%Y-%m-%d}-api-load.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
