"""A single-service deploy executes only a change set that stays within that service.

A stub CloudFormation answers as AWS does for a new image parameter (the service's task
definition replaced, its ECS service modified), or with something else in the change set.
"""

from __future__ import annotations

from typing import Any

import pytest
from shopflow_cli.deploy import (
    CAPABILITIES,
    StackDeployError,
    execute_service_deploy,
    plan_service_deploy,
    render_template,
)
from test_infra_template import ASL, TEMPLATE

DEPLOYED = {
    "Environment": "aws",
    "ContainerImageLoader": "r/loader:1",
    "ContainerImageValidator": "r/validator:1",
    "ContainerImageKpi": "r/kpi:1",
    "Subnets": "subnet-a,subnet-b",
    "AlertsSecret": "****",
}


def _change(logical_id: str, kind: str, action: str, replacement: str = "False") -> dict[str, Any]:
    return {
        "Type": "Resource",
        "ResourceChange": {
            "LogicalResourceId": logical_id,
            "ResourceType": kind,
            "Action": action,
            "Replacement": replacement,
        },
    }


AWS_ANSWER = [
    _change("KpiTaskDefinition", "AWS::ECS::TaskDefinition", "Modify", "True"),
    _change("KpiService", "AWS::ECS::Service", "Modify"),
]


class StubCloudFormation:
    def __init__(self, changes: list[dict[str, Any]], status: str = "CREATE_COMPLETE") -> None:
        self.changes = changes
        self.status = status
        self.calls: list[str] = []
        self.change_set: dict[str, Any] = {}

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in DEPLOYED.items()]
        return {"Stacks": [{"StackStatus": "UPDATE_COMPLETE", "Parameters": parameters}]}

    def get_template(self, StackName: str, TemplateStage: str) -> dict[str, Any]:  # noqa: N803
        return {"TemplateBody": render_template(TEMPLATE, ASL)}

    def create_change_set(self, **request: Any) -> None:
        self.calls.append("create")
        self.change_set = request

    def describe_change_set(self, StackName: str, ChangeSetName: str) -> dict[str, Any]:  # noqa: N803
        reason = "The submitted information didn't contain changes."
        return {"Status": self.status, "StatusReason": reason, "Changes": self.changes}

    def delete_change_set(self, StackName: str, ChangeSetName: str) -> None:  # noqa: N803
        self.calls.append("delete")

    def execute_change_set(self, StackName: str, ChangeSetName: str) -> None:  # noqa: N803
        self.calls.append("execute")


def test_a_new_image_is_a_change_set_of_that_parameter_alone_then_executed() -> None:
    # Given a stack on AWS
    stub = StubCloudFormation(AWS_ANSWER)
    # When the kpi service ships a new image
    plan = plan_service_deploy(stub, "shopflow", "kpi", "r/kpi:2", sleep=lambda _: None)
    execute_service_deploy(stub, plan, sleep=lambda _: None)
    # Then the change set reuses the template and every value but the image's
    request = stub.change_set
    assert request["UsePreviousTemplate"] is True and request["Capabilities"] == CAPABILITIES
    sent = {p["ParameterKey"]: p.get("ParameterValue", "previous") for p in request["Parameters"]}
    assert sent == {**DEPLOYED, "ContainerImageKpi": "r/kpi:2", "AlertsSecret": "previous"}
    # ... it changes the kpi task definition and service only, and it was executed
    assert [(c.logical_id, c.action) for c in plan.changes] == [
        ("KpiTaskDefinition", "Modify"),
        ("KpiService", "Modify"),
    ]
    assert stub.calls == ["create", "execute"]


def test_a_change_set_reaching_beyond_the_service_is_deleted_not_executed() -> None:
    stub = StubCloudFormation(
        [*AWS_ANSWER, _change("LedgerTable", "AWS::DynamoDB::Table", "Modify")]
    )
    with pytest.raises(StackDeployError, match="would also change LedgerTable"):
        plan_service_deploy(stub, "shopflow", "kpi", "r/kpi:2", sleep=lambda _: None)
    assert stub.calls == ["create", "delete"]


def test_the_image_already_deployed_changes_nothing() -> None:
    stub = StubCloudFormation([], status="FAILED")
    plan = plan_service_deploy(stub, "shopflow", "kpi", "r/kpi:1", sleep=lambda _: None)
    execute_service_deploy(stub, plan, sleep=lambda _: None)
    assert not plan.executable and stub.calls == ["create", "delete"]
