"""docs/validation.md says which columns can reject a row: exactly what the contracts say."""

from __future__ import annotations

import re
from pathlib import Path

from shopflow_contracts.rows import REQUIRED_COLUMNS, ROW_MODELS, ROW_REJECTING_COLUMNS

DOC = Path(__file__).resolve().parents[3] / "docs" / "validation.md"
ROW = re.compile(r"^\| (orders|order_items|products) \| `(\w+)` \| (.+) \|$")


def test_the_rejecting_columns_table_is_the_contracts_list() -> None:
    documented: dict[str, dict[str, str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        found = ROW.match(line)
        if found:
            documented.setdefault(found[1], {})[found[2]] = found[3]
    assert documented == {kind.value: columns for kind, columns in ROW_REJECTING_COLUMNS.items()}


def test_every_required_column_can_reject_and_every_rejecting_column_exists() -> None:
    for kind, columns in ROW_REJECTING_COLUMNS.items():
        assert set(REQUIRED_COLUMNS[kind]) <= set(columns), kind
        assert set(columns) <= set(ROW_MODELS[kind].model_fields), kind
