"""The state machine is a producer and a consumer of contracts too.

Given the real ASL running in moto, with stand-in workers that answer with the golden
results: every command it sends parses as the stage's command model, its results are
accepted, and its SNS notifications parse as RunSucceeded / RunPartial / RunFailed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_resources import create_ledger_table
from pydantic import BaseModel
from shopflow_contracts.messages import (
    BatchExecutionInput,
    KpiCommand,
    KpiScope,
    LoadCommand,
    RecomputeExecutionInput,
    ReprocessExecutionInput,
    RunFailed,
    RunPartial,
    RunSucceeded,
    TaskErrorName,
    TaskFailure,
    ValidateCommand,
    ValidationPolicy,
)
from shopflow_runtime.aws import DynamoFailureLog

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "contracts" / "examples"
EXPECTED_FAILURE_STATES = [
    "RouteRun",
    "PlanUploadRun",
    "LoadData",
    "CheckDataLoaded",
    "VerifyDataInS3",
    "WaitForEventBridge",
    "ValidateData",
    "DescribeFailure",
    "FailureRecorded",
    "UseRecordedCause",
    "NotifyFailure",
    "RunFailed",
]
EXPECTED_STATES = [
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
EXPECTED_PARTIAL_STATES = [*EXPECTED_STATES[:-1], "NotifyPartial"]


def golden(name: str) -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / f"{name}.json").read_text()))


class Harness:
    def __init__(self, client: Callable[[str], Any], name: Callable[[str], str]) -> None:
        self.sqs, self.sfn, self.sns = client("sqs"), client("stepfunctions"), client("sns")
        self.dynamodb = client("dynamodb")
        self.ledger_table = name("ledger")
        create_ledger_table(self.dynamodb, self.ledger_table)
        self.queues = {
            stage: self.sqs.create_queue(QueueName=name(stage))["QueueUrl"]
            for stage in ("load", "validate", "kpi", "notes")
        }
        topic = self.sns.create_topic(Name=name("notifications"))["TopicArn"]
        notes_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queues["notes"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=notes_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        definition = (REPO / "infra" / "statemachine.asl.json").read_text()
        for placeholder, value in {
            "LoaderQueueUrl": self.queues["load"],
            "ValidatorQueueUrl": self.queues["validate"],
            "KpiQueueUrl": self.queues["kpi"],
            "EventBusName": "default",
            "NotificationsTopicArn": topic,
            "LedgerTableName": self.ledger_table,
        }.items():
            definition = definition.replace("${" + placeholder + "}", value)
        self.state_machine = self.sfn.create_state_machine(
            name=name("pipeline"),
            definition=definition,
            roleArn="arn:aws:iam::123456789012:role/shopflow-states",
        )["stateMachineArn"]

    def start(self, batch_id: str) -> str:
        execution_input = BatchExecutionInput.model_validate(
            {**golden("batch_execution_input"), "batch_id": batch_id}
        )
        waits = execution_input.waits.model_copy(
            update={"check_data_loaded": 0, "wait_for_eventbridge": 0}
        )
        body = execution_input.model_copy(update={"waits": waits}).model_dump_json()
        return str(
            self.sfn.start_execution(
                stateMachineArn=self.state_machine, name=execution_input.batch_id, input=body
            )["executionArn"]
        )

    def start_input(self, body: ReprocessExecutionInput | RecomputeExecutionInput) -> str:
        """Start an execution of another kind of run (reprocess, recompute) with its input."""
        return str(
            self.sfn.start_execution(
                stateMachineArn=self.state_machine,
                name=body.batch_id,
                input=body.model_dump_json(),
            )["executionArn"]
        )

    def take_command(self, stage: str, model: type[BaseModel]) -> Any:
        for _ in range(40):
            received = self.sqs.receive_message(QueueUrl=self.queues[stage], WaitTimeSeconds=1).get(
                "Messages", []
            )
            if received:
                self.sqs.delete_message(
                    QueueUrl=self.queues[stage], ReceiptHandle=received[0]["ReceiptHandle"]
                )
                return model.model_validate_json(received[0]["Body"])
        raise AssertionError(f"no {stage} command arrived")

    def finish(self, execution_arn: str) -> dict[str, Any]:
        # moto's interpreter runs the remaining states in a thread of its own: on a loaded CI
        # machine that took over 10 s, so the bound is generous (a finished run returns at once).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return dict(described)
            time.sleep(0.1)
        raise AssertionError("execution did not finish within 60 s")

    def entered_states(self, execution_arn: str) -> list[str]:
        history = self.sfn.get_execution_history(executionArn=execution_arn)["events"]
        return [
            event["stateEnteredEventDetails"]["name"]
            for event in history
            if "stateEnteredEventDetails" in event
        ]

    def notification(self) -> str:
        for _ in range(20):
            received = self.sqs.receive_message(
                QueueUrl=self.queues["notes"], WaitTimeSeconds=1
            ).get("Messages", [])
            if received:
                return str(received[0]["Body"])
        raise AssertionError("no notification arrived")


@pytest.fixture
def harness(aws_client: Callable[[str], Any], unique_name: Callable[[str], str]) -> Harness:
    return Harness(aws_client, unique_name)


def complete_validation() -> dict[str, Any]:
    """The golden validation result without its quarantined file: every file applied."""
    result = golden("validate_result")
    payload = result["payload"]
    payload["files"] = [f for f in payload["files"] if f["status"] != "quarantined"]
    payload.update(status="complete", quarantined=[])
    return result


def run_through_kpis(harness: Harness, batch_id: str, validation: dict[str, Any]) -> str:
    """Start an execution and answer each stage's command with its golden result."""
    execution = harness.start(batch_id)
    load = harness.take_command("load", LoadCommand)
    assert load.task_token and load.run_id == load.payload.batch_id
    harness.sfn.send_task_success(
        taskToken=load.task_token, output=json.dumps(golden("load_result"))
    )

    validate = harness.take_command("validate", ValidateCommand)
    # The staged files of the load result are exactly what the validator is asked for
    assert [f.model_dump(mode="json") for f in validate.payload.files] == golden("load_result")[
        "payload"
    ]["staged"]
    # An upload batch validates under the validator's own settings, and applies its KPIs
    assert validate.payload.policy == ValidationPolicy()
    harness.sfn.send_task_success(taskToken=validate.task_token, output=json.dumps(validation))

    kpi = harness.take_command("kpi", KpiCommand)
    assert [c.model_dump(mode="json") for c in kpi.payload.curated] == validation["payload"][
        "curated"
    ]
    harness.sfn.send_task_success(taskToken=kpi.task_token, output=json.dumps(golden("kpi_result")))
    return execution


def test_commands_results_and_success_notification_honour_the_contracts(
    harness: Harness,
) -> None:
    # Given a running execution
    # When each stage's command is answered with its golden result, every file applied
    execution = run_through_kpis(harness, "contract-success", complete_validation())

    # Then the run succeeds through the designed states, announcing a valid RunSucceeded
    assert harness.finish(execution)["status"] == "SUCCEEDED"
    assert harness.entered_states(execution) == EXPECTED_STATES
    notice = RunSucceeded.model_validate_json(harness.notification())
    assert notice.run_kind == "upload"
    assert [d.isoformat() for d in notice.order_dates] == golden("kpi_result")["payload"][
        "order_dates"
    ]
    # And the header changes the validator found travel with it
    assert [c.model_dump(mode="json") for c in notice.schema_changes] == golden("validate_result")[
        "payload"
    ]["schema_changes"]


def test_a_batch_with_a_quarantined_file_succeeds_with_a_run_partial_notification(
    harness: Harness,
) -> None:
    # Given a run whose validator quarantined one file and applied the others
    validation = golden("validate_result")
    assert validation["payload"]["status"] == "partial"
    # When the stages answer
    execution = run_through_kpis(harness, "contract-partial", validation)

    # Then the execution succeeds, through NotifyPartial instead of NotifySuccess
    assert harness.finish(execution)["status"] == "SUCCEEDED"
    assert harness.entered_states(execution) == EXPECTED_PARTIAL_STATES
    # And the notification is a run.partial naming the quarantined file, its counts and
    # reasons, next to the KPIs the good files produced
    notice = RunPartial.model_validate_json(harness.notification())
    assert [q.model_dump(mode="json") for q in notice.quarantined] == validation["payload"][
        "quarantined"
    ]
    assert notice.quarantined[0].source_key == "landing/products-broken.csv"
    assert notice.day_rows_written == golden("kpi_result")["payload"]["day_rows_written"]
    assert [c.model_dump(mode="json") for c in notice.schema_changes] == validation["payload"][
        "schema_changes"
    ]


def test_typed_failure_reaches_the_failure_notification_and_fails_the_run(
    harness: Harness,
) -> None:
    # Given a run whose validator records and reports a typed ValidationFailed, the way
    # every worker does (moto drops SendTaskFailure's cause; the record carries it)
    execution = harness.start("contract-failure")
    load = harness.take_command("load", LoadCommand)
    harness.sfn.send_task_success(
        taskToken=load.task_token, output=json.dumps(golden("load_result"))
    )
    validate = harness.take_command("validate", ValidateCommand)
    failure = TaskFailure.model_validate({**golden("task_failure"), "run_id": validate.run_id})
    DynamoFailureLog(harness.dynamodb, harness.ledger_table).record(failure)
    harness.sfn.send_task_failure(
        taskToken=validate.task_token, error=failure.error.value, cause=failure.model_dump_json()
    )
    # Then the run ends FAILED and the notification names the error and carries the reason
    assert harness.finish(execution)["status"] == "FAILED"
    assert harness.entered_states(execution) == EXPECTED_FAILURE_STATES
    notice = RunFailed.model_validate_json(harness.notification())
    assert notice.error == "shopflow.ValidationFailed"
    assert TaskFailure.model_validate_json(notice.cause) == failure


def test_a_reprocess_enters_at_validation_with_its_files_and_policy(harness: Harness) -> None:
    # Given a reprocess input: staged files of an earlier run and a higher threshold
    reprocess = ReprocessExecutionInput.model_validate(golden("reprocess_execution_input"))
    execution = harness.start_input(reprocess)
    # When the validator is asked, it gets exactly those files under that policy
    validate = harness.take_command("validate", ValidateCommand)
    assert validate.payload.files == reprocess.files
    assert validate.payload.policy == reprocess.run.policy
    assert validate.payload.batch_id == validate.run_id == reprocess.batch_id
    harness.sfn.send_task_success(
        taskToken=validate.task_token, output=json.dumps(complete_validation())
    )
    # And the kpi stage applies what it accepted, as for an upload batch
    kpi = harness.take_command("kpi", KpiCommand)
    assert kpi.payload.scope == KpiScope()
    assert kpi.payload.curated
    harness.sfn.send_task_success(taskToken=kpi.task_token, output=json.dumps(golden("kpi_result")))
    # Then the run succeeds without loading anything, and its notification says what it was
    assert harness.finish(execution)["status"] == "SUCCEEDED"
    assert harness.entered_states(execution) == [
        "RouteRun",
        "PlanReprocess",
        *EXPECTED_STATES[EXPECTED_STATES.index("ValidateData") :],
    ]
    notice = RunSucceeded.model_validate_json(harness.notification())
    assert (notice.run_kind, notice.batch_id) == ("reprocess", reprocess.batch_id)


def test_a_recompute_enters_at_the_kpi_stage_with_its_range(harness: Harness) -> None:
    # Given a recompute input for March
    recompute = RecomputeExecutionInput.model_validate(golden("recompute_execution_input"))
    execution = harness.start_input(recompute)
    # When the kpi stage is asked, it gets the range and no curated file
    kpi = harness.take_command("kpi", KpiCommand)
    assert kpi.payload.scope == recompute.run.kpi_scope
    assert kpi.payload.curated == []
    harness.sfn.send_task_success(taskToken=kpi.task_token, output=json.dumps(golden("kpi_result")))
    # Then the run succeeds through the same notification states, named a recompute
    assert harness.finish(execution)["status"] == "SUCCEEDED"
    assert harness.entered_states(execution) == [
        "RouteRun",
        "PlanRecompute",
        *EXPECTED_STATES[EXPECTED_STATES.index("ComputeKpis") :],
    ]
    notice = RunSucceeded.model_validate_json(harness.notification())
    assert (notice.run_kind, notice.schema_changes) == ("recompute", [])


def test_a_failed_recompute_fails_with_a_notification_naming_its_kind(harness: Harness) -> None:
    # Given a recompute whose kpi stage fails
    recompute = RecomputeExecutionInput.model_validate(
        {**golden("recompute_execution_input"), "batch_id": "recompute-failing"}
    )
    execution = harness.start_input(recompute)
    kpi = harness.take_command("kpi", KpiCommand)
    failure = TaskFailure(
        error=TaskErrorName.STAGED_OBJECT_MISSING, reason="gone", run_id=kpi.run_id, stage="kpi"
    )
    DynamoFailureLog(harness.dynamodb, harness.ledger_table).record(failure)
    harness.sfn.send_task_failure(
        taskToken=kpi.task_token, error=failure.error.value, cause=failure.model_dump_json()
    )
    # Then the run fails through the failure path and its notification says recompute
    assert harness.finish(execution)["status"] == "FAILED"
    notice = RunFailed.model_validate_json(harness.notification())
    assert (notice.run_kind, notice.error) == ("recompute", "shopflow.StagedObjectMissing")
