"""Golden example messages: every contract has one, and it parses, round-trips and matches
the JSON Schema exported into the repo (what non-Python consumers read)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from shopflow_contracts.schema_export import CONTRACT_MODELS, DEFAULT_DIR, drift

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"


def test_every_contract_has_a_golden_example() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.json")} == set(CONTRACT_MODELS)


def test_exported_schemas_match_the_models() -> None:
    assert drift(DEFAULT_DIR) == []


@pytest.mark.parametrize("name", sorted(CONTRACT_MODELS))
def test_golden_example_parses_and_round_trips(name: str) -> None:
    # Given the golden example of a contract
    raw = json.loads((EXAMPLES / f"{name}.json").read_text())
    model = CONTRACT_MODELS[name]
    # When it is parsed and serialised again
    parsed = model.model_validate(raw)
    again = model.model_validate_json(parsed.model_dump_json(by_alias=True))
    # Then nothing is lost
    assert again == parsed


@pytest.mark.parametrize("name", sorted(CONTRACT_MODELS))
def test_golden_example_satisfies_the_exported_json_schema(name: str) -> None:
    schema = json.loads((DEFAULT_DIR / f"{name}.schema.json").read_text())
    jsonschema.validate(json.loads((EXAMPLES / f"{name}.json").read_text()), schema)


def test_envelopes_reject_unknown_fields_and_wrong_message_types() -> None:
    from pydantic import ValidationError
    from shopflow_contracts.messages import KpiCommand, LoadCommand

    raw = json.loads((EXAMPLES / "load_command.json").read_text())
    with pytest.raises(ValidationError):
        LoadCommand.model_validate({**raw, "surprise": 1})
    with pytest.raises(ValidationError, match="message_type"):
        KpiCommand.model_validate(raw)
    with pytest.raises(ValidationError, match="schema_version"):
        LoadCommand.model_validate({**raw, "schema_version": 2})
