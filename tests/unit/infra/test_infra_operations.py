"""The template runs on Fargate as the images expect, scales, alarms and grants only what is used.

Each test holds one finding of the deployability review of issue 11 (no AWS, no moto).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from shopflow_cli.deploy import load_template
from shopflow_runtime.settings import WorkerSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = REPO_ROOT / "infra" / "template.yaml"
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
SCALED = ("Validator", "Kpi")
WORKERS = ("Loader", "Validator", "Kpi")


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(load_template(TEMPLATE)["Resources"])


@pytest.fixture(scope="module")
def parameters() -> dict[str, Any]:
    return dict(load_template(TEMPLATE)["Parameters"])


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in resource["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- Fargate ------------------------------------------------------------------------------


def _dockerfile_service_stage() -> str:
    return DOCKERFILE[DOCKERFILE.index("FROM base AS service\n") :]


@pytest.mark.parametrize("worker", WORKERS)
def test_the_scratch_volume_is_mounted_where_the_image_declares_it(
    resources: dict[str, Any], worker: str
) -> None:
    # Given the image's VOLUME (Fargate copies its owner and mode only to that path)
    (volume,) = re.findall(r'^VOLUME \["([^"]+)"\]', _dockerfile_service_stage(), re.M)
    # Then the task definition mounts its scratch volume exactly there, read-only root
    task = resources[f"{worker}TaskDefinition"]["Properties"]
    (container,) = task["ContainerDefinitions"]
    assert container["MountPoints"] == [
        {"SourceVolume": "scratch", "ContainerPath": volume, "ReadOnly": False}
    ]
    assert task["Volumes"] == [{"Name": "scratch"}]
    assert container["ReadonlyRootFilesystem"] is True
    # ... and no setting sends the work elsewhere (the image sets SHOPFLOW_WORK_DIR there)
    names = {item["Name"] for item in container["Environment"]}
    assert "SHOPFLOW_WORK_DIR" not in names and "TMPDIR" not in names
    assert f"SHOPFLOW_WORK_DIR={volume}" in _dockerfile_service_stage().replace(" ", "")


@pytest.mark.parametrize("worker", WORKERS)
def test_the_task_definition_uses_the_images_health_check(
    resources: dict[str, Any], worker: str
) -> None:
    (image_check,) = re.findall(r"^HEALTHCHECK .* CMD (\[.*\])$", _dockerfile_service_stage(), re.M)
    (container,) = resources[f"{worker}TaskDefinition"]["Properties"]["ContainerDefinitions"]
    health = container["HealthCheck"]
    assert health["Command"] == ["CMD", *json.loads(image_check)]
    # A stuck worker is replaced within a few minutes; start-up is not counted against it
    assert health["Interval"] * health["Retries"] <= 180 and health["StartPeriod"] >= 30


@pytest.mark.parametrize("worker", WORKERS)
def test_the_workers_keep_alive_matches_the_queues_and_the_state_machine(
    resources: dict[str, Any], parameters: dict[str, Any], worker: str
) -> None:
    (container,) = resources[f"{worker}TaskDefinition"]["Properties"]["ContainerDefinitions"]
    environment = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert environment["SHOPFLOW_TASK_VISIBILITY_SECONDS"] == {"Ref": "TaskVisibilitySeconds"}
    assert environment["SHOPFLOW_HEARTBEAT_INTERVAL_SECONDS"] == {"Ref": "HeartbeatIntervalSeconds"}
    fields = WorkerSettings.model_fields
    assert (
        parameters["TaskVisibilitySeconds"]["Default"] == fields["task_visibility_seconds"].default
    )
    assert (
        parameters["HeartbeatIntervalSeconds"]["Default"]
        == fields["heartbeat_interval_seconds"].default
    )


# --- scale ----------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SCALED)
def test_validator_and_kpi_scale_on_their_queue_depth_down_to_zero(
    resources: dict[str, Any], service: str
) -> None:
    target = resources[f"{service}ScalableTarget"]["Properties"]
    assert target["MinCapacity"] == 0
    assert target["MaxCapacity"] == {"Ref": f"{service}MaxTasks"}
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    assert target["ResourceId"] == {"Fn::Sub": f"service/${{Cluster}}/{service.lower()}"}
    assert resources[f"{service}Service"]["Properties"]["ServiceName"] == service.lower()
    queue = f"{service}Queue"
    for alarm_id, policy_id in (("BacklogAlarm", "ScaleOut"), ("IdleAlarm", "ScaleIn")):
        alarm = resources[f"{service}{alarm_id}"]["Properties"]
        # The depth is visible plus in-flight: a command being worked on still needs its task
        metrics = {m["Id"]: m for m in alarm["Metrics"]}
        assert metrics["backlog"]["Expression"] == "visible + inflight"
        for metric_id, name in (
            ("visible", "ApproximateNumberOfMessagesVisible"),
            ("inflight", "ApproximateNumberOfMessagesNotVisible"),
        ):
            stat = metrics[metric_id]["MetricStat"]["Metric"]
            assert stat["MetricName"] == name
            assert stat["Dimensions"] == [
                {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
            ]
        assert alarm["AlarmActions"] == [{"Ref": f"{service}{policy_id}"}]
        policy = resources[f"{service}{policy_id}"]["Properties"]
        assert policy["ScalingTargetId"] == {"Ref": f"{service}ScalableTarget"}
        assert policy["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ExactCapacity"
    idle = resources[f"{service}IdleAlarm"]["Properties"]
    assert (idle["ComparisonOperator"], idle["Threshold"]) == ("LessThanThreshold", 1)
    # An idle queue stops reporting: no data means idle, so the service still reaches zero
    assert idle["TreatMissingData"] == "breaching"
    scale_in = resources[f"{service}ScaleIn"]["Properties"]["StepScalingPolicyConfiguration"]
    assert scale_in["StepAdjustments"] == [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": 0}]
    scale_out = resources[f"{service}ScaleOut"]["Properties"]["StepScalingPolicyConfiguration"]
    steps = scale_out["StepAdjustments"]
    assert steps[0] == {
        "MetricIntervalLowerBound": 0,
        "MetricIntervalUpperBound": 1,
        "ScalingAdjustment": 1,
    }
    assert steps[-1]["ScalingAdjustment"] == {"Ref": f"{service}MaxTasks"}
    assert "DesiredCount" not in resources[f"{service}Service"]["Properties"]


def test_the_loader_runs_exactly_one_task_even_while_it_is_deployed(
    resources: dict[str, Any],
) -> None:
    service = resources["LoaderService"]["Properties"]
    assert service["DesiredCount"] == 1
    # MaximumPercent 100: the old task stops before the new one starts, so two triggers
    # never split one batch window
    assert service["DeploymentConfiguration"]["MaximumPercent"] == 100
    targets = _of_type(resources, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert not [t for t in targets.values() if "LoaderService" in json.dumps(t)]


@pytest.mark.parametrize("worker", WORKERS)
def test_each_worker_may_set_only_its_own_clusters_task_protection(
    resources: dict[str, Any], worker: str
) -> None:
    (statement,) = [
        s for s in _statements(resources[f"{worker}TaskRole"]) if s["Sid"] == "ScaleInProtection"
    ]
    assert sorted(statement["Action"]) == ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"]
    own_tasks = (
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${AWS::StackName}/*"
    )
    assert statement["Resource"] == {"Fn::Sub": own_tasks}


# --- alarms ---------------------------------------------------------------------------------


def _dead_letter_queues(resources: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for resource in resources.values():
        text = json.dumps(resource)
        for match in re.finditer(
            r'"(deadLetterTargetArn|DeadLetterConfig)": \{[^}]*?"Fn::GetAtt": \["(\w+)"', text
        ):
            found.add(match.group(2))
    return found


def test_every_dead_letter_queue_pages_the_notification_topic(resources: dict[str, Any]) -> None:
    dlqs = _dead_letter_queues(resources)
    assert dlqs == {"ArrivalsDlq", "LoaderDlq", "ValidatorDlq", "KpiDlq", "BatchStagedDlq"}
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm").values()
    watched = {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in alarms
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and alarm["Properties"].get("AlarmActions") == [{"Ref": "NotificationsTopic"}]
        for dimension in alarm["Properties"]["Dimensions"]
    }
    assert dlqs <= watched


def test_every_eventbridge_target_has_a_dead_letter_queue(resources: dict[str, Any]) -> None:
    for name, rule in _of_type(resources, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            assert "Arn" in target.get("DeadLetterConfig", {}), (name, target["Id"])


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut"])
def test_failed_and_timed_out_runs_page(resources: dict[str, Any], metric: str) -> None:
    alarm = resources[f"{metric}Alarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/States",
        metric,
        "Sum",
    )
    (dimension,) = alarm["Dimensions"]
    assert dimension["Name"] == "StateMachineArn"
    assert dimension["Value"]["Fn::Sub"].endswith(":stateMachine:${AWS::StackName}-pipeline")
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"] == [{"Ref": "NotificationsTopic"}]


def test_an_upload_waiting_too_long_for_its_run_pages(resources: dict[str, Any]) -> None:
    alarm = resources["OldestArrivalAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ArrivalsQueue", "QueueName"]}}
    ]
    assert alarm["Threshold"] == {"Ref": "OldestArrivalAlarmSeconds"}
    assert alarm["AlarmActions"] == [{"Ref": "NotificationsTopic"}]


def test_cloudwatch_can_publish_to_the_encrypted_topic(resources: dict[str, Any]) -> None:
    topic = resources["NotificationsTopic"]["Properties"]
    # A customer-managed key (alias/aws/sns refuses CloudWatch) ...
    assert topic["KmsMasterKeyId"] == {"Ref": "NotificationsKey"}
    key = resources["NotificationsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (grant,) = [s for s in key["KeyPolicy"]["Statement"] if s["Sid"] == "AlarmsPublish"]
    assert grant["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(grant["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert grant["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # ... the topic lets this stack's alarms publish, and the state machine may use the key
    statements = resources["NotificationsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (alarms,) = [s for s in statements if s["Sid"] == "AlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert (
        ":alarm:${AWS::StackName}-*" in alarms["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    )
    (encrypt,) = [
        s for s in _statements(resources["StateMachineRole"]) if s["Sid"] == "NotifyEncrypted"
    ]
    assert encrypt["Resource"] == {"Fn::GetAtt": ["NotificationsKey", "Arn"]}


# --- least privilege --------------------------------------------------------------------------


LEDGER_PREFIXES = {
    "LoaderTaskRole": {"ARRIVAL#*", "OBJECT#*", "CONTENT#*", "FILE#*", "FAILURE#*"},
    "ValidatorTaskRole": {"FAILURE#*"},
    "KpiTaskRole": {"FAILURE#*", "LEASE#*", "PUBLISHED#*"},
}
# What a role may delete: the KPI lease it held, the arrival claims a trigger gives back
# when it lost a race for them (both conditional on holding them).
DELETABLE = {
    "LoaderTaskRole": [["ARRIVAL#*", "CONTENT#*"]],
    "ValidatorTaskRole": [],
    "KpiTaskRole": [["LEASE#*"]],
}


@pytest.mark.parametrize("role", sorted(LEDGER_PREFIXES))
def test_every_ledger_grant_is_limited_to_the_keys_the_service_owns(
    resources: dict[str, Any], role: str
) -> None:
    ledger = [
        s
        for s in _statements(resources[role])
        if {"Fn::GetAtt": ["LedgerTable", "Arn"]} in _as_list(s["Resource"])
    ]
    assert ledger, role
    prefixes: set[str] = set()
    for statement in ledger:
        leading = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        prefixes |= set(leading)
        # Nothing deletes ledger entries but a held lease or a claim given back, and no role
        # can touch another's keys
        assert "dynamodb:DeleteItem" not in statement["Action"] or leading in DELETABLE[role]
    assert prefixes == LEDGER_PREFIXES[role]


def test_the_kpi_role_has_only_the_table_actions_the_repository_uses(
    resources: dict[str, Any],
) -> None:
    (tables,) = [s for s in _statements(resources["KpiTaskRole"]) if s["Sid"] == "KpiTables"]
    assert sorted(tables["Action"]) == [
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:Query",
    ]


def test_every_role_trusts_its_service_for_this_account_only(resources: dict[str, Any]) -> None:
    roles = _of_type(resources, "AWS::IAM::Role")
    assert "WorkerExecutionRole" in roles
    for name, role in roles.items():
        properties = role["Properties"]
        assert "ManagedPolicyArns" not in properties, name
        for statement in properties["AssumeRolePolicyDocument"]["Statement"]:
            condition = statement["Condition"]["StringEquals"]
            assert condition == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}, name


def test_the_execution_role_pulls_from_this_accounts_registry_and_writes_only_worker_logs(
    resources: dict[str, Any],
) -> None:
    statements = {s["Sid"]: s for s in _statements(resources["WorkerExecutionRole"])}
    assert statements["RegistryLogin"]["Action"] == "ecr:GetAuthorizationToken"
    assert statements["PullImages"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*"
    }
    assert statements["DeliverLogs"]["Resource"] == [
        {"Fn::GetAtt": [f"{worker}LogGroup", "Arn"]} for worker in WORKERS
    ]


def test_each_queue_policy_covers_one_queue_and_one_sender(resources: dict[str, Any]) -> None:
    policies = _of_type(resources, "AWS::SQS::QueuePolicy")
    assert len(policies) >= 4
    for name, policy in policies.items():
        assert len(policy["Properties"]["Queues"]) == 1, name
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert list(statement["Condition"]["ArnEquals"]) == ["aws:SourceArn"]


def test_the_asl_hard_codes_no_partition() -> None:
    asl = (REPO_ROOT / "infra" / "statemachine.asl.json").read_text()
    assert "arn:aws:" not in asl


# --- independent service deploys --------------------------------------------------------------


def test_each_services_image_reaches_only_its_task_definition_and_service() -> None:
    # Given every service the template deploys, each with its own image parameter
    from shopflow_cli.deploy import affected_by, deployable_services

    template = load_template(TEMPLATE)
    services = deployable_services(template)
    assert {"loader", "validator", "kpi"} <= set(services)
    for service, parameter in services.items():
        # When only that parameter changes, then only that service's task definition and
        # ECS service can change: what a change set of shopflow deploy --service may contain
        prefix = parameter.removeprefix("ContainerImage")
        assert affected_by(template, parameter) == {
            f"{prefix}TaskDefinition",
            f"{prefix}Service",
        }, service
