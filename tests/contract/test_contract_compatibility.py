"""The released contract still holds: its golden messages parse with the current models, and
no schema refuses what the release accepted unless the schema_version was raised.

``contracts/compat/v<N>/`` is the snapshot of the released contract N (schemas and golden
examples, ``shopflow-export-schemas --freeze``); ``make schemas-check`` runs the same check.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field
from shopflow_contracts import schema_export
from shopflow_contracts.compatibility import breaking_changes
from shopflow_contracts.envelope import SCHEMA_VERSION, Contract
from shopflow_contracts.messages import KpiCommand, KpiRequest
from shopflow_contracts.schema_export import (
    CONTRACT_MODELS,
    incompatibilities,
    released_dir,
    rendered_schemas,
)

RELEASED = released_dir()


def _released(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((RELEASED / "schemas" / f"{name}.schema.json").read_text())
    return loaded


@pytest.mark.parametrize(
    "example", sorted(path.stem for path in (RELEASED / "examples").glob("*.json"))
)
def test_every_released_golden_message_still_parses_with_the_current_models(example: str) -> None:
    assert example in CONTRACT_MODELS, f"the released contract {example} has no model any more"
    raw = json.loads((RELEASED / "examples" / f"{example}.json").read_text())
    CONTRACT_MODELS[example].model_validate(raw)


def test_the_current_schemas_accept_all_the_released_contract_accepted() -> None:
    assert (RELEASED / "schemas").is_dir(), f"no released snapshot of v{SCHEMA_VERSION}"
    assert incompatibilities(rendered_schemas(), RELEASED) == {}


Mutation = Callable[[dict[str, Any]], object]

BREAKING: dict[str, tuple[str, Mutation, str]] = {
    "a property removed": (
        "kpi_command",
        lambda s: s["$defs"]["KpiRequest"]["properties"].pop("curated"),
        "$.payload.curated: removed",
    ),
    "a property newly required": (
        "kpi_command",
        lambda s: s["required"].append("task_token"),
        "$.task_token: now required",
    ),
    "an enumeration value dropped": (
        "kpi_command",
        lambda s: s["$defs"]["FileKind"]["enum"].remove("products"),
        "no longer accepts 'products'",
    ),
    "a type changed": (
        "kpi_command",
        lambda s: s["$defs"]["CuratedFile"]["properties"]["rows"].update(type="string"),
        "$.payload.curated[].rows: no longer accepts integer",
    ),
    "a bound tightened": (
        "kpi_command",
        lambda s: s["properties"]["run_id"].update(maxLength=40),
        "$.run_id: maxLength 80 became 40",
    ),
    "a message type renamed": (
        "kpi_command",
        lambda s: s["properties"]["message_type"].update(const="shopflow.kpis.command"),
        "constant 'shopflow.kpi.command' became 'shopflow.kpis.command'",
    ),
}


@pytest.mark.parametrize("change", sorted(BREAKING))
def test_a_breaking_change_is_named(change: str) -> None:
    name, mutate, expected = BREAKING[change]
    old = _released(name)
    new = copy.deepcopy(old)
    mutate(new)
    problems = breaking_changes(old, new)
    assert any(expected in problem for problem in problems), problems


COMPATIBLE: dict[str, Mutation] = {
    "a new optional property": lambda s: s["$defs"]["KpiRequest"]["properties"].update(
        note={"type": "string"}
    ),
    "a new enumeration value": lambda s: s["$defs"]["FileKind"]["enum"].append("returns"),
    "a bound loosened": lambda s: s["properties"]["run_id"].update(maxLength=120),
    "a required property made optional": lambda s: s["$defs"]["KpiRequest"]["required"].remove(
        "curated"
    ),
}


@pytest.mark.parametrize("change", sorted(COMPATIBLE))
def test_a_widening_change_is_compatible(change: str) -> None:
    old = _released("kpi_command")
    new = copy.deepcopy(old)
    COMPATIBLE[change](new)
    assert breaking_changes(old, new) == []


class PrioritisedKpiRequest(Contract):
    """KpiRequest with a new required field: what a careless edit of the model would do."""

    batch_id: str
    curated: list[Any]
    priority: int = Field(ge=0)


class PrioritisedKpiCommand(KpiCommand):
    payload: PrioritisedKpiRequest  # type: ignore[assignment]


def test_a_model_change_that_breaks_the_release_fails_the_check_without_a_new_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the kpi command's model changed incompatibly, its schema exported as CI sees it,
    # and the schema_version left as it was
    assert KpiRequest.model_fields["batch_id"].is_required()
    monkeypatch.setitem(schema_export.CONTRACT_MODELS, "kpi_command", PrioritisedKpiCommand)
    schema_export.write(tmp_path)
    # When CI checks the contracts (make schemas-check)
    code = schema_export.main(["--check", "--dir", str(tmp_path)])
    # Then it fails and says what broke and what to do
    assert code == 1
    error = capsys.readouterr().err
    assert "kpi_command.schema.json: $.payload.priority: now required" in error
    assert "raise SCHEMA_VERSION" in error


def test_a_version_without_its_released_snapshot_fails_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = schema_export.main(["--check", "--compat-dir", str(tmp_path / "compat")])
    assert code == 1
    assert f"v{SCHEMA_VERSION} has no released snapshot" in capsys.readouterr().err
