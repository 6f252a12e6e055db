"""Wires the loader together: the only place that creates AWS clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from shopflow_contracts.messages import LoadCommand, WaitSeconds
from shopflow_contracts.taskworker import (
    DynamoFailureLog,
    SqsTaskQueue,
    StepFunctionsTaskCallback,
    TaskWorker,
)

from shopflow_loader.adapters.dynamo import DynamoLedger
from shopflow_loader.adapters.s3 import S3ObjectStore
from shopflow_loader.adapters.stepfunctions import StepFunctionsExecutions
from shopflow_loader.handler import LoadHandler
from shopflow_loader.settings import LoaderSettings
from shopflow_loader.trigger import ArrivalTrigger, TriggerConfig


@dataclass(frozen=True)
class Loader:
    trigger: ArrivalTrigger
    worker: TaskWorker[LoadCommand]


def aws_clients(settings: LoaderSettings) -> dict[str, Any]:
    session = boto3.session.Session(region_name=settings.aws_region)
    return {
        name: session.client(name, endpoint_url=settings.aws_endpoint_url)
        for name in ("s3", "sqs", "stepfunctions", "dynamodb")
    }


def build_loader(settings: LoaderSettings, clients: dict[str, Any] | None = None) -> Loader:
    clients = clients or aws_clients(settings)
    executions = StepFunctionsExecutions(clients["stepfunctions"], settings.state_machine_arn)
    ledger = DynamoLedger(clients["dynamodb"], settings.ledger_table)
    trigger = ArrivalTrigger(
        queue=SqsTaskQueue(clients["sqs"], settings.arrivals_queue_url),
        ledger=ledger,
        executions=executions,
        config=TriggerConfig(
            landing_prefix=settings.landing_prefix,
            batch_window_seconds=settings.batch_window_seconds,
            max_batch_objects=settings.max_batch_objects,
            poll_wait_seconds=settings.poll_wait_seconds,
            waits=WaitSeconds(
                check_data_loaded=settings.wait_check_data_loaded_seconds,
                wait_for_eventbridge=settings.wait_for_eventbridge_seconds,
            ),
        ),
    )
    handler = LoadHandler(
        store=S3ObjectStore(clients["s3"]),
        ledger=ledger,
        executions=executions,
        data_bucket=settings.data_bucket,
    )
    worker = TaskWorker(
        stage="load",
        command_type=LoadCommand,
        handle=handler.handle,
        queue=SqsTaskQueue(clients["sqs"], settings.loader_queue_url),
        callback=StepFunctionsTaskCallback(clients["stepfunctions"]),
        failure_log=DynamoFailureLog(clients["dynamodb"], settings.ledger_table),
        wait_seconds=settings.poll_wait_seconds,
    )
    return Loader(trigger=trigger, worker=worker)
