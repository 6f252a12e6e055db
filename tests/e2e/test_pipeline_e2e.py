"""The whole local stack: moto server, the deployed template, three service processes.

Files go in through S3 exactly as the shop uploads them; everything after that (EventBridge,
the arrivals queue, the loader's trigger, Step Functions, the workers, DynamoDB, SNS) runs
for real over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from e2e_stack import HAPPY_PATH, SAMPLE, Pipeline, as_csv
from reference_kpis import reference_kpis
from shopflow_cli import operations
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS
from shopflow_contracts.messages import RunFailed, RunSucceeded, TaskFailure

pytestmark = pytest.mark.e2e


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
    assert days == as_csv(expected_days, DAY_KPI_COLUMNS)
    assert categories == as_csv(expected_categories, CATEGORY_KPI_COLUMNS)
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
    assert states[:3] == ["RouteRun", "PlanUploadRun", "LoadData"] and states[-2:] == [
        "NotifyFailure",
        "RunFailed",
    ]
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


def test_a_file_mostly_rejected_fails_the_run_naming_the_file_counts_and_reasons(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given an orders file where three rows of four break rules
    broken = tmp_path / "orders-broken.csv"
    broken.write_text(
        "order_id,user_id,status,created_at,returned_at,shipped_at,delivered_at,num_of_item\n"
        "1,7,complete,2025-03-30T16:14:26,,,,1\n"
        "x2,7,complete,2025-03-30T16:14:26,,,,1\n"
        "3,7,lost,2025-03-30T16:14:26,,,,1\n"
        "4,7,complete,yesterday,,,,1\n"
    )
    pipeline.upload(broken)
    # When the pipeline settles
    (execution,) = pipeline.settle()
    # Then the file was quarantined, and with nothing else in the batch the run failed in
    # validation, applied nothing, and says why
    assert execution.status == "FAILED"
    assert "ComputeKpis" not in pipeline.entered_states(execution)
    failed = RunFailed.model_validate_json(pipeline.notifications()[0])
    assert failed.error == "shopflow.AllFilesQuarantined"
    failure = TaskFailure.model_validate_json(failed.cause)
    assert failure.files == ["landing/orders-broken.csv"]
    assert "landing/orders-broken.csv" in failure.reason and "3 of 4" in failure.reason
    assert pipeline.exported(tmp_path / "export") == (
        operations.render([], CATEGORY_KPI_COLUMNS, "csv"),
        operations.render([], DAY_KPI_COLUMNS, "csv"),
    )
