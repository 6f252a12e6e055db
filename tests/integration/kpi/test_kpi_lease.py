"""The KPI state lease against DynamoDB (moto server over HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_resources import create_ledger_table
from shopflow_kpi.adapters.lease import DynamoStateLease


def test_the_lease_is_exclusive_until_released_or_expired(
    aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> None:
    dynamodb = aws_client("dynamodb")
    table = unique_name("ledger")
    create_ledger_table(dynamodb, table)
    now = [1_000.0]
    lease = DynamoStateLease(dynamodb, table, lease_seconds=60, clock=lambda: now[0])
    # Given run A holds the lease
    assert lease.acquire("run-a")
    # Then B cannot take it, A can renew it, and B's release does not free it
    assert not lease.acquire("run-b")
    assert lease.acquire("run-a")
    lease.release("run-b")
    assert not lease.acquire("run-b")
    # When A releases, B takes it
    lease.release("run-a")
    assert lease.acquire("run-b")
    # And when B dies holding it, the lease expires and A may take it over
    now[0] += 61
    assert lease.acquire("run-a")
