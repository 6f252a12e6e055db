"""Wires the loader together; its AWS clients come from the runtime's one client factory."""

from __future__ import annotations

from dataclasses import dataclass

from shopflow_contracts.messages import LoadCommand, WaitSeconds
from shopflow_runtime.aws import SqsTaskQueue
from shopflow_runtime.clients import AwsClientFactory, ClientSource
from shopflow_runtime.wiring import build_task_worker
from shopflow_runtime.worker import TaskWorker

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


def build_loader(settings: LoaderSettings, clients: ClientSource | None = None) -> Loader:
    clients = clients or AwsClientFactory(settings)
    executions = StepFunctionsExecutions(
        clients.client("stepfunctions"), settings.state_machine_arn
    )
    ledger = DynamoLedger(clients.client("dynamodb"), settings.ledger_table)
    trigger = ArrivalTrigger(
        queue=SqsTaskQueue(clients.client("sqs"), settings.arrivals_queue_url),
        ledger=ledger,
        executions=executions,
        config=TriggerConfig(
            landing_prefix=settings.landing_prefix,
            batch_window_seconds=settings.batch_window_seconds,
            max_batch_objects=settings.max_batch_objects,
            unstarted_claim_seconds=settings.unstarted_claim_seconds,
            poll_wait_seconds=settings.poll_wait_seconds,
            waits=WaitSeconds(
                check_data_loaded=settings.wait_check_data_loaded_seconds,
                wait_for_eventbridge=settings.wait_for_eventbridge_seconds,
            ),
        ),
    )
    handler = LoadHandler(
        store=S3ObjectStore(clients.client("s3")),
        ledger=ledger,
        executions=executions,
        data_bucket=settings.data_bucket,
    )
    worker = build_task_worker(
        stage="load",
        command_type=LoadCommand,
        handle=handler.handle,
        queue_url=settings.loader_queue_url,
        settings=settings,
        clients=clients,
    )
    return Loader(trigger=trigger, worker=worker)
