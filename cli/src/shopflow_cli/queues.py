"""The stack's queues as an operator sees them: depths, and moving dead letters back.

Each worker queue (and the arrivals queue) has a dead-letter queue that receives what failed
``maxReceiveCount`` times. ``redrive`` moves those messages back to the queue they came from,
once the cause is fixed, with their attributes (SQS's own message-move task is not on every
endpoint, moto's included; receive/send/delete works everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopflow_cli import operations
from shopflow_cli.output import UserError
from shopflow_cli.target import Target

QUEUES = ("arrivals", "loader", "validator", "kpi")


@dataclass(frozen=True)
class QueueDepth:
    name: str
    waiting: int
    in_flight: int
    dead_letters: int


def _urls(target: Target) -> dict[str, tuple[str, str]]:
    """Queue name -> (queue URL, its dead-letter queue URL)."""
    outputs = target.outputs
    return {
        "arrivals": (outputs.arrivals_queue_url, outputs.arrivals_dlq_url),
        "loader": (outputs.loader_queue_url, outputs.loader_dlq_url),
        "validator": (outputs.validator_queue_url, outputs.validator_dlq_url),
        "kpi": (outputs.kpi_queue_url, outputs.kpi_dlq_url),
    }


def _counts(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def queue_depths(target: Target) -> list[QueueDepth]:
    sqs = target.client("sqs")
    depths = []
    for name, (url, dlq_url) in _urls(target).items():
        waiting, in_flight = _counts(sqs, url)
        depths.append(QueueDepth(name, waiting, in_flight, operations.queue_depth(sqs, dlq_url)))
    return depths


def queue_name(text: str) -> str:
    """``loader``, ``loader-dlq`` or ``LoaderDlq`` (any case) -> ``loader``."""
    name = text.strip().lower().removesuffix("dlq").rstrip("-_ ")
    if name not in QUEUES:
        raise UserError(f"no queue {text!r}; the queues are {', '.join(QUEUES)}", 2)
    return name


def redrive(target: Target, name: str, *, limit: int | None = None) -> int:
    """Move up to ``limit`` (default: all) messages of ``name``'s dead-letter queue back to
    ``name``; returns how many moved. Each is sent before it is deleted: a crash in between
    leaves a copy on both, which the workers' idempotency absorbs, never none."""
    url, dlq_url = _urls(target)[name]
    sqs = target.client("sqs")
    moved = 0
    while limit is None or moved < limit:
        batch = min(10, limit - moved) if limit is not None else 10
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=batch,
            WaitTimeSeconds=0,
            VisibilityTimeout=30,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            attributes = message.get("MessageAttributes")
            sqs.send_message(
                QueueUrl=url,
                MessageBody=message["Body"],
                **({"MessageAttributes": attributes} if attributes else {}),
            )
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved
