"""Export the JSON Schema of every contract into the repo, or check the exported copy.

``shopflow-export-schemas`` rewrites ``contracts/schemas/``; ``--check`` fails (exit 1) when
a model changed without its exported schema, so consumers in other languages or repos
never read a stale contract, and when a schema broke the released contract of its
``schema_version`` (``contracts/compat/v<N>/``, see ``shopflow_contracts.compatibility``).
``--freeze`` records the current schemas and golden examples as that released contract.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from pydantic import BaseModel

from shopflow_contracts import events, messages, report, rows, storage
from shopflow_contracts.compatibility import breaking_changes
from shopflow_contracts.envelope import SCHEMA_VERSION

CONTRACT_MODELS: dict[str, type[BaseModel]] = {
    "batch_execution_input": messages.BatchExecutionInput,
    "reprocess_execution_input": messages.ReprocessExecutionInput,
    "recompute_execution_input": messages.RecomputeExecutionInput,
    "load_command": messages.LoadCommand,
    "load_result": messages.LoadResult,
    "validate_command": messages.ValidateCommand,
    "validate_result": messages.ValidateResult,
    "kpi_command": messages.KpiCommand,
    "kpi_result": messages.KpiResult,
    "task_failure": messages.TaskFailure,
    "run_succeeded": messages.RunSucceeded,
    "run_partial": messages.RunPartial,
    "run_failed": messages.RunFailed,
    "batch_staged_detail": messages.BatchStagedDetail,
    "s3_object_created_event": events.S3ObjectCreatedEvent,
    "order_row": rows.OrderRow,
    "order_item_row": rows.OrderItemRow,
    "product_row": rows.ProductRow,
    "validation_report": report.ValidationReport,
    "uncommitted_batch": storage.UncommittedBatch,
}

CONTRACTS_DIR = Path(__file__).resolve().parents[2]
DEFAULT_DIR = CONTRACTS_DIR / "schemas"
EXAMPLES_DIR = CONTRACTS_DIR / "examples"
COMPAT_DIR = CONTRACTS_DIR / "compat"


def released_dir(version: int = SCHEMA_VERSION, compat_dir: Path = COMPAT_DIR) -> Path:
    return compat_dir / f"v{version}"


def incompatibilities(schemas: dict[str, str], released: Path) -> dict[str, list[str]]:
    """Per schema file, what the current schema refuses that the released one accepted.

    A contract the release did not have yet is new, hence compatible; one it had that is gone
    is broken as a whole.
    """
    found: dict[str, list[str]] = {}
    for old_path in sorted((released / "schemas").glob("*.schema.json")):
        if old_path.name not in schemas:
            found[old_path.name] = ["$: contract removed"]
            continue
        problems = breaking_changes(
            json.loads(old_path.read_text()), json.loads(schemas[old_path.name])
        )
        if problems:
            found[old_path.name] = problems
    return found


def freeze(
    released: Path, schemas_dir: Path = DEFAULT_DIR, examples_dir: Path = EXAMPLES_DIR
) -> None:
    for part, source in (("schemas", schemas_dir), ("examples", examples_dir)):
        target = released / part
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)


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
    parser.add_argument(
        "--freeze",
        action="store_true",
        help=f"record the schemas and examples as the released contract v{SCHEMA_VERSION}",
    )
    parser.add_argument("--compat-dir", type=Path, default=COMPAT_DIR)
    args = parser.parse_args(argv)
    released = released_dir(SCHEMA_VERSION, args.compat_dir)
    if args.freeze:
        freeze(released, args.dir)
        print(f"recorded the released contract v{SCHEMA_VERSION} in {released}")
        return 0
    if args.check:
        if not (released / "schemas").is_dir():
            print(
                f"the contract v{SCHEMA_VERSION} has no released snapshot in {released}: "
                "freeze it (shopflow-export-schemas --freeze) with the change that raised "
                "SCHEMA_VERSION",
                file=sys.stderr,
            )
            return 1
        broken = incompatibilities(rendered_schemas(), released)
        if broken:
            lines = [
                f"  {name}: {problem}" for name, problems in broken.items() for problem in problems
            ]
            print(
                f"contract schemas break the released contract v{SCHEMA_VERSION} ({released}):\n"
                + "\n".join(lines)
                + "\nmake the change compatible, or raise SCHEMA_VERSION and freeze the new "
                "contract (shopflow-export-schemas --freeze)",
                file=sys.stderr,
            )
            return 1
        problems = drift(args.dir)
        if problems:
            print(
                "contract schemas drifted from the models: "
                + ", ".join(problems)
                + "\nrun `make schemas` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(
            f"contract schemas up to date ({len(CONTRACT_MODELS)} models) and compatible "
            f"with the released contract v{SCHEMA_VERSION}"
        )
        return 0
    write(args.dir)
    print(f"wrote {len(CONTRACT_MODELS)} schemas to {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
