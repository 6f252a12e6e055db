"""Validation reports for tests of their readers: the golden example with chosen fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GOLDEN_REPORT = (
    Path(__file__).resolve().parents[1] / "contracts" / "examples" / "validation_report.json"
)


def report_body(**fields: Any) -> dict[str, Any]:
    """A valid report (as JSON data) of an accepted file; ``fields`` replace the golden's.

    The golden's line listings and findings are emptied so the counts given stay consistent.
    """
    body: dict[str, Any] = json.loads(GOLDEN_REPORT.read_text(encoding="utf-8"))
    body.update(
        duplicate_rows=[],
        correction_rows=[],
        money_rounding={"rows": 0, "by_column": {}},
        money_rounding_rows=[],
        column_warnings=[],
        column_warning_cells=[],
        schema_changes=[],
        rejects_key=None,
        curated_key=None,
        duplicates=0,
        pending=0,
    )
    body.update(fields)
    return body
