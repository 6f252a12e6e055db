"""The running local stack as the end-to-end tests drive it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopflow_cli import operations
from shopflow_cli.clients import aws_client
from shopflow_cli.localstack import LocalStack

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "thelook-small"
HAPPY_PATH = [
    "RouteRun",
    "PlanUploadRun",
    "LoadData",
    "CheckDataLoaded",
    "VerifyDataInS3",
    "WaitForEventBridge",
    "ValidateData",
    "ComputeKpis",
    "RunOutcome",
    "NotifySuccess",
]
BATCH_WINDOW = 1.5


class Pipeline:
    """A running local stack plus a queue subscribed to its notifications."""

    def __init__(self, stack: LocalStack) -> None:
        assert stack.outputs is not None
        self.stack = stack
        self.outputs = stack.outputs
        self.s3 = self.client("s3")
        self.sfn = self.client("stepfunctions")
        self.sqs = self.client("sqs")
        self.dynamodb = self.client("dynamodb")
        self.notes_url = self.sqs.create_queue(QueueName="e2e-notifications")["QueueUrl"]
        notes_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.notes_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.client("sns").subscribe(
            TopicArn=self.outputs.notifications_topic_arn,
            Protocol="sqs",
            Endpoint=notes_arn,
            Attributes={"RawMessageDelivery": "true"},
        )

    def client(self, service: str) -> Any:
        return aws_client(service, self.stack.endpoint_url)

    def upload(self, *paths: Path, names: list[str] | None = None) -> list[str]:
        return operations.upload_files(self.s3, self.outputs.data_bucket, paths, names=names)

    def settle(self, expected_at_least: int = 1) -> list[operations.Execution]:
        return operations.wait_until_settled(
            self.sfn,
            self.sqs,
            self.outputs.state_machine_arn,
            self.outputs.arrivals_queue_url,
            expected_at_least=expected_at_least,
            quiet_seconds=BATCH_WINDOW + 2,
            timeout=240,
            health_check=self.stack.check_alive,
        )

    def entered_states(self, execution: operations.Execution) -> list[str]:
        history = self.sfn.get_execution_history(executionArn=execution.arn)["events"]
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in history
            if "stateEnteredEventDetails" in e
        ]

    def notifications(self) -> list[str]:
        bodies: list[str] = []
        while True:
            received = self.sqs.receive_message(
                QueueUrl=self.notes_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if not received:
                return bodies
            for message in received:
                bodies.append(message["Body"])
                self.sqs.delete_message(
                    QueueUrl=self.notes_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def exported(self, out_dir: Path) -> tuple[str, str]:
        category_path, day_path = operations.export_kpis(
            self.dynamodb,
            self.outputs.category_kpis_table,
            self.outputs.daily_kpis_table,
            out_dir,
        )
        return category_path.read_text(), day_path.read_text()


def as_csv(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    return operations.render(rows, columns, "csv")
