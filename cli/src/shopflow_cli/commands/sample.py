"""``shopflow sample``: write a seeded, realistic TheLook-style sample dataset."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from shopflow_cli import output
from shopflow_cli.options import DATE
from shopflow_cli.output import UserError


@click.command(name="sample")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder to write orders.csv, order_items.csv, products.csv and manifest.json into "
    "(created if missing), for example /tmp/shop.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--orders",
    type=click.IntRange(min=1),
    default=3000,
    show_default=True,
    help="Number of orders (each has 1 to 4 items), for example 200000.",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=42,
    show_default=True,
    help="Number of days the orders spread over.",
)
@click.option(
    "--start",
    type=DATE,
    default="2025-03-01",
    show_default=True,
    help="First order day, YYYY-MM-DD.",
)
@click.option(
    "--broken-rows",
    type=click.IntRange(min=0),
    default=12,
    show_default=True,
    help="Rows deliberately broken (each listed in manifest.json with its reason).",
)
@click.option(
    "--style",
    type=click.Choice(["shopflow", "bigquery"]),
    default="shopflow",
    show_default=True,
    help="bigquery: the same data as bq extract writes TheLook (float money, microsecond "
    "timestamps, extra columns, sharded and partly gzipped files; exact twin in exact/).",
)
def command(
    out: Path, seed: int, orders: int, days: int, start: date, broken_rows: int, style: str
) -> None:
    """Write a seeded sample: both timestamp spellings, blank descriptive fields, items
    created after midnight for orders before it, and a known number of broken rows.

    Example: shopflow sample --out /tmp/shop --orders 20000
    """
    from shopflow_cli.sampledata import EXACT_DIR, generate_export, generate_sample

    if style == "bigquery":
        with output.status(f"writing {orders:,} orders to {out} as bq extract would ..."):
            try:
                export = generate_export(
                    out, seed=seed, orders=orders, days=days, start=start, broken_rows=broken_rows
                )
            except ValueError as problem:
                raise UserError(str(problem), 2) from None
        output.line(
            f"wrote {len(export.shards)} shards to {export.out_dir} "
            f"({len(export.broken_rows)} broken rows; exact twin in {EXACT_DIR}/)"
        )
        return

    with output.status(f"writing {orders:,} orders to {out} ..."):
        try:
            manifest = generate_sample(
                out, seed=seed, orders=orders, days=days, start=start, broken_rows=broken_rows
            )
        except ValueError as problem:
            raise UserError(str(problem), 2) from None
    counts = ", ".join(f"{name}: {rows:,} rows" for name, rows in manifest.counts.items())
    output.line(f"wrote {manifest.out_dir} ({counts}; {len(manifest.broken_rows)} broken rows)")
