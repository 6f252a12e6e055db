"""A service's task worker assembled from its settings and clients, the same for every service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from shopflow_contracts.envelope import Envelope
from shopflow_contracts.messages import Stage

from shopflow_runtime.aws import (
    DynamoFailureLog,
    EcsTaskProtection,
    FileLiveness,
    SqsTaskQueue,
    StepFunctionsTaskCallback,
    run_progress,
)
from shopflow_runtime.clients import ClientSource
from shopflow_runtime.settings import WorkerSettings
from shopflow_runtime.worker import TaskWorker

CommandT = TypeVar("CommandT", bound=Envelope[Any])


def build_task_worker(
    *,
    stage: Stage,
    command_type: type[CommandT],
    handle: Callable[[CommandT], BaseModel],
    queue_url: str,
    settings: WorkerSettings,
    clients: ClientSource,
) -> TaskWorker[CommandT]:
    protection = (
        EcsTaskProtection(settings.ecs_agent_uri, settings.scale_in_protection_minutes)
        if settings.ecs_agent_uri
        else None
    )
    return TaskWorker(
        stage=stage,
        command_type=command_type,
        handle=handle,
        queue=SqsTaskQueue(clients.client("sqs"), queue_url),
        callback=StepFunctionsTaskCallback(clients.client("stepfunctions")),
        failure_log=DynamoFailureLog(clients.client("dynamodb"), settings.ledger_table),
        progress=run_progress(clients.client("stepfunctions"), settings.state_machine_arn),
        wait_seconds=settings.poll_wait_seconds,
        keep_alive=settings.keep_alive_policy(),
        protection=protection,
        liveness=FileLiveness(settings.health_file) if settings.health_file else None,
    )
