"""``shopflow deploy --service NAME --image URI`` against moto: only that service's image moves.

moto accepts the whole template with Environment=aws (ECS cluster, task definitions and
services are recorded, no container runs; the template is over CloudFormation's body limit,
so it goes through S3 as on AWS). The single-service change set is created for real and
compared with the stack: the same template, every parameter as deployed but the one image.
moto neither lists a parameter change's resource changes nor executes such a change set
correctly (it re-registers every task definition without its image), so what CloudFormation
then reports is held by the template test (``affected_by``: only the service's task
definition and ECS service) and the execution path by tests/unit/infra/test_service_deploy_plan.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from shopflow_cli.deploy import (
    S3TemplateStore,
    StackDeployError,
    deploy_stack,
    plan_service_deploy,
    render_template,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
AwsClient = Callable[[str], Any]
IMAGES = {
    "ContainerImageLoader": "registry.example/shopflow-loader:1",
    "ContainerImageValidator": "registry.example/shopflow-validator:1",
    "ContainerImageKpi": "registry.example/shopflow-kpi:1",
    "ContainerImageApi": "registry.example/shopflow-api:1",
}


@pytest.fixture(scope="module")
def aws_stack(aws_client: AwsClient) -> str:
    name = f"sf-svc-{uuid.uuid4().hex[:8]}"
    bucket = f"{name}-templates"
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=bucket)
    # The API's load balancer and security groups need a VPC and subnets that exist (moto
    # checks them): two subnets in two zones, as an Application Load Balancer wants.
    ec2 = aws_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.20.{n}.0/24", AvailabilityZone=f"us-east-1{zone}"
        )["Subnet"]["SubnetId"]
        for n, zone in ((1, "a"), (2, "b"))
    ]
    deploy_stack(
        aws_client("cloudformation"),
        name,
        {
            "Environment": "aws",
            **IMAGES,
            "VpcId": vpc,
            "Subnets": ",".join(subnets),
            "SecurityGroups": "sg-0a",
        },
        render_template(
            REPO_ROOT / "infra" / "template.yaml", REPO_ROOT / "infra" / "statemachine.asl.json"
        ),
        template_store=S3TemplateStore(s3, bucket),
        poll_seconds=0.2,
        timeout_seconds=120,
    )
    return name


def test_the_kpi_change_set_differs_from_the_stack_in_the_kpi_image_alone(
    aws_client: AwsClient, aws_stack: str
) -> None:
    # Given the whole system deployed with image tag 1 everywhere
    cloudformation = aws_client("cloudformation")
    # When a new kpi image is planned
    plan = plan_service_deploy(
        cloudformation, aws_stack, "kpi", "registry.example/shopflow-kpi:2", poll_seconds=0.2
    )
    # Then the change set keeps the deployed template and every parameter's value but one
    (stack,) = cloudformation.describe_stacks(StackName=aws_stack)["Stacks"]
    deployed = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    described = cloudformation.describe_change_set(StackName=aws_stack, ChangeSetName=plan.name)
    planned = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    changed = {key for key in deployed if planned.get(key) != deployed[key]}
    assert changed == {"ContainerImageKpi"}
    assert planned["ContainerImageKpi"] == "registry.example/shopflow-kpi:2"
    assert (plan.parameter, plan.previous_image) == (
        "ContainerImageKpi",
        IMAGES["ContainerImageKpi"],
    )
    kept = cloudformation.get_template(StackName=aws_stack, ChangeSetName=plan.name)
    assert kept["TemplateBody"] == cloudformation.get_template(StackName=aws_stack)["TemplateBody"]
    assert (
        described["Description"]
        == "shopflow deploy --service kpi --image registry.example/shopflow-kpi:2"
    )
    cloudformation.delete_change_set(StackName=aws_stack, ChangeSetName=plan.name)


def test_an_unknown_service_is_refused_by_name(aws_client: AwsClient, aws_stack: str) -> None:
    with pytest.raises(StackDeployError, match=r"unknown service 'reports'.*kpi, loader"):
        plan_service_deploy(aws_client("cloudformation"), aws_stack, "reports", "x")


def test_shopflow_deploy_service_dry_run_shows_the_change_set(
    moto_endpoint: str, aws_stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from shopflow_cli import main as cli

    code = cli.main(
        [
            "deploy",
            "--endpoint-url",
            moto_endpoint,
            "--stack-name",
            aws_stack,
            "--service",
            "validator",
            "--image",
            "registry.example/shopflow-validator:7",
            "--dry-run",
        ]
    )
    shown = capsys.readouterr().out
    assert code == 0, shown
    assert "change set validator-" in shown and f"on stack {aws_stack}" in shown
    assert (
        "ContainerImageValidator: registry.example/shopflow-validator:1 -> "
        "registry.example/shopflow-validator:7 (every other parameter kept)"
    ) in shown
    assert "dry run" in shown
