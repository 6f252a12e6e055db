"""The whole local stack: moto server, the deployed template, three service processes.

Files go in through S3 exactly as the shop uploads them; everything after that (EventBridge,
the arrivals queue, the loader's trigger, Step Functions, the workers, DynamoDB, SNS) runs
for real over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reference_kpis import reference_kpis
from shopflow_cli import operations
from shopflow_cli.localstack import LocalStack, aws_client
from shopflow_contracts.messages import RunFailed, RunSucceeded, TaskFailure

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "thelook-small"
HAPPY_PATH = [
    "LoadData",
    "CheckDataLoaded",
    "VerifyDataInS3",
    "WaitForEventBridge",
    "ValidateData",
    "ComputeKpis",
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


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    with LocalStack(
        state_file=tmp_path / "stack" / "stack.json", batch_window_seconds=BATCH_WINDOW
    ) as stack:
        yield Pipeline(stack)


def as_csv(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    return operations.render(rows, columns, "csv")


def test_sample_upload_runs_every_state_and_lands_exact_kpis_in_dynamodb(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given the bundled sample, uploaded as the shop would
    files = operations.csv_files_under(SAMPLE)
    pipeline.upload(*files)
    # When the pipeline settles
    (execution,) = pipeline.settle()
    # Then one run succeeded through every designed state, in order
    assert execution.status == "SUCCEEDED"
    assert pipeline.entered_states(execution) == HAPPY_PATH
    # And both KPI tables in DynamoDB equal an independent computation, to the cent
    categories, days = pipeline.exported(tmp_path / "export")
    expected_categories, expected_days = reference_kpis(files)
    assert days == as_csv(expected_days, operations.DAY_COLUMNS)
    assert categories == as_csv(expected_categories, operations.CATEGORY_COLUMNS)
    assert len(expected_days) > 30 and len(expected_categories) > 100
    # And the success notification arrived on a subscribed queue
    (notice,) = pipeline.notifications()
    succeeded = RunSucceeded.model_validate_json(notice)
    assert succeeded.run_id == execution.name
    assert succeeded.day_rows_written == len(expected_days)


def test_a_file_that_cannot_be_processed_fails_the_run_and_the_notification_says_why(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given a file that is no shop export at all
    notes = tmp_path / "meeting-notes.csv"
    notes.write_text("topic,owner\nbudget,alice\n")
    pipeline.upload(notes)
    # When the pipeline settles
    (execution,) = pipeline.settle()
    # Then the run FAILED through the failure path
    assert execution.status == "FAILED"
    states = pipeline.entered_states(execution)
    assert states[0] == "LoadData" and states[-2:] == ["NotifyFailure", "RunFailed"]
    # And the failure notification names the file and the reason
    (notice,) = pipeline.notifications()
    failed = RunFailed.model_validate_json(notice)
    assert failed.error == "shopflow.UnrecognisedFile"
    failure = TaskFailure.model_validate_json(failed.cause)
    assert failure.files == ["landing/meeting-notes.csv"]
    assert "header 'topic,owner' is not an orders, order_items or products header" in failure.reason


def test_the_same_file_twice_or_a_redelivered_arrival_starts_no_second_run(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given the sample loaded once
    files = operations.csv_files_under(SAMPLE)
    pipeline.upload(*files)
    (first,) = pipeline.settle()
    assert first.status == "SUCCEEDED"
    before = pipeline.exported(tmp_path / "before")
    # When the same files are uploaded again, one under another name
    copy = tmp_path / "orders-copy.csv"
    shutil.copy(files[0], copy)
    pipeline.upload(*files)
    pipeline.upload(copy)
    # And an arrival event is delivered a second time
    pipeline.sqs.send_message(
        QueueUrl=pipeline.outputs.arrivals_queue_url,
        MessageBody=json.dumps(
            {
                "version": "0",
                "id": "redelivered-event-1",
                "detail-type": "Object Created",
                "source": "aws.s3",
                "account": "123456789012",
                "time": "2025-04-01T06:00:00Z",
                "region": "us-east-1",
                "resources": [],
                "detail": {
                    "bucket": {"name": pipeline.outputs.data_bucket},
                    "object": {
                        "key": f"landing/{files[0].name}",
                        "size": files[0].stat().st_size,
                        "etag": pipeline.s3.head_object(
                            Bucket=pipeline.outputs.data_bucket, Key=f"landing/{files[0].name}"
                        )["ETag"].strip('"'),
                        "sequencer": "0",
                    },
                },
            }
        ),
    )
    executions = pipeline.settle()
    # Then no second run started and no KPI changed
    assert [e.name for e in executions] == [first.name]
    assert pipeline.exported(tmp_path / "after") == before
