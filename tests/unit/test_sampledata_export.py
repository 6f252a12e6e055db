"""The sample written as ``bq extract`` writes TheLook: same data, export spellings, shards."""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from reference_kpis import reference_kpis
from shopflow_cli.sampledata import (
    EXACT_DIR,
    THELOOK_HEADERS,
    ExportManifest,
    generate_export,
    generate_sample,
)
from shopflow_contracts.rows import FileKind, parse_timestamp
from shopflow_validator.adapters.duckdb_engine import DuckDbEngine
from shopflow_validator.domain import validate_file

MONEY = ("sale_price", "cost", "retail_price")
TIMESTAMPS = ("created_at", "returned_at", "shipped_at", "delivered_at")
BQ_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?( UTC|\+00:00)")


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> ExportManifest:
    return generate_export(tmp_path_factory.mktemp("export"), orders=500, days=6)


def rows_of(path: Path) -> Iterator[dict[str, str]]:
    raw = path.read_bytes()
    text = gzip.decompress(raw) if path.name.endswith(".gz") else raw
    yield from csv.DictReader(io.StringIO(text.decode("utf-8"), newline=""))


def test_shards_are_named_headed_and_partly_gzipped_as_bq_extract_writes_them(
    export: ExportManifest,
) -> None:
    assert [path.name for path in export.shards] == [
        "orders-000000000000.csv",
        "orders-000000000001.csv.gz",
        "order_items-000000000000.csv",
        "order_items-000000000001.csv.gz",
        "order_items-000000000002.csv",
        "products-000000000000.csv",
    ]
    assert [path.name for path in export.exact_shards] == [path.name for path in export.shards]
    assert all(path.parent.name == EXACT_DIR for path in export.exact_shards)
    for shard in export.shards:
        name = shard.name.split("-")[0] + ".csv"
        with gzip.open(shard, "rt") if shard.name.endswith(".gz") else shard.open() as handle:
            assert tuple(next(csv.reader(handle))) == THELOOK_HEADERS[name]
    assert sum(1 for shard in export.shards for _ in rows_of(shard)) == sum(export.counts.values())


def test_money_is_float_noise_over_the_exact_twin_and_timestamps_are_bigquery_spellings(
    export: ExportManifest,
) -> None:
    broken = {(row.file, row.line, row.column) for row in export.broken_rows}
    noisy = fractions = 0
    for shard, twin in zip(export.shards, export.exact_shards, strict=True):
        for line, (row, exact) in enumerate(
            zip(rows_of(shard), rows_of(twin), strict=True), start=2
        ):
            for column, text in row.items():
                if (shard.name, line, column) in broken or not text:
                    assert text == exact[column]
                elif column in MONEY:
                    cents = Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
                    assert str(cents) == exact[column], (shard.name, line, column, text)
                    noisy += len(text.split(".")[-1]) > 2
                elif column in TIMESTAMPS:
                    assert BQ_TIMESTAMP.fullmatch(text), text
                    assert parse_timestamp(text) == parse_timestamp(exact[column])
                    fractions += "." in text
                else:
                    assert text == exact[column]
    assert noisy > 500
    assert fractions > 500


def test_the_data_is_the_samples_and_the_same_arguments_give_the_same_bytes(
    export: ExportManifest, tmp_path: Path
) -> None:
    again = generate_export(tmp_path / "again", orders=500, days=6)
    for mine, theirs in zip(export.shards, again.shards, strict=True):
        assert mine.read_bytes() == theirs.read_bytes()
    sample = generate_sample(tmp_path / "sample", orders=500, days=6)
    assert export.counts == sample.counts
    # Broken rows alike, at their lines in the shards; the same KPIs from either.
    assert sorted((row.column, row.reason) for row in export.broken_rows) == sorted(
        (row.column, row.reason) for row in sample.broken_rows
    )
    assert reference_kpis(list(export.exact_shards)) == reference_kpis(
        [sample.orders_csv, sample.order_items_csv, sample.products_csv]
    )


def test_the_validator_reads_the_export_as_its_exact_twin(
    export: ExportManifest, tmp_path: Path
) -> None:
    kinds = {
        "orders": FileKind.ORDERS,
        "order_items": FileKind.ORDER_ITEMS,
        "products": FileKind.PRODUCTS,
    }
    for shard, twin in zip(export.shards, export.exact_shards, strict=True):
        kind = kinds[shard.name.split("-")[0]]
        exported = validate_file(
            shard, kind, shard.name, "1", tmp_path / "bq" / shard.name, engine=DuckDbEngine()
        )
        exact = validate_file(
            twin, kind, twin.name, "1", tmp_path / "exact" / shard.name, engine=DuckDbEngine()
        )
        counts = (exported.rows_in, exported.accepted, exported.rejected, exported.duplicates)
        assert counts == (exact.rows_in, exact.accepted, exact.rejected, exact.duplicates)
        assert exported.rejects_by_rule == exact.rejects_by_rule
        extra = {FileKind.ORDERS: ("gender",), FileKind.ORDER_ITEMS: ("inventory_item_id",)}
        assert exported.extra_columns == extra.get(kind, ())
        if kind is FileKind.PRODUCTS:
            # TheLook's cost is a real sub-cent amount: rounded, and reported.
            assert exported.money_rounding.by_column.get("cost", 0) > 100
        else:
            assert exported.money_rounding.rows == 0
