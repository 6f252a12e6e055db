"""AWS call faults injected into real clients (moto server), and what botocore makes of them.

The fault suite relies on these: an injected throttle, 5xx or timeout is retried by botocore
exactly as one from AWS would be, and a lost response has really taken effect.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from shopflow_runtime import faults
from shopflow_runtime.clients import AwsClientFactory
from shopflow_runtime.faults import AwsFaultKind, AwsFaults, FaultPlan
from shopflow_runtime.settings import AwsSettings

ATTEMPTS = 3


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    yield
    faults.deactivate()


def factory(endpoint: str, plan: Path | None, attempts: int = ATTEMPTS) -> AwsClientFactory:
    return AwsClientFactory(
        AwsSettings(
            aws_endpoint_url=endpoint,
            aws_max_attempts=attempts,
            aws_connect_timeout_seconds=2,
            fault_plan=plan,
        )
    )


def plan_with(path: Path, **aws: Any) -> Path:
    path.write_text(FaultPlan(aws=AwsFaults(**aws)).model_dump_json())
    return path


def injected(directory: Path) -> list[dict[str, Any]]:
    log = directory / faults.INJECTED_LOG
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def a_call_to(service: str, clients: AwsClientFactory, names: Callable[[str], str]) -> Any:
    """One cheap call per service, returning a callable that makes it."""
    client = clients.client(service)
    if service == "s3":
        return lambda: client.list_buckets()
    if service == "sqs":
        return lambda: client.list_queues()
    if service == "dynamodb":
        return lambda: client.list_tables()
    return lambda: client.list_state_machines()


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        ("throttle", {"SlowDown", "ThrottlingException"}),
        ("server_error", {"InternalError", "InternalFailure"}),
    ],
)
@pytest.mark.parametrize("service", ["s3", "sqs", "dynamodb", "stepfunctions"])
def test_an_injected_error_is_retried_by_botocore_then_surfaces_as_that_error(
    moto_endpoint: str,
    tmp_path: Path,
    unique_name: Callable[[str], str],
    service: str,
    kind: AwsFaultKind,
    codes: set[str],
) -> None:
    # Given every call of the service fails with the fault
    clients = factory(moto_endpoint, plan_with(tmp_path / "plan.json", rate=1.0, kinds=(kind,)))
    call = a_call_to(service, clients, unique_name)
    # When one call is made
    with pytest.raises(ClientError) as raised:
        call()
    # Then botocore saw a retryable error, tried every attempt, and gave up with it
    assert raised.value.response["Error"]["Code"] in codes
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == ATTEMPTS - 1
    assert [(e["service"], e["kind"]) for e in injected(tmp_path)] == [(service, kind)] * ATTEMPTS


def test_a_timeout_before_sending_is_retried_and_changes_nothing(
    moto_endpoint: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    plan = plan_with(tmp_path / "plan.json", rate=1.0, kinds=("timeout",))
    clients = factory(moto_endpoint, plan)
    name = unique_name("never")
    with pytest.raises(ConnectTimeoutError):
        clients.client("sqs").create_queue(QueueName=name)
    assert len(injected(tmp_path)) == ATTEMPTS
    plain = factory(moto_endpoint, None).client("sqs")
    assert not any(url.endswith(name) for url in plain.list_queues().get("QueueUrls", []))


def test_a_lost_response_took_effect_although_the_caller_saw_a_timeout(
    moto_endpoint: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    # Given every SQS response is lost
    clients = factory(
        moto_endpoint, plan_with(tmp_path / "plan.json", rate=1.0, kinds=("lost_response",))
    )
    name = unique_name("applied")
    # When a queue is created
    with pytest.raises(ReadTimeoutError):
        clients.client("sqs").create_queue(QueueName=name)
    # Then the caller saw timeouts on every attempt, yet the queue exists
    assert len(injected(tmp_path)) == ATTEMPTS
    plain = factory(moto_endpoint, None).client("sqs")
    assert any(url.endswith(name) for url in plain.list_queues(QueueNamePrefix=name)["QueueUrls"])


def test_at_a_ten_percent_rate_calls_succeed_through_retries(
    moto_endpoint: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    # Given 10% of DynamoDB calls fail, every kind of fault mixed, and the workers' default of
    # 5 attempts per call (all 5 failing: 1 call in 100,000)
    clients = factory(
        moto_endpoint,
        plan_with(tmp_path / "plan.json", rate=0.1, services=frozenset({"dynamodb"}), seed=14),
        attempts=AwsSettings().aws_max_attempts,
    )
    ddb = clients.client("dynamodb")
    table = unique_name("faulty")
    # The table is made without faults: a lost CreateTable response, retried, would answer
    # "already exists", which is CreateTable's contract, not a retry failing.
    plain = factory(moto_endpoint, None).client("dynamodb")
    plain.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # When 100 items are written one by one
    for n in range(100):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"item-{n}"}})
    # Then every write arrived, and faults of several kinds were really injected
    assert plain.scan(TableName=table, Select="COUNT")["Count"] == 100
    kinds = {e["kind"] for e in injected(tmp_path)}
    assert len(injected(tmp_path)) >= 3 and len(kinds) >= 2


def test_without_a_plan_no_hook_is_registered(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given production settings (no fault plan)
    def refuse(*_: object) -> None:
        raise AssertionError("a fault injector was attached without a plan")

    monkeypatch.setattr(faults.AwsFaultInjector, "attach", refuse)
    # When clients are made and used, then no injector is attached
    clients = factory(moto_endpoint, None)
    for service in ("s3", "sqs", "dynamodb", "stepfunctions"):
        clients.client(service)
    clients.client("sqs").list_queues()
