"""One deploy path for AWS and the local moto stack.

``infra/template.yaml`` references the state machine definition in S3
(``DefinitionS3Location`` + ``DefinitionSubstitutions``). moto's CloudFormation only honours
``DefinitionString``, so :func:`render_template` inlines ``infra/statemachine.asl.json`` and
the same rendered template is deployed everywhere (it is valid CloudFormation too).

With ``Environment=local`` the template leaves the state machine out: moto's CloudFormation
stores it in a backend the Step Functions API ignores once state machine execution is enabled
(``/moto-api/config``), so :func:`deploy_stack` creates it through the API instead
(:func:`ensure_state_machine`), with the same name and the definition resolved from the
rendered template and the stack outputs.

The definition is inlined as ``Fn::Join`` of literal chunks and the substitution values rather
than ``Fn::Sub [text, mapping]``: moto 5.2 resolves the mapping form with
``string.Template.safe_substitute``, which turns every ``$$`` of the ASL (``$$.Task.Token``,
``$$.Execution.Name``) into ``$`` and so breaks the state machine. ``Fn::Join`` means the same
thing on AWS and in moto.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

DEFINITION_PARAMETERS = ("StateMachineDefinitionBucket", "StateMachineDefinitionKey")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
# CloudFormation's limit for TemplateBody; larger templates need TemplateURL (S3).
TEMPLATE_BODY_LIMIT = 51_200

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
_FAILED = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_COMPLETE",
    "DELETE_FAILED",
    "UPDATE_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    "IMPORT_ROLLBACK_FAILED",
}


class StackDeployError(RuntimeError):
    """The stack could not be created or updated; the message carries the reasons."""


# --- template rendering ------------------------------------------------------------------


class CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]  # no yaml stubs
    """YAML loader for CloudFormation templates: short-form tags become long-form dicts.

    ``!Ref X`` -> ``{"Ref": "X"}``, ``!Condition X`` -> ``{"Condition": "X"}``,
    ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``, any other ``!Name v`` ->
    ``{"Fn::Name": v}``. Timestamps stay strings (``Version: 2012-10-17`` unquoted).
    """


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}")
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


def _construct_timestamp_as_str(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))


CloudFormationLoader.add_multi_constructor("!", _construct_tag)
CloudFormationLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_str)


def load_template(template_path: Path) -> dict[str, Any]:
    """The template as a JSON-compatible dict (short-form tags expanded)."""
    loaded = yaml.load(template_path.read_text(), Loader=CloudFormationLoader)  # noqa: S506
    if not isinstance(loaded, dict) or "Resources" not in loaded:
        raise ValueError(f"{template_path} is not a CloudFormation template")
    return loaded


def inline_definition(asl_text: str, substitutions: Mapping[str, Any]) -> dict[str, Any]:
    """``DefinitionString`` for an ASL document with ``${Name}`` placeholders.

    Returns ``{"Fn::Join": ["", [chunk, value, chunk, ...]]}`` where each value is the
    substitution's (possibly intrinsic) value. The ASL is minified first to keep the template
    under CloudFormation's body size limit. Every placeholder must have a substitution.
    """
    minified = json.dumps(json.loads(asl_text), separators=(",", ":"), ensure_ascii=False)
    parts: list[Any] = []
    position = 0
    for match in _PLACEHOLDER.finditer(minified):
        name = match.group(1)
        if name not in substitutions:
            raise ValueError(f"state machine placeholder ${{{name}}} has no substitution")
        parts.append(minified[position : match.start()])
        parts.append(substitutions[name])
        position = match.end()
    parts.append(minified[position:])
    return {"Fn::Join": ["", [part for part in parts if part != ""]]}


def _state_machine_ids(template: Mapping[str, Any]) -> list[str]:
    return [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::StepFunctions::StateMachine"
    ]


def render_template(template_path: Path, asl_path: Path) -> dict[str, Any]:
    """The deployable template: the state machine definition inlined, for AWS and moto alike.

    Every ``AWS::StepFunctions::StateMachine`` with ``DefinitionS3Location`` gets a
    ``DefinitionString`` built from ``asl_path`` and its ``DefinitionSubstitutions``; the
    ``StateMachineDefinitionBucket``/``Key`` parameters are dropped (nothing uses them then).
    """
    template = load_template(template_path)
    asl_text = asl_path.read_text()
    rendered = 0
    for logical_id in _state_machine_ids(template):
        properties = template["Resources"][logical_id].setdefault("Properties", {})
        if "DefinitionS3Location" not in properties:
            continue
        substitutions = properties.pop("DefinitionSubstitutions", {})
        del properties["DefinitionS3Location"]
        properties["DefinitionString"] = inline_definition(asl_text, substitutions)
        rendered += 1
    if rendered == 0:
        raise ValueError(f"{template_path} has no state machine with DefinitionS3Location")
    remaining = json.dumps(template["Resources"]) + json.dumps(template.get("Outputs", {}))
    parameters = template.get("Parameters", {})
    for name in DEFINITION_PARAMETERS:
        if name in parameters and f'"Ref": "{name}"' not in remaining:
            del parameters[name]
    _drop_from_interface(template, DEFINITION_PARAMETERS)
    json.dumps(template)  # fail here, not in the API call, if anything is not JSON-compatible
    return template


def _drop_from_interface(template: dict[str, Any], names: tuple[str, ...]) -> None:
    interface = template.get("Metadata", {}).get("AWS::CloudFormation::Interface", {})
    groups = interface.get("ParameterGroups", [])
    for group in groups:
        group["Parameters"] = [name for name in group.get("Parameters", []) if name not in names]
    interface["ParameterGroups"] = [group for group in groups if group.get("Parameters")]


def template_body(template: Mapping[str, Any]) -> str:
    """The compact JSON body sent to CloudFormation."""
    return json.dumps(template, separators=(",", ":"))


# --- stack outputs -----------------------------------------------------------------------


class StackOutputs(BaseModel):
    """Every name, URL and ARN a service or the CLI needs, from the stack's Outputs.

    Validates from the CloudFormation output keys (``DataBucket``, ...) or from the field
    names (``model_dump()`` round-trips).
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    data_bucket: str = Field(alias="DataBucket")
    landing_prefix: str = Field(default="landing/", alias="LandingPrefix")
    arrivals_queue_url: str = Field(alias="ArrivalsQueueUrl")
    arrivals_dlq_url: str = Field(alias="ArrivalsDlqUrl")
    loader_queue_url: str = Field(alias="LoaderQueueUrl")
    loader_dlq_url: str = Field(alias="LoaderDlqUrl")
    validator_queue_url: str = Field(alias="ValidatorQueueUrl")
    validator_dlq_url: str = Field(alias="ValidatorDlqUrl")
    kpi_queue_url: str = Field(alias="KpiQueueUrl")
    kpi_dlq_url: str = Field(alias="KpiDlqUrl")
    batch_announcements_queue_url: str = Field(alias="BatchAnnouncementsQueueUrl")
    # Optional: stacks deployed before it existed do not have it.
    batch_staged_dlq_url: str = Field(default="", alias="BatchStagedDlqUrl")
    ledger_table: str = Field(alias="LedgerTable")
    daily_kpis_table: str = Field(alias="DailyKpisTable")
    category_kpis_table: str = Field(alias="CategoryKpisTable")
    notifications_topic_arn: str = Field(alias="NotificationsTopicArn")
    state_machine_arn: str = Field(alias="StateMachineArn")
    state_machine_role_arn: str = Field(alias="StateMachineRoleArn")
    event_bus_name: str = Field(alias="EventBusName")
    cluster_name: str | None = Field(default=None, alias="ClusterName")
    # The dashboard and API on AWS (its load balancer); none on the local stack.
    api_url: str | None = Field(default=None, alias="ApiUrl")

    @classmethod
    def from_outputs(cls, outputs: Iterable[Mapping[str, Any]]) -> StackOutputs:
        """From ``describe_stacks()["Stacks"][0]["Outputs"]``."""
        values = {output["OutputKey"]: output["OutputValue"] for output in outputs}
        missing = [
            field.alias
            for field in cls.model_fields.values()
            if field.is_required() and field.alias not in values
        ]
        if missing:
            raise StackDeployError(f"stack outputs missing: {', '.join(sorted(map(str, missing)))}")
        return cls.model_validate(values)

    def worker_environment(self, service: Literal["loader", "validator", "kpi"]) -> dict[str, str]:
        """The resource-name SHOPFLOW_* settings of one worker (region/endpoint/tuning aside)."""
        # Every worker records typed failures in the ledger table (FAILURE#<run id>).
        # And reads runs' histories to drop commands their run no longer waits for.
        shared = {
            "SHOPFLOW_DATA_BUCKET": self.data_bucket,
            "SHOPFLOW_LEDGER_TABLE": self.ledger_table,
            "SHOPFLOW_STATE_MACHINE_ARN": self.state_machine_arn,
        }
        if service == "loader":
            return shared | {
                "SHOPFLOW_LANDING_PREFIX": self.landing_prefix,
                "SHOPFLOW_ARRIVALS_QUEUE_URL": self.arrivals_queue_url,
                "SHOPFLOW_LOADER_QUEUE_URL": self.loader_queue_url,
            }
        if service == "validator":
            return shared | {"SHOPFLOW_VALIDATOR_QUEUE_URL": self.validator_queue_url}
        return shared | {
            "SHOPFLOW_KPI_QUEUE_URL": self.kpi_queue_url,
            "SHOPFLOW_DAILY_KPIS_TABLE": self.daily_kpis_table,
            "SHOPFLOW_CATEGORY_KPIS_TABLE": self.category_kpis_table,
        }

    def api_environment(self) -> dict[str, str]:
        """The API's resource-name SHOPFLOW_* settings: what it reads, nothing it writes."""
        return {
            "SHOPFLOW_DAILY_KPIS_TABLE": self.daily_kpis_table,
            "SHOPFLOW_CATEGORY_KPIS_TABLE": self.category_kpis_table,
            "SHOPFLOW_DATA_BUCKET": self.data_bucket,
            "SHOPFLOW_STATE_MACHINE_ARN": self.state_machine_arn,
            "SHOPFLOW_LEDGER_TABLE": self.ledger_table,
        }


# --- deploying ---------------------------------------------------------------------------


def _describe_stack(cloudformation_client: Any, stack_name: str) -> dict[str, Any] | None:
    try:
        stacks = cloudformation_client.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stacks[0] if stacks else None


def read_stack_outputs(cloudformation_client: Any, stack_name: str) -> StackOutputs:
    """The outputs of an existing, deployed stack."""
    stack = _describe_stack(cloudformation_client, stack_name)
    if stack is None:
        raise StackDeployError(f"stack {stack_name} does not exist")
    return StackOutputs.from_outputs(stack.get("Outputs", []))


def _failure_reasons(cloudformation_client: Any, stack_name: str) -> list[str]:
    """Failed resources of the latest operation, oldest first (``Logical (Type): reason``)."""
    reasons: list[str] = []
    try:
        paginator = cloudformation_client.get_paginator("describe_stack_events")
        for page in paginator.paginate(StackName=stack_name):
            for event in page["StackEvents"]:
                status = event.get("ResourceStatus", "")
                is_stack = event.get("ResourceType") == "AWS::CloudFormation::Stack"
                if is_stack and event.get("ResourceStatusReason") == "User Initiated":
                    return list(reversed(reasons))
                if status.endswith("_FAILED"):
                    reasons.append(
                        f"{event.get('LogicalResourceId')} ({event.get('ResourceType')}) "
                        f"{status}: {event.get('ResourceStatusReason', 'no reason given')}"
                    )
    except ClientError as error:
        reasons.append(f"(stack events unavailable: {error})")
    return list(reversed(reasons))


def _wait_for_stack(
    cloudformation_client: Any,
    stack_name: str,
    *,
    timeout_seconds: float,
    poll_seconds: float,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_seconds
    while True:
        stack = _describe_stack(cloudformation_client, stack_name)
        if stack is None:
            raise StackDeployError(f"stack {stack_name} disappeared while deploying")
        status = stack["StackStatus"]
        if status in _SUCCESS:
            return stack
        if status in _FAILED or not status.endswith("_IN_PROGRESS"):
            reasons = _failure_reasons(cloudformation_client, stack_name)
            detail = "\n  ".join(reasons) or stack.get("StackStatusReason", "no reason given")
            raise StackDeployError(f"stack {stack_name} ended in {status}:\n  {detail}")
        if time.monotonic() > deadline:
            raise StackDeployError(
                f"stack {stack_name} still {status} after {timeout_seconds:.0f} s; "
                "check the CloudFormation console or describe-stack-events"
            )
        sleep(poll_seconds)


def _is_local(parameters: Mapping[str, str], template: Mapping[str, Any]) -> bool:
    declared = template.get("Parameters", {}).get("Environment")
    if declared is None:
        return False
    return bool(parameters.get("Environment", declared.get("Default")) == "local")


def resolve_definition(template: Mapping[str, Any], outputs: Mapping[str, str]) -> str:
    """The state machine definition of a rendered template with its substitutions resolved.

    Each substituted value (``{"Ref": "LoaderQueue"}``, ...) is looked up among the template's
    Outputs with the same ``Value``; ``outputs`` maps output keys to the deployed values. The
    partition (``{"Ref": "AWS::Partition"}``) is read from the state machine's ARN.
    """
    (logical_id,) = _state_machine_ids(template)
    definition = template["Resources"][logical_id]["Properties"]["DefinitionString"]
    separator, parts = definition["Fn::Join"]
    by_value = {
        json.dumps(output["Value"], sort_keys=True): key
        for key, output in template.get("Outputs", {}).items()
    }
    pseudo = {
        json.dumps({"Ref": "AWS::Partition"}): outputs["StateMachineArn"].split(":")[1],
    }
    resolved: list[str] = []
    for part in parts:
        if isinstance(part, str):
            resolved.append(part)
            continue
        if json.dumps(part, sort_keys=True) in pseudo:
            resolved.append(pseudo[json.dumps(part, sort_keys=True)])
            continue
        key = by_value.get(json.dumps(part, sort_keys=True))
        if key is None or key not in outputs:
            raise ValueError(f"no stack output resolves the state machine substitution {part}")
        resolved.append(outputs[key])
    return str(separator).join(resolved)


def ensure_state_machine(
    stepfunctions_client: Any, template: Mapping[str, Any], outputs: StackOutputs
) -> str:
    """Create or update the state machine through the Step Functions API (the local stack).

    Uses the name in ``outputs.state_machine_arn``, the stack's state machine role and the
    rendered template's definition; returns the state machine ARN.
    """
    definition = resolve_definition(template, outputs.model_dump(by_alias=True))
    arn = outputs.state_machine_arn
    try:
        stepfunctions_client.describe_state_machine(stateMachineArn=arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "StateMachineDoesNotExist":
            raise
        created = stepfunctions_client.create_state_machine(
            name=arn.rsplit(":", 1)[1],
            definition=definition,
            roleArn=outputs.state_machine_role_arn,
            type="STANDARD",
        )["stateMachineArn"]
        if created != arn:
            raise StackDeployError(f"state machine created as {created}, expected {arn}") from None
        return arn
    stepfunctions_client.update_state_machine(
        stateMachineArn=arn, definition=definition, roleArn=outputs.state_machine_role_arn
    )
    return arn


def _local_client(service: str, like: Any) -> Any:
    """A client for the same moto server and region as ``like`` (moto takes any credentials)."""
    from shopflow_cli.clients import aws_client

    return aws_client(service, like.meta.endpoint_url, like.meta.region_name)


TemplateStore = Callable[[str], str]
"""Uploads a template body and returns a URL CloudFormation can read it from."""


class S3TemplateStore:
    """Keeps rendered templates in a bucket (the one holding the ASL copy will do).

    A template over CloudFormation's 51,200-byte body limit must come from S3. CloudFormation
    reads it with the deploying identity's own permissions, at the bucket's virtual-hosted
    regional URL (moto resolves the same URL to its own bucket).
    """

    def __init__(self, s3_client: Any, bucket: str, prefix: str = "shopflow/templates/") -> None:
        self._s3 = s3_client
        self._bucket = bucket
        self._prefix = prefix

    def __call__(self, body: str) -> str:
        key = f"{self._prefix}{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=body.encode(), ContentType="application/json"
        )
        region = self._s3.meta.region_name
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        return f"https://{self._bucket}.s3.{region}.{suffix}/{key}"


def template_source(
    template: Mapping[str, Any], *, local: bool, store: TemplateStore | None
) -> dict[str, str]:
    """``TemplateBody``, or ``TemplateURL`` once the body is over CloudFormation's limit.

    moto has no body limit, so a local deploy always sends the body.
    """
    body = template_body(template)
    size = len(body.encode())
    if local or size <= TEMPLATE_BODY_LIMIT:
        return {"TemplateBody": body}
    if store is None:
        raise StackDeployError(
            f"rendered template is {size} bytes, over CloudFormation's {TEMPLATE_BODY_LIMIT}-byte "
            "TemplateBody limit: give a bucket to upload it to (shopflow deploy --template-bucket)"
        )
    return {"TemplateURL": store(body)}


def deploy_stack(
    cloudformation_client: Any,
    stack_name: str,
    parameters: dict[str, str],
    template: dict[str, Any],
    *,
    template_store: TemplateStore | None = None,
    stepfunctions_client: Any = None,
    timeout_seconds: float = 3600,
    poll_seconds: float = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> StackOutputs:
    """Create or update ``stack_name`` from ``template`` and wait until it is done.

    ``parameters`` must name template parameters (unknown keys are an error: moto would
    silently ignore them); missing ones take their defaults. Raises ``StackDeployError`` with
    the failed resources' status reasons when the stack does not reach ``*_COMPLETE``.
    With ``Environment=local`` the state machine is then created or updated through
    ``stepfunctions_client`` (see :func:`ensure_state_machine`); when not given, a client for
    the CloudFormation client's endpoint (the moto server) and region is made.
    """
    declared = template.get("Parameters", {})
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(
            f"unknown template parameters {unknown}; the template declares {sorted(declared)}"
        )
    local = _is_local(parameters, template)
    if local and stepfunctions_client is None:
        stepfunctions_client = _local_client("stepfunctions", cloudformation_client)
    outputs = _create_or_update(
        cloudformation_client,
        stack_name,
        parameters,
        template_source(template, local=local, store=template_store),
        timeout_seconds=timeout_seconds,
        poll_seconds=poll_seconds,
        sleep=sleep,
    )
    if local:
        ensure_state_machine(stepfunctions_client, template, outputs)
    return outputs


def _create_or_update(
    cloudformation_client: Any,
    stack_name: str,
    parameters: dict[str, str],
    source: dict[str, str],
    *,
    timeout_seconds: float,
    poll_seconds: float,
    sleep: Callable[[float], None],
) -> StackOutputs:
    request: dict[str, Any] = {
        "StackName": stack_name,
        **source,
        "Parameters": [
            {"ParameterKey": key, "ParameterValue": str(value)}
            for key, value in sorted(parameters.items())
        ],
        "Capabilities": CAPABILITIES,
        "Tags": [{"Key": "shopflow:stack", "Value": stack_name}],
    }
    existing = _describe_stack(cloudformation_client, stack_name)
    try:
        if existing is None:
            cloudformation_client.create_stack(**request, OnFailure="ROLLBACK")
        elif existing["StackStatus"] in {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED"}:
            raise StackDeployError(
                f"stack {stack_name} is {existing['StackStatus']} (its creation failed): "
                "delete it and deploy again"
            )
        else:
            try:
                cloudformation_client.update_stack(**request)
            except ClientError as error:
                if "No updates are to be performed" not in str(error):
                    raise
                return StackOutputs.from_outputs(existing.get("Outputs", []))
    except ClientError as error:
        raise StackDeployError(f"CloudFormation rejected stack {stack_name}: {error}") from error
    stack = _wait_for_stack(
        cloudformation_client,
        stack_name,
        timeout_seconds=timeout_seconds,
        poll_seconds=poll_seconds,
        sleep=sleep,
    )
    return StackOutputs.from_outputs(stack.get("Outputs", []))


def enable_bucket_eventbridge(s3_client: Any, bucket: str) -> None:
    """Turn on S3 -> EventBridge notifications for ``bucket``.

    The template already sets ``NotificationConfiguration.EventBridgeConfiguration``, but moto
    ignores it; calling this after every deploy is harmless on AWS (same configuration).
    """
    s3_client.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"EventBridgeConfiguration": {}},
    )


# --- one service at a time -----------------------------------------------------------------

_IMAGE_PARAMETER = re.compile(r"^ContainerImage(?P<service>[A-Z][A-Za-z]*)$")


def deployable_services(template: Mapping[str, Any]) -> dict[str, str]:
    """Service name -> the template parameter holding its image (``kpi`` -> ContainerImageKpi)."""
    found = (_IMAGE_PARAMETER.match(name) for name in template.get("Parameters", {}))
    return {match["service"].lower(): match.group(0) for match in found if match}


def _references(node: Any) -> set[str]:
    """Logical ids and parameters a template fragment refers to (Ref, GetAtt, Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {name.split(".")[0] for name in _PLACEHOLDER.findall(str(text))}
                found |= _references(value[1] if isinstance(value, list) else {})
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def affected_by(template: Mapping[str, Any], parameter: str) -> set[str]:
    """The resources a change of ``parameter`` can reach: its users, their users, and so on."""
    resources = template.get("Resources", {})
    uses = {name: _references(resource) for name, resource in resources.items()}
    reached: set[str] = set()
    frontier = {parameter}
    while frontier:
        frontier = {name for name, refs in uses.items() if refs & frontier} - reached
        reached |= frontier
    return reached


class ResourceChange(BaseModel):
    logical_id: str
    resource_type: str
    action: str
    replacement: str = ""


class ServiceChangeSet(BaseModel):
    """A change set that ships one service's image, checked but not yet executed."""

    stack_name: str
    name: str
    service: str
    parameter: str
    image: str
    previous_image: str
    changes: list[ResourceChange]
    # False when CloudFormation found nothing to change (the image is already deployed).
    executable: bool


def plan_service_deploy(
    cloudformation_client: Any,
    stack_name: str,
    service: str,
    image: str,
    *,
    timeout_seconds: float = 600,
    poll_seconds: float = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> ServiceChangeSet:
    """A change set on the deployed template in which only ``service``'s image parameter
    changes (every other parameter keeps its value), checked to touch nothing beyond what that
    parameter reaches (the service's task definition and ECS service).

    Raises ``StackDeployError`` (and deletes the change set) when it would change anything
    else. Nothing is changed until :func:`execute_service_deploy`.
    """
    stack = _describe_stack(cloudformation_client, stack_name)
    if stack is None:
        raise StackDeployError(f"stack {stack_name} does not exist: deploy the whole stack first")
    deployed = cloudformation_client.get_template(StackName=stack_name, TemplateStage="Original")
    template = deployed["TemplateBody"]
    if isinstance(template, str):
        template = json.loads(template)
    services = deployable_services(template)
    if service not in services:
        raise StackDeployError(
            f"unknown service {service!r}: the stack deploys {', '.join(sorted(services))}"
        )
    parameter = services[service]
    current = {item["ParameterKey"]: item.get("ParameterValue", "") for item in stack["Parameters"]}
    # Every other parameter is sent with the value the stack has now (a NoEcho one, shown only
    # masked, as UsePreviousValue): the image is the change set's only input that differs.
    # (moto mishandles UsePreviousValue of list parameters, so values it is.)
    request_parameters: list[dict[str, Any]] = [
        {"ParameterKey": key, "UsePreviousValue": True}
        if value == "****"
        else {"ParameterKey": key, "ParameterValue": value}
        for key, value in current.items()
        if key != parameter
    ]
    request_parameters.append({"ParameterKey": parameter, "ParameterValue": image})
    name = f"{service}-{hashlib.sha256(image.encode()).hexdigest()[:12]}-{int(time.time())}"
    cloudformation_client.create_change_set(
        StackName=stack_name,
        ChangeSetName=name,
        ChangeSetType="UPDATE",
        UsePreviousTemplate=True,
        Parameters=request_parameters,
        Capabilities=CAPABILITIES,
        Description=f"shopflow deploy --service {service} --image {image}",
    )
    described = _wait_for_change_set(
        cloudformation_client, stack_name, name, timeout_seconds, poll_seconds, sleep
    )
    plan = ServiceChangeSet(
        stack_name=stack_name,
        name=name,
        service=service,
        parameter=parameter,
        image=image,
        previous_image=current.get(parameter, ""),
        changes=[
            ResourceChange(
                logical_id=change["ResourceChange"]["LogicalResourceId"],
                resource_type=change["ResourceChange"]["ResourceType"],
                action=change["ResourceChange"]["Action"],
                replacement=str(change["ResourceChange"].get("Replacement", "")),
            )
            for change in described.get("Changes", [])
            if change.get("Type") == "Resource"
        ],
        executable=described["Status"] == "CREATE_COMPLETE",
    )
    if described["Status"] == "FAILED":
        reason = str(described.get("StatusReason", ""))
        cloudformation_client.delete_change_set(StackName=stack_name, ChangeSetName=name)
        if "didn't contain changes" not in reason and "No updates" not in reason:
            raise StackDeployError(f"change set {name} failed: {reason}")
        return plan
    allowed = affected_by(template, parameter)
    beyond = [change.logical_id for change in plan.changes if change.logical_id not in allowed]
    if beyond:
        cloudformation_client.delete_change_set(StackName=stack_name, ChangeSetName=name)
        raise StackDeployError(
            f"deploying {service} alone would also change {', '.join(beyond)}; nothing was "
            "changed: deploy the whole stack (shopflow deploy) instead"
        )
    return plan


def execute_service_deploy(
    cloudformation_client: Any,
    plan: ServiceChangeSet,
    *,
    timeout_seconds: float = 3600,
    poll_seconds: float = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    if not plan.executable:
        return
    cloudformation_client.execute_change_set(StackName=plan.stack_name, ChangeSetName=plan.name)
    _wait_for_stack(
        cloudformation_client,
        plan.stack_name,
        timeout_seconds=timeout_seconds,
        poll_seconds=poll_seconds,
        sleep=sleep,
    )


def _wait_for_change_set(
    cloudformation_client: Any,
    stack_name: str,
    name: str,
    timeout_seconds: float,
    poll_seconds: float,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_seconds
    while True:
        described: dict[str, Any] = cloudformation_client.describe_change_set(
            StackName=stack_name, ChangeSetName=name
        )
        if described["Status"] in {"CREATE_COMPLETE", "FAILED"}:
            return described
        if time.monotonic() > deadline:
            raise StackDeployError(f"change set {name} still {described['Status']}")
        sleep(poll_seconds)
