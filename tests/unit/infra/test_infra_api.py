"""The API on AWS: a Fargate service behind a load balancer that is private by default and
signs users in when exposed; a role that only reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from shopflow_api.settings import ApiSettings
from shopflow_cli.deploy import load_template

TEMPLATE = Path(__file__).resolve().parents[3] / "infra" / "template.yaml"
READ_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "states:ListExecutions",
    "states:DescribeExecution",
    "states:GetExecutionHistory",
    "s3:ListBucket",
    "s3:GetObject",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return dict(load_template(TEMPLATE))


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_the_api_role_only_reads_the_kpi_tables_runs_and_reports(template: dict[str, Any]) -> None:
    role = template["Resources"]["ApiTaskRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert {action for s in statements for action in _actions(s)} == READ_ACTIONS
    assert all(s["Effect"] == "Allow" for s in statements)
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ReadReports"]["Resource"] == {"Fn::Sub": "${DataBucket.Arn}/reports/*"}
    assert by_sid["ListReports"]["Condition"] == {"StringLike": {"s3:prefix": "reports/*"}}
    tables = by_sid["ReadKpiTables"]["Resource"]
    assert tables == [
        {"Fn::GetAtt": ["DailyKpisTable", "Arn"]},
        {"Fn::GetAtt": ["CategoryKpisTable", "Arn"]},
    ]
    # Of the ledger, only the published KPI version every request reads as of
    published = by_sid["ReadPublishedKpiVersion"]
    assert (published["Action"], published["Resource"]) == (
        "dynamodb:GetItem",
        {"Fn::GetAtt": ["LedgerTable", "Arn"]},
    )
    assert published["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["PUBLISHED#*"]}
    }


def test_the_load_balancer_is_internal_unless_exposed_and_then_signs_users_in(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    assert template["Parameters"]["ApiExposure"]["Default"] == "private"
    scheme = resources["ApiLoadBalancer"]["Properties"]["Scheme"]
    assert scheme == {"Fn::If": ["ApiIsExposed", "internet-facing", "internal"]}
    exposed, private = resources["ApiListener"]["Properties"]["DefaultActions"]["Fn::If"][1:]
    assert [action["Type"] for action in exposed] == ["authenticate-cognito", "forward"]
    assert exposed[0]["AuthenticateCognitoConfig"]["OnUnauthenticatedRequest"] == "authenticate"
    assert [action["Type"] for action in private] == ["forward"]
    # An exposed API without a certificate or a user pool does not deploy
    rule = template["Rules"]["ApiSignInWhenExposed"]
    required = {a["Assert"]["Fn::Not"][0]["Fn::Equals"][0]["Ref"] for a in rule["Assertions"]}
    assert required == {
        "ApiCertificateArn",
        "ApiCognitoUserPoolArn",
        "ApiCognitoUserPoolClientId",
        "ApiCognitoUserPoolDomain",
    }
    # And the tasks take traffic from the load balancer only
    (ingress,) = resources["ApiTaskSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert ingress["SourceSecurityGroupId"] == {"Ref": "ApiLoadBalancerSecurityGroup"}


def test_the_api_task_sets_every_required_setting(template: dict[str, Any]) -> None:
    task = template["Resources"]["ApiTaskDefinition"]["Properties"]
    (container,) = task["ContainerDefinitions"]
    environment = {item["Name"] for item in container["Environment"]}
    for name, field in ApiSettings.model_fields.items():
        if field.is_required():
            assert f"SHOPFLOW_{name.upper()}" in environment, name
    assert container["HealthCheck"]["Command"] == ["CMD", "shopflow-healthcheck"]
    assert container["PortMappings"] == [{"ContainerPort": 8080, "Protocol": "tcp"}]
    service = template["Resources"]["ApiService"]["Properties"]
    assert service["LoadBalancers"][0]["TargetGroupArn"] == {"Ref": "ApiTargetGroup"}
    health = template["Resources"]["ApiTargetGroup"]["Properties"]["HealthCheckPath"]
    assert health == "/healthz"
