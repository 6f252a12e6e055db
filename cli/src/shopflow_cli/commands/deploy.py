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
def command(
    stack_name: str | None, endpoint_url: str | None, local: bool, parameters: tuple[str, ...]
) -> None:
    """Render the template with the state machine inlined and create or update the stack;
    prints its outputs as NAME=VALUE lines.

    Example: shopflow deploy --stack-name shopflow --parameter ContainerImageLoader=URI
    """
    from shopflow_cli.clients import aws_client
    from shopflow_cli.deploy import deploy_stack, render_template
    from shopflow_cli.localstack import deploy_local
    from shopflow_cli.resources import INFRA_DIR

    if local:
        if endpoint_url is None:
            raise UserError("--local needs --endpoint-url (the moto server)", 2)
        outputs = deploy_local(endpoint_url, stack_name or "shopflow-local")
    else:
        template = render_template(INFRA_DIR / "template.yaml", INFRA_DIR / "statemachine.asl.json")
        outputs = deploy_stack(
            aws_client("cloudformation", endpoint_url),
            stack_name or "shopflow",
            dict(_parameter(item) for item in parameters),
            template,
        )
    for name, value in outputs.model_dump().items():
        output.line(f"{name}={value}")
