"""``shopflow deploy``: create or update the CloudFormation stack (AWS, or a moto server)."""

from __future__ import annotations

import click

from shopflow_cli import output
from shopflow_cli.output import UserError


def _parameter(value: str) -> tuple[str, str]:
    name, separator, setting = value.partition("=")
    if not separator or not name:
        raise UserError(
            f"--parameter {value!r}: expected KEY=VALUE, for example Environment=prod", 2
        )
    return name, setting


@click.command(name="deploy")
@click.option(
    "--stack-name",
    metavar="NAME",
    help="Stack to create or update (default: shopflow, or shopflow-local with --local).",
)
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="AWS endpoint, for example http://127.0.0.1:5000 (a moto server); default: AWS.",
)
@click.option("--local", is_flag=True, help="Deploy into a moto server (needs --endpoint-url).")
@click.option(
    "--parameter",
    "parameters",
    multiple=True,
    metavar="KEY=VALUE",
    help="A template parameter, repeatable, for example --parameter Subnets=subnet-a,subnet-b.",
)
@click.option(
    "--template-bucket",
    metavar="BUCKET",
    help="Bucket to upload the rendered template to (it is over CloudFormation's body limit).",
)
@click.option(
    "--service",
    metavar="NAME",
    help="Ship one service alone (loader, validator, kpi, ...): only its image changes.",
)
@click.option("--image", metavar="URI", help="The image to ship with --service.")
@click.option(
    "--dry-run", is_flag=True, help="With --service: create and show the change set only."
)
def command(
    stack_name: str | None,
    endpoint_url: str | None,
    local: bool,
    parameters: tuple[str, ...],
    template_bucket: str | None,
    service: str | None,
    image: str | None,
    dry_run: bool,
) -> None:
    """Render the template with the state machine inlined and create or update the stack;
    prints its outputs as NAME=VALUE lines. With --service and --image, change only that
    service's image (a checked change set on the deployed stack).

    Examples: shopflow deploy --stack-name shopflow --template-bucket B --parameter
    ContainerImageLoader=URI ...; shopflow deploy --service kpi --image URI
    """
    from shopflow_cli.clients import aws_client
    from shopflow_cli.deploy import S3TemplateStore, deploy_stack, render_template
    from shopflow_cli.localstack import deploy_local
    from shopflow_cli.resources import INFRA_DIR

    if service is not None or image is not None:
        if service is None or image is None or local or parameters:
            raise UserError("--service and --image go together, without --local or --parameter", 2)
        _ship_service(
            aws_client("cloudformation", endpoint_url),
            stack_name or "shopflow",
            service,
            image,
            dry_run,
        )
        return
    if local:
        if endpoint_url is None:
            raise UserError("--local needs --endpoint-url (the moto server)", 2)
        outputs = deploy_local(endpoint_url, stack_name or "shopflow-local")
    else:
        template = render_template(INFRA_DIR / "template.yaml", INFRA_DIR / "statemachine.asl.json")
        store = (
            S3TemplateStore(aws_client("s3", endpoint_url), template_bucket)
            if template_bucket
            else None
        )
        outputs = deploy_stack(
            aws_client("cloudformation", endpoint_url),
            stack_name or "shopflow",
            dict(_parameter(item) for item in parameters),
            template,
            template_store=store,
        )
    for name, value in outputs.model_dump().items():
        output.line(f"{name}={value}")


def _ship_service(
    cloudformation: object, stack_name: str, service: str, image: str, dry_run: bool
) -> None:
    from shopflow_cli.deploy import StackDeployError, execute_service_deploy, plan_service_deploy

    try:
        plan = plan_service_deploy(cloudformation, stack_name, service, image)
    except StackDeployError as refused:
        raise UserError(str(refused), 1) from refused
    output.line(f"change set {plan.name} on stack {stack_name}:")
    output.line(
        f"  {plan.parameter}: {plan.previous_image} -> {plan.image} (every other parameter kept)"
    )
    if not plan.executable:
        output.line(f"  nothing to change: {service} already runs {image}")
        return
    for change in plan.changes:
        replacing = " (replaced)" if change.replacement == "True" else ""
        output.line(f"  {change.action} {change.logical_id} ({change.resource_type}){replacing}")
    if dry_run:
        output.line("dry run: the change set is left for review (execute it, or delete it)")
        return
    execute_service_deploy(cloudformation, plan)
    output.line(f"{service} now runs {image}")
