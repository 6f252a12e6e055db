"""The rendered template deployed into the moto server, and the S3 -> EventBridge -> SQS path."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from shopflow_cli.deploy import (
    StackDeployError,
    StackOutputs,
    deploy_stack,
    enable_bucket_eventbridge,
    read_stack_outputs,
    render_template,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = REPO_ROOT / "infra" / "template.yaml"
ASL = REPO_ROOT / "infra" / "statemachine.asl.json"

AwsClient = Callable[[str], Any]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return render_template(TEMPLATE, ASL)


@pytest.fixture(scope="module")
def stack(aws_client: AwsClient, template: dict[str, Any]) -> tuple[str, StackOutputs]:
    name = f"sf-infra-{uuid.uuid4().hex[:8]}"
    outputs = deploy_stack(
        aws_client("cloudformation"),
        name,
        {"Environment": "local", "BatchWindowSeconds": "1"},
        template,
        stepfunctions_client=aws_client("stepfunctions"),
        poll_seconds=0.2,
        timeout_seconds=120,
    )
    enable_bucket_eventbridge(aws_client("s3"), outputs.data_bucket)
    return name, outputs


def _drain(sqs: Any, queue_url: str, *, wait: int = 1) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
        ).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_outputs_are_deterministic(stack: tuple[str, StackOutputs]) -> None:
    name, outputs = stack
    assert outputs.data_bucket == f"{name}-data-123456789012-us-east-1"
    for queue in ("arrivals", "loader", "validator", "kpi"):
        assert getattr(outputs, f"{queue}_queue_url").endswith(f"/{name}-{queue}")
        assert getattr(outputs, f"{queue}_dlq_url").endswith(f"/{name}-{queue}-dlq")
    assert outputs.batch_announcements_queue_url.endswith(f"/{name}-batch-announcements")
    assert outputs.ledger_table == f"{name}-ledger"
    assert outputs.daily_kpis_table == f"{name}-daily-kpis"
    assert outputs.category_kpis_table == f"{name}-category-kpis"
    assert outputs.notifications_topic_arn.endswith(f":{name}-notifications")
    assert outputs.state_machine_arn.endswith(f":stateMachine:{name}-pipeline")
    assert outputs.event_bus_name == "default"
    assert outputs.landing_prefix == "landing/"
    assert outputs.cluster_name is None  # no ECS locally


def test_queues_exist_with_dead_letter_queues(
    aws_client: AwsClient, stack: tuple[str, StackOutputs]
) -> None:
    _, outputs = stack
    sqs = aws_client("sqs")
    for queue in ("arrivals", "loader", "validator", "kpi"):
        url = getattr(outputs, f"{queue}_queue_url")
        dlq_url = getattr(outputs, f"{queue}_dlq_url")
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq_arn
        assert 3 <= int(redrive["maxReceiveCount"]) <= 5
        # The trigger's window for arrivals; the workers' keep-alive window for commands
        assert int(attributes["VisibilityTimeout"]) == (300 if queue == "arrivals" else 90)
    sqs.get_queue_attributes(QueueUrl=outputs.batch_announcements_queue_url)
    sqs.get_queue_attributes(QueueUrl=outputs.batch_staged_dlq_url)


def test_the_notification_topic_is_encrypted_with_the_stacks_own_key(
    aws_client: AwsClient, stack: tuple[str, StackOutputs]
) -> None:
    # (moto's CloudFormation does not create CloudWatch alarms; tests/unit/infra holds them.)
    name, outputs = stack
    # Then alarms can publish to it: the stack's own key, not alias/aws/sns. (moto cannot
    # describe a key CloudFormation created, so the key is identified through the stack.)
    resources = aws_client("cloudformation").list_stack_resources(StackName=name)
    (key,) = [
        r
        for r in resources["StackResourceSummaries"]
        if r["LogicalResourceId"] == "NotificationsKey"
    ]
    assert key["ResourceType"] == "AWS::KMS::Key"
    topic = aws_client("sns").get_topic_attributes(TopicArn=outputs.notifications_topic_arn)
    assert topic["Attributes"]["KmsMasterKeyId"] == key["PhysicalResourceId"]


def test_tables_have_the_documented_keys(
    aws_client: AwsClient, stack: tuple[str, StackOutputs]
) -> None:
    _, outputs = stack
    dynamodb = aws_client("dynamodb")

    def keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
        return [(key["AttributeName"], key["KeyType"]) for key in schema]

    ledger = dynamodb.describe_table(TableName=outputs.ledger_table)["Table"]
    assert keys(ledger["KeySchema"]) == [("pk", "HASH"), ("sk", "RANGE")]
    daily = dynamodb.describe_table(TableName=outputs.daily_kpis_table)["Table"]
    assert keys(daily["KeySchema"]) == [("order_year", "HASH"), ("order_date", "RANGE")]
    category = dynamodb.describe_table(TableName=outputs.category_kpis_table)["Table"]
    assert keys(category["KeySchema"]) == [("category", "HASH"), ("order_date", "RANGE")]
    (index,) = category["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_order_date"
    assert keys(index["KeySchema"]) == [("order_date", "HASH"), ("category", "RANGE")]
    assert index["Projection"]["ProjectionType"] == "ALL"
    for table in (ledger, daily, category):
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # the GSI answers queries
    dynamodb.put_item(
        TableName=outputs.category_kpis_table,
        Item={"category": {"S": "Jeans"}, "order_date": {"S": "2024-01-02"}},
    )
    found = dynamodb.query(
        TableName=outputs.category_kpis_table,
        IndexName="by_order_date",
        KeyConditionExpression="order_date = :d",
        ExpressionAttributeValues={":d": {"S": "2024-01-02"}},
    )["Items"]
    assert [item["category"]["S"] for item in found] == ["Jeans"]


def test_state_machine_definition_has_the_real_resources(
    aws_client: AwsClient, stack: tuple[str, StackOutputs]
) -> None:
    _, outputs = stack
    described = aws_client("stepfunctions").describe_state_machine(
        stateMachineArn=outputs.state_machine_arn
    )
    definition_text = described["definition"]
    assert "${" not in definition_text
    expected_text = (
        ASL.read_text()
        .replace("${LoaderQueueUrl}", outputs.loader_queue_url)
        .replace("${ValidatorQueueUrl}", outputs.validator_queue_url)
        .replace("${KpiQueueUrl}", outputs.kpi_queue_url)
        .replace("${EventBusName}", outputs.event_bus_name)
        .replace("${NotificationsTopicArn}", outputs.notifications_topic_arn)
        .replace("${LedgerTableName}", outputs.ledger_table)
        .replace("${Partition}", "aws")
    )
    assert json.loads(definition_text) == json.loads(expected_text)
    states = json.loads(definition_text)["States"]
    assert states["LoadData"]["Parameters"]["QueueUrl"] == outputs.loader_queue_url
    assert states["ValidateData"]["Parameters"]["QueueUrl"] == outputs.validator_queue_url
    assert states["ComputeKpis"]["Parameters"]["QueueUrl"] == outputs.kpi_queue_url
    body = states["LoadData"]["Parameters"]["MessageBody"]
    assert body["task_token.$"] == "$$.Task.Token"  # not mangled into "$.Task.Token"


def test_local_state_machine_can_run(
    aws_client: AwsClient, stack: tuple[str, StackOutputs]
) -> None:
    """Created through the API, so the (executing) moto Step Functions backend knows it."""
    _, outputs = stack
    sfn, sqs = aws_client("stepfunctions"), aws_client("sqs")
    described = sfn.describe_state_machine(stateMachineArn=outputs.state_machine_arn)
    assert described["roleArn"] == outputs.state_machine_role_arn
    execution = sfn.start_execution(
        stateMachineArn=outputs.state_machine_arn,
        name="infra-smoke",
        input=json.dumps(
            {
                "batch_id": "infra-smoke",
                "objects": [],
                "waits": {"check_data_loaded": 0, "wait_for_eventbridge": 0},
            }
        ),
    )
    # LoadData sends its command envelope (with a task token) to the loader queue.
    messages: list[dict[str, Any]] = []
    for _ in range(20):
        messages = _drain(sqs, outputs.loader_queue_url)
        if messages:
            break
    (command,) = messages
    assert command["message_type"] == "shopflow.load.command"
    assert command["run_id"] == "infra-smoke"
    assert command["task_token"]
    sfn.stop_execution(executionArn=execution["executionArn"])


def test_landing_uploads_reach_the_arrivals_queue_and_others_do_not(
    aws_client: AwsClient, stack: tuple[str, StackOutputs]
) -> None:
    _, outputs = stack
    s3, sqs = aws_client("s3"), aws_client("sqs")
    _drain(sqs, outputs.arrivals_queue_url, wait=0)
    s3.put_object(Bucket=outputs.data_bucket, Key="raw/batch=x/orders/1-orders.csv", Body=b"a\n")
    s3.put_object(Bucket=outputs.data_bucket, Key="elsewhere/landing/orders.csv", Body=b"a\n")
    s3.put_object(Bucket=outputs.data_bucket, Key="landing/orders.csv", Body=b"id\n1\n")

    events = _drain(sqs, outputs.arrivals_queue_url)

    assert [event["detail"]["object"]["key"] for event in events] == ["landing/orders.csv"]
    (event,) = events
    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert event["detail"]["bucket"]["name"] == outputs.data_bucket
    assert event["detail"]["object"]["size"] == 5


def test_batch_staged_events_reach_the_announcements_queue(
    aws_client: AwsClient, stack: tuple[str, StackOutputs]
) -> None:
    _, outputs = stack
    sqs = aws_client("sqs")
    aws_client("events").put_events(
        Entries=[
            {
                "EventBusName": outputs.event_bus_name,
                "Source": "shopflow.pipeline",
                "DetailType": "Batch Staged",
                "Detail": json.dumps({"run_id": "r1", "batch": {"batch_id": "b1"}}),
            },
            {
                "EventBusName": outputs.event_bus_name,
                "Source": "shopflow.other",
                "DetailType": "Batch Staged",
                "Detail": json.dumps({"run_id": "r2"}),
            },
        ]
    )
    events = _drain(sqs, outputs.batch_announcements_queue_url)
    assert [event["detail"]["run_id"] for event in events] == ["r1"]


def test_redeploy_is_an_update_with_the_same_outputs(
    aws_client: AwsClient, stack: tuple[str, StackOutputs], template: dict[str, Any]
) -> None:
    name, outputs = stack
    again = deploy_stack(
        aws_client("cloudformation"),
        name,
        {"Environment": "local", "BatchWindowSeconds": "1"},
        template,
        stepfunctions_client=aws_client("stepfunctions"),
        poll_seconds=0.2,
        timeout_seconds=120,
    )
    assert again == outputs
    assert read_stack_outputs(aws_client("cloudformation"), name) == outputs


def test_a_broken_template_fails_with_a_clear_error(
    aws_client: AwsClient, unique_name: Callable[[str], str]
) -> None:
    broken = {
        "Resources": {
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": {"Fn::GetAtt": ["Missing", "Arn"]}},
            }
        }
    }
    with pytest.raises(StackDeployError, match="Missing"):
        deploy_stack(
            aws_client("cloudformation"),
            unique_name("sf-broken"),
            {},
            broken,
            poll_seconds=0.2,
            timeout_seconds=10,
        )
