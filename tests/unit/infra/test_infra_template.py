"""The CloudFormation template and its rendering (no AWS, no moto)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from shopflow_cli.deploy import (
    DEFINITION_PARAMETERS,
    TEMPLATE_BODY_LIMIT,
    CloudFormationLoader,
    StackDeployError,
    StackOutputs,
    deploy_stack,
    inline_definition,
    load_template,
    render_template,
    template_body,
    template_source,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = REPO_ROOT / "infra" / "template.yaml"
ASL = REPO_ROOT / "infra" / "statemachine.asl.json"
PLACEHOLDERS = {
    "LoaderQueueUrl": {"Ref": "LoaderQueue"},
    "ValidatorQueueUrl": {"Ref": "ValidatorQueue"},
    "KpiQueueUrl": {"Ref": "KpiQueue"},
    "EventBusName": "default",
    "NotificationsTopicArn": {"Ref": "NotificationsTopic"},
}
TASK_ROLES = ("LoaderTaskRole", "ValidatorTaskRole", "KpiTaskRole")
WORKERS = {"loader": "Loader", "validator": "Validator", "kpi": "Kpi"}
# Actions without resource-level permissions: "*" is the only possible Resource.
RESOURCELESS_ACTIONS = {
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    return render_template(TEMPLATE, ASL)


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- rendering ---------------------------------------------------------------------------


def test_short_tags_become_long_form() -> None:
    text = """
    A: !Ref Thing
    B: !GetAtt Queue.Arn
    C: !GetAtt [Queue, Arn]
    D: !Sub ["${X}-y", {X: !Ref AWS::StackName}]
    E: !If [IsAws, !Ref A, !Ref AWS::NoValue]
    F: !Equals [!Ref Environment, aws]
    G: !Condition IsAws
    H: 2012-10-17
    I: !GetAtt Table.StreamArn.Extra
    """
    loaded = yaml.load(text, Loader=CloudFormationLoader)
    assert loaded["A"] == {"Ref": "Thing"}
    assert loaded["B"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert loaded["C"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert loaded["D"] == {"Fn::Sub": ["${X}-y", {"X": {"Ref": "AWS::StackName"}}]}
    assert loaded["E"] == {"Fn::If": ["IsAws", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]}
    assert loaded["F"] == {"Fn::Equals": [{"Ref": "Environment"}, "aws"]}
    assert loaded["G"] == {"Condition": "IsAws"}
    assert loaded["H"] == "2012-10-17"
    assert loaded["I"] == {"Fn::GetAtt": ["Table", "StreamArn.Extra"]}


def test_source_template_points_at_the_asl_in_s3(source: dict[str, Any]) -> None:
    properties = source["Resources"]["StateMachine"]["Properties"]
    assert properties["DefinitionS3Location"] == {
        "Bucket": {"Ref": "StateMachineDefinitionBucket"},
        "Key": {"Ref": "StateMachineDefinitionKey"},
    }
    substitutions = properties["DefinitionSubstitutions"]
    for name, value in PLACEHOLDERS.items():
        assert substitutions[name] == value
    # every placeholder the ASL uses is substituted (the ASL may gain more, e.g. tables)
    used = set(json.dumps(json.loads(ASL.read_text())).split("${")[1:])
    assert {chunk.split("}")[0] for chunk in used} <= set(substitutions)


def test_rendered_template_inlines_the_asl_with_every_substitution(
    source: dict[str, Any], rendered: dict[str, Any]
) -> None:
    properties = rendered["Resources"]["StateMachine"]["Properties"]
    assert "DefinitionS3Location" not in properties
    assert "DefinitionSubstitutions" not in properties
    definition = properties["DefinitionString"]
    assert list(definition) == ["Fn::Join"]
    separator, parts = definition["Fn::Join"]
    assert separator == ""
    substitutions = source["Resources"]["StateMachine"]["Properties"]["DefinitionSubstitutions"]
    for value in PLACEHOLDERS.values():
        assert value in parts
    # Turning every substituted value back into its placeholder gives back the ASL exactly
    # (in particular "$$.Task.Token" and friends survive untouched).
    by_value = {json.dumps(value, sort_keys=True): name for name, value in substitutions.items()}
    restored = "".join(
        part
        if isinstance(part, str) and part not in substitutions.values()
        else "${" + by_value[json.dumps(part, sort_keys=True)] + "}"
        for part in parts
    )
    assert json.loads(restored) == json.loads(ASL.read_text())
    assert "$$.Task.Token" in restored


def test_rendered_template_drops_the_definition_parameters(rendered: dict[str, Any]) -> None:
    for name in DEFINITION_PARAMETERS:
        assert name not in rendered["Parameters"]
        assert json.dumps({"Ref": name}) not in json.dumps(rendered)
    groups = rendered["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert all(set(group["Parameters"]) <= set(rendered["Parameters"]) for group in groups)


def test_a_template_over_the_body_limit_is_sent_by_url_and_a_small_one_as_its_body(
    rendered: dict[str, Any],
) -> None:
    # Given the rendered template (its inlined ASL makes it larger than a TemplateBody may be)
    body = template_body(rendered)
    assert json.loads(body) == rendered
    assert len(body.encode()) > TEMPLATE_BODY_LIMIT
    uploaded: list[str] = []

    def store(text: str) -> str:
        uploaded.append(text)
        return "https://bucket.s3.example/t.json"

    # Then on AWS it goes through the store, locally (moto has no limit) as its body
    assert template_source(rendered, local=False, store=store) == {
        "TemplateURL": "https://bucket.s3.example/t.json"
    }
    assert uploaded == [body]
    assert template_source(rendered, local=True, store=None) == {"TemplateBody": body}
    # ... and without a store the deploy says what to pass instead of failing in AWS
    with pytest.raises(StackDeployError, match="--template-bucket"):
        template_source(rendered, local=False, store=None)
    small = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    assert template_source(small, local=False, store=None) == {"TemplateBody": template_body(small)}


def test_inline_definition_rejects_an_unknown_placeholder() -> None:
    with pytest.raises(ValueError, match="Missing"):
        inline_definition('{"A": "${Missing}"}', {"Other": "x"})


def test_inline_definition_keeps_literal_dollars() -> None:
    definition = inline_definition('{"a.$": "$$.Task.Token", "b": "${X}"}', {"X": {"Ref": "Q"}})
    assert definition == {"Fn::Join": ["", ['{"a.$":"$$.Task.Token","b":"', {"Ref": "Q"}, '"}']]}


def test_rendered_template_passes_cfn_lint(rendered: dict[str, Any]) -> None:
    from cfnlint.api import lint_all

    matches = lint_all(json.dumps(rendered, indent=1))
    errors = [str(match) for match in matches if match.rule.id.startswith("E")]
    assert errors == []


# --- resources ---------------------------------------------------------------------------


def test_outputs_cover_stack_outputs(source: dict[str, Any]) -> None:
    aliases = {field.alias for field in StackOutputs.model_fields.values()}
    assert aliases == set(source["Outputs"])


def test_physical_names_derive_from_the_stack_name(source: dict[str, Any]) -> None:
    name_property = {
        "AWS::SQS::Queue": "QueueName",
        "AWS::DynamoDB::Table": "TableName",
        "AWS::SNS::Topic": "TopicName",
        "AWS::S3::Bucket": "BucketName",
        "AWS::Events::Rule": "Name",
        "AWS::StepFunctions::StateMachine": "StateMachineName",
    }
    checked = 0
    for logical_id, resource in source["Resources"].items():
        prop = name_property.get(resource["Type"])
        if prop is None:
            continue
        name = resource["Properties"][prop]
        assert isinstance(name, dict), logical_id
        assert name["Fn::Sub"].startswith("${AWS::StackName}-"), logical_id
        checked += 1
    assert checked >= 17


def test_work_queues_have_dead_letter_queues(source: dict[str, Any]) -> None:
    resources = source["Resources"]
    for queue in ("ArrivalsQueue", "LoaderQueue", "ValidatorQueue", "KpiQueue"):
        properties = resources[queue]["Properties"]
        redrive = properties["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [queue[:-5] + "Dlq", "Arn"]}
        assert 3 <= redrive["maxReceiveCount"] <= 5
    # The trigger holds arrivals for its batch window; the workers' keep-alives extend their
    # commands' visibility, so a work queue's own timeout is the keep-alive window
    assert resources["ArrivalsQueue"]["Properties"]["VisibilityTimeout"] >= 300
    for queue in ("LoaderQueue", "ValidatorQueue", "KpiQueue"):
        visibility = resources[queue]["Properties"]["VisibilityTimeout"]
        assert visibility == {"Ref": "TaskVisibilitySeconds"}, queue


def test_task_roles_use_explicit_actions(source: dict[str, Any]) -> None:
    for role_id in TASK_ROLES:
        for statement in _statements(source["Resources"][role_id]):
            actions = _as_list(statement["Action"])
            for action in actions:
                assert "*" not in action, (role_id, statement.get("Sid"), action)
            if "*" in _as_list(statement["Resource"]):
                assert set(actions) <= RESOURCELESS_ACTIONS, (role_id, statement.get("Sid"))


def test_state_machine_role_is_scoped(source: dict[str, Any]) -> None:
    statements = {
        statement["Sid"]: statement
        for statement in _statements(source["Resources"]["StateMachineRole"])
    }
    assert statements["SendWorkCommands"]["Action"] == "sqs:SendMessage"
    assert statements["SendWorkCommands"]["Resource"] == [
        {"Fn::GetAtt": [queue, "Arn"]} for queue in ("LoaderQueue", "ValidatorQueue", "KpiQueue")
    ]
    assert statements["AnnounceBatches"]["Action"] == "events:PutEvents"
    assert statements["Notify"] == {
        "Sid": "Notify",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": {"Ref": "NotificationsTopic"},
    }
    for statement in statements.values():
        for action in _as_list(statement["Action"]):
            assert "*" not in action


def test_ecs_resources_exist_only_on_aws(source: dict[str, Any]) -> None:
    ecs = {
        logical_id
        for logical_id, resource in source["Resources"].items()
        if resource["Type"].startswith("AWS::ECS::")
    }
    assert {"Cluster", "LoaderService", "ValidatorService", "KpiService"} <= ecs
    for logical_id in ecs:
        assert source["Resources"][logical_id].get("Condition") == "IsAws", logical_id
    assert source["Conditions"]["IsAws"] == {"Fn::Equals": [{"Ref": "Environment"}, "aws"]}


@pytest.mark.parametrize("service", sorted(WORKERS))
def test_task_definition_sets_every_required_setting(source: dict[str, Any], service: str) -> None:
    resources = source["Resources"]
    prefix = WORKERS[service]
    task = resources[f"{prefix}TaskDefinition"]["Properties"]
    assert task["NetworkMode"] == "awsvpc"
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    assert task["TaskRoleArn"] == {"Fn::GetAtt": [f"{prefix}TaskRole", "Arn"]}
    (container,) = task["ContainerDefinitions"]
    environment = {item["Name"] for item in container["Environment"]}
    assert "SHOPFLOW_AWS_ENDPOINT_URL" not in environment
    expected = {"SHOPFLOW_AWS_REGION", "SHOPFLOW_LOG_LEVEL", "SHOPFLOW_DATA_BUCKET"}
    placeholder = StackOutputs.from_outputs(_outputs())
    expected |= set(placeholder.worker_environment(service))  # type: ignore[arg-type]
    assert expected <= environment
    service_props = resources[f"{prefix}Service"]["Properties"]
    assert service_props["LaunchType"] == "FARGATE"
    # The loader runs one task; validator and kpi leave their count to autoscaling
    assert service_props.get("DesiredCount") == (1 if service == "loader" else None)
    # Required settings of the service's own settings class, when it exists yet.
    module = pytest.importorskip(f"shopflow_{service}.settings")
    settings_classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and value.__module__ == module.__name__
        and hasattr(value, "model_fields")
    ]
    for settings_class in settings_classes:
        for name, field in settings_class.model_fields.items():
            if field.is_required():
                assert f"SHOPFLOW_{name.upper()}" in environment, (service, name)


# --- outputs and deploy_stack (stubbed CloudFormation) -----------------------------------


def _outputs() -> list[dict[str, str]]:
    return [
        {"OutputKey": field.alias, "OutputValue": f"value-of-{field.alias}"}
        for field in StackOutputs.model_fields.values()
        if field.alias is not None
    ]


def test_stack_outputs_round_trip() -> None:
    outputs = StackOutputs.from_outputs(_outputs())
    assert outputs.data_bucket == "value-of-DataBucket"
    assert StackOutputs.model_validate(outputs.model_dump()) == outputs
    with pytest.raises(Exception, match="frozen"):
        outputs.data_bucket = "other"  # type: ignore[misc]
    with pytest.raises(StackDeployError, match="KpiQueueUrl"):
        StackOutputs.from_outputs([o for o in _outputs() if o["OutputKey"] != "KpiQueueUrl"])


def STORE(body: str) -> str:
    return "https://templates.example/t.json"


class StubCloudFormation:
    """describe_stacks answers from a script of statuses; events for the failure report."""

    def __init__(self, statuses: list[str], events: list[dict[str, Any]]) -> None:
        self.statuses = statuses
        self.events = events
        self.calls: list[str] = []
        self.requests: list[dict[str, Any]] = []

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        from botocore.exceptions import ClientError

        if not self.statuses:
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": "does not exist"}},
                "DescribeStacks",
            )
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"Stacks": [{"StackStatus": status, "Outputs": _outputs()}]}

    def create_stack(self, **request: Any) -> None:
        self.calls.append("create")
        self.requests.append(request)
        self.statuses = ["CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", *self.pending]

    def get_paginator(self, name: str) -> Any:
        events = self.events

        class Paginator:
            def paginate(self, StackName: str) -> list[dict[str, Any]]:  # noqa: N803
                return [{"StackEvents": events}]

        return Paginator()

    pending: list[str] = []


def test_deploy_stack_creates_and_waits() -> None:
    stub = StubCloudFormation([], [])
    stub.pending = ["CREATE_COMPLETE"]
    outputs = deploy_stack(
        stub, "s", {}, render_template(TEMPLATE, ASL), template_store=STORE, sleep=lambda _: None
    )
    assert stub.calls == ["create"]
    assert stub.requests[0]["TemplateURL"] == "https://templates.example/t.json"
    assert outputs.ledger_table == "value-of-LedgerTable"


def test_deploy_stack_reports_failed_resources() -> None:
    events = [  # newest first, as CloudFormation returns them
        {"ResourceType": "AWS::CloudFormation::Stack", "ResourceStatus": "ROLLBACK_COMPLETE"},
        {
            "LogicalResourceId": "KpiQueue",
            "ResourceType": "AWS::SQS::Queue",
            "ResourceStatus": "CREATE_FAILED",
            "ResourceStatusReason": "queue name taken",
        },
        {
            "ResourceType": "AWS::CloudFormation::Stack",
            "ResourceStatus": "CREATE_IN_PROGRESS",
            "ResourceStatusReason": "User Initiated",
        },
        {
            "LogicalResourceId": "Old",
            "ResourceType": "AWS::SQS::Queue",
            "ResourceStatus": "CREATE_FAILED",
            "ResourceStatusReason": "an earlier deployment",
        },
    ]
    stub = StubCloudFormation([], events)
    stub.pending = ["ROLLBACK_COMPLETE"]
    with pytest.raises(StackDeployError) as failure:
        deploy_stack(
            stub,
            "s",
            {},
            render_template(TEMPLATE, ASL),
            template_store=STORE,
            sleep=lambda _: None,
        )
    message = str(failure.value)
    assert "ROLLBACK_COMPLETE" in message
    assert "KpiQueue (AWS::SQS::Queue) CREATE_FAILED: queue name taken" in message
    assert "earlier deployment" not in message


def test_deploy_stack_gives_up_after_its_timeout() -> None:
    stub = StubCloudFormation([], [])
    stub.pending = ["CREATE_IN_PROGRESS"]
    with pytest.raises(StackDeployError, match="still CREATE_IN_PROGRESS"):
        deploy_stack(
            stub,
            "s",
            {},
            render_template(TEMPLATE, ASL),
            template_store=STORE,
            timeout_seconds=0,
            sleep=lambda _: None,
        )


def test_deploy_stack_rejects_unknown_parameters() -> None:
    with pytest.raises(ValueError, match="Subnet"):
        deploy_stack(
            StubCloudFormation([], []), "s", {"Subnet": "x"}, render_template(TEMPLATE, ASL)
        )


# --- the local stack: resolved definition and compose ------------------------------------

LOCAL_PSEUDO = {
    "AWS::StackName": "shopflow-local",
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
}


def _sub(value: Any) -> str:
    text = value["Fn::Sub"]
    assert isinstance(text, str)
    for name, pseudo in LOCAL_PSEUDO.items():
        text = text.replace("${" + name + "}", pseudo)
    assert "${" not in text, text
    return text


def test_resolve_definition_uses_the_stack_outputs(rendered: dict[str, Any]) -> None:
    from shopflow_cli.deploy import resolve_definition

    values = {key: f"<{key}>" for key in rendered["Outputs"]}
    values["StateMachineArn"] = "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:sf-pipeline"
    definition = json.loads(resolve_definition(rendered, values))
    states = definition["States"]
    # The partition comes from the state machine's own ARN, for every service integration
    assert states["LoadData"]["Resource"] == "arn:aws-cn:states:::sqs:sendMessage.waitForTaskToken"
    assert states["LoadData"]["Parameters"]["QueueUrl"] == "<LoaderQueueUrl>"
    assert states["ValidateData"]["Parameters"]["QueueUrl"] == "<ValidatorQueueUrl>"
    assert states["ComputeKpis"]["Parameters"]["QueueUrl"] == "<KpiQueueUrl>"
    assert states["NotifySuccess"]["Parameters"]["TopicArn"] == "<NotificationsTopicArn>"
    assert states["NotifyPartial"]["Parameters"]["TopicArn"] == "<NotificationsTopicArn>"
    entry = states["VerifyDataInS3"]["Parameters"]["Entries"][0]
    assert entry["EventBusName"] == "default"


def test_compose_uses_the_deterministic_local_names(source: dict[str, Any]) -> None:
    compose = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())
    resources = source["Resources"]
    queue_url = "http://moto:5000/123456789012/{}"
    expected = {
        "SHOPFLOW_DATA_BUCKET": _sub(resources["DataBucket"]["Properties"]["BucketName"]),
        "SHOPFLOW_LEDGER_TABLE": _sub(resources["LedgerTable"]["Properties"]["TableName"]),
        "SHOPFLOW_ARRIVALS_QUEUE_URL": queue_url.format(
            _sub(resources["ArrivalsQueue"]["Properties"]["QueueName"])
        ),
        "SHOPFLOW_LOADER_QUEUE_URL": queue_url.format(
            _sub(resources["LoaderQueue"]["Properties"]["QueueName"])
        ),
        "SHOPFLOW_VALIDATOR_QUEUE_URL": queue_url.format(
            _sub(resources["ValidatorQueue"]["Properties"]["QueueName"])
        ),
        "SHOPFLOW_KPI_QUEUE_URL": queue_url.format(
            _sub(resources["KpiQueue"]["Properties"]["QueueName"])
        ),
        "SHOPFLOW_STATE_MACHINE_ARN": _sub(source["Outputs"]["StateMachineArn"]["Value"]),
        "SHOPFLOW_DAILY_KPIS_TABLE": _sub(resources["DailyKpisTable"]["Properties"]["TableName"]),
        "SHOPFLOW_CATEGORY_KPIS_TABLE": _sub(
            resources["CategoryKpisTable"]["Properties"]["TableName"]
        ),
    }
    placeholder = StackOutputs.from_outputs(_outputs())
    for service in WORKERS:
        environment = compose["services"][service]["environment"]
        assert environment["SHOPFLOW_AWS_ENDPOINT_URL"] == "http://moto:5000"
        needed = set(placeholder.worker_environment(service))  # type: ignore[arg-type]
        assert needed <= set(environment), service
        for name in needed:
            assert environment[name] == expected.get(name, environment[name]), (service, name)
        depends = compose["services"][service]["depends_on"]
        assert depends["init"]["condition"] == "service_completed_successfully"
    init = "\n".join(compose["services"]["init"]["command"])
    assert "--stack-name shopflow-local --local" in init
    assert '"execute_state_machine": True' in init


def test_the_batch_staged_event_is_spelled_as_its_contract_says(source: dict[str, Any]) -> None:
    # Given the event's source and detail type in contracts
    from shopflow_contracts.messages import BATCH_STAGED_DETAIL_TYPE, BATCH_STAGED_SOURCE

    # When the state machine announces a batch and the template's rule listens for it
    (entry,) = json.loads(ASL.read_text())["States"]["VerifyDataInS3"]["Parameters"]["Entries"]
    pattern = source["Resources"]["BatchStagedRule"]["Properties"]["EventPattern"]
    # Then both say exactly what the contract says
    assert (entry["Source"], entry["DetailType"]) == (BATCH_STAGED_SOURCE, BATCH_STAGED_DETAIL_TYPE)
    assert pattern == {"source": [BATCH_STAGED_SOURCE], "detail-type": [BATCH_STAGED_DETAIL_TYPE]}


def test_every_work_state_notices_a_dead_worker_by_its_missing_heartbeats() -> None:
    # Given the workers' keep-alive defaults (a dead task's message reappears after the
    # visibility window; its replacement then heartbeats the same token)
    from shopflow_runtime.settings import WorkerSettings

    fields = WorkerSettings.model_fields
    interval = fields["heartbeat_interval_seconds"].default
    visibility = fields["task_visibility_seconds"].default
    definition = json.loads(ASL.read_text())
    work_states = {
        name: state
        for name, state in definition["States"].items()
        if str(state.get("Resource", "")).endswith(".waitForTaskToken")
    }
    assert set(work_states) >= {"LoadData", "ValidateData", "ComputeKpis"}
    for name, state in work_states.items():
        # Then each state times its token out on missing heartbeats, long after the
        # redelivery a replacement worker would pick up, and far before TimeoutSeconds
        assert visibility + interval < state["HeartbeatSeconds"] < state["TimeoutSeconds"], name
        # ... and a heartbeat timeout is retried like any other timeout
        retried = {error for rule in state["Retry"] for error in rule["ErrorEquals"]}
        assert "States.Timeout" in retried, name
    assert definition["TimeoutSeconds"] >= max(s["TimeoutSeconds"] for s in work_states.values())
