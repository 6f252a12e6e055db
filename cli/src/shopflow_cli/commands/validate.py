"""``shopflow validate PATH... [--out DIR]``: the service's validator on local files, no AWS."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import click

from shopflow_cli import operations, output
from shopflow_cli.output import Column, UserError

ACCOUNTING = (
    Column("file"),
    Column("kind"),
    Column("rows_in", "count", "sum", header="rows in"),
    Column("accepted", "count", "sum"),
    Column("rejected", "count", "sum"),
    Column("duplicates", "count", "sum"),
    Column("status"),
    Column("top reasons"),
)


@click.command(name="validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for each file's <name>.parquet (accepted rows), <name>.rejected.csv and "
    "<name>.report.json (created if missing); a temporary folder, removed after, if not given.",
)
@click.option(
    "--reject-threshold",
    type=click.FloatRange(min=0, max=1),
    default=0.5,
    show_default=True,
    help="A file with a larger share of rejected rows would be quarantined.",
)
@click.option(
    "--money",
    type=click.Choice(["round", "strict"]),
    default="round",
    show_default=True,
    help="round: any numeric spelling, rounded to the cent; strict: at most two places.",
)
def command(paths: tuple[Path, ...], out: Path | None, reject_threshold: float, money: str) -> int:
    """Validate export files (or every data file of a folder) as the pipeline would, without
    uploading them: each file's accounting and top reasons; exit 1 if a file would be
    quarantined (or is no known export).

    Example: shopflow validate exports/ --out /tmp/checked
    """
    try:
        from shopflow_validator.domain import ValidationConfig
        from shopflow_validator.domain.policy import RejectRules
        from shopflow_validator.local import validate_paths
    except ImportError:
        raise UserError(
            "shopflow validate needs the validator: install 'shopflow-cli[local]'", 2
        ) from None

    files = [file for file, _ in operations.data_files_of(paths)]
    rules = RejectRules(policy="quarantine", threshold=Decimal(str(reject_threshold)))
    config = ValidationConfig(money="strict" if money == "strict" else "round")
    with tempfile.TemporaryDirectory(prefix="shopflow-validate-") as scratch:
        target = out or Path(scratch)
        with output.status(f"validating {len(files)} file(s) ..."):
            outcomes = validate_paths(files, target, rules, config)
        rows = []
        for outcome in outcomes:
            result = outcome.result
            reasons = (
                outcome.unrecognised
                if result is None
                else ", ".join(f"{rule} x{count:,}" for rule, count in result.top_reasons(3))
            )
            rows.append(
                {
                    "file": str(outcome.path),
                    "kind": "-" if result is None else result.kind.value,
                    "rows_in": None if result is None else result.rows_in,
                    "accepted": None if result is None else result.accepted,
                    "rejected": None if result is None else result.rejected,
                    "duplicates": None if result is None else result.duplicates,
                    "status": "unrecognised"
                    if result is None
                    else ("quarantined" if outcome.quarantine else "accepted"),
                    "top reasons": reasons or "-",
                }
            )
        output.show(output.table(ACCOUNTING, rows, totals=len(rows) > 1))
        for outcome in outcomes:
            if outcome.quarantine is not None:
                output.line(f"quarantined: {outcome.quarantine.message}")
            if outcome.report is not None and outcome.report.money_rounding.rows:
                output.note(
                    f"{outcome.path}: {outcome.report.money_rounding.rows:,} row(s) with money "
                    "rounded by more than float noise (see the report)"
                )
            if outcome.report is not None and outcome.report.column_warnings:
                nulled = ", ".join(
                    f"{warning.rule} x{warning.count:,}"
                    for warning in outcome.report.column_warnings
                )
                output.note(f"{outcome.path}: cells nulled (nothing needs them): {nulled}")
        if out is not None:
            output.note(f"outputs in {out}")
    return 1 if any(outcome.would_be_quarantined for outcome in outcomes) else 0
