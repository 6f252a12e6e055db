"""Export the JSON Schema of every contract into the repo, or check the exported copy.

``shopflow-export-schemas`` rewrites ``contracts/schemas/``; ``--check`` fails (exit 1) when
a model changed without its exported schema, so consumers in other languages or repos
never read a stale contract.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import BaseModel

from shopflow_contracts import events, messages, report, rows

CONTRACT_MODELS: dict[str, type[BaseModel]] = {
    "batch_execution_input": messages.BatchExecutionInput,
    "load_command": messages.LoadCommand,
    "load_result": messages.LoadResult,
    "validate_command": messages.ValidateCommand,
    "validate_result": messages.ValidateResult,
    "kpi_command": messages.KpiCommand,
    "kpi_result": messages.KpiResult,
    "task_failure": messages.TaskFailure,
    "run_succeeded": messages.RunSucceeded,
    "run_failed": messages.RunFailed,
    "batch_staged_detail": messages.BatchStagedDetail,
    "s3_object_created_event": events.S3ObjectCreatedEvent,
    "order_row": rows.OrderRow,
    "order_item_row": rows.OrderItemRow,
    "product_row": rows.ProductRow,
    "validation_report": report.ValidationReport,
}

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "schemas"


def rendered_schemas() -> dict[str, str]:
    return {
        f"{name}.schema.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True)
        + "\n"
        for name, model in CONTRACT_MODELS.items()
    }


def drift(directory: Path) -> list[str]:
    """Names of schema files that are missing, stale or no longer produced."""
    expected = rendered_schemas()
    present = {path.name for path in directory.glob("*.schema.json")}
    problems = [
        name
        for name, text in expected.items()
        if not (directory / name).exists() or (directory / name).read_text() != text
    ]
    problems.extend(sorted(present - expected.keys()))
    return sorted(problems)


def write(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in set(p.name for p in directory.glob("*.schema.json")) - rendered_schemas().keys():
        (directory / stale).unlink()
    for name, text in rendered_schemas().items():
        (directory / name).write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="fail on drift, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = drift(args.dir)
        if problems:
            print(
                "contract schemas drifted from the models: "
                + ", ".join(problems)
                + "\nrun `make schemas` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"contract schemas up to date ({len(CONTRACT_MODELS)} models)")
        return 0
    write(args.dir)
    print(f"wrote {len(CONTRACT_MODELS)} schemas to {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
