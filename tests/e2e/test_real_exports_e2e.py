"""A TheLook export written the way ``bq extract`` writes it goes through to exact KPIs.

The export (``shopflow_cli.sampledata.generate_export``) has float-noise money
(``59.990001678466797``), microsecond timestamps with `` UTC`` or ``+00:00``, TheLook's extra
columns (``gender``, ``inventory_item_id``), a real sub-cent ``cost``, sharded names and
gzipped shards. Uploaded in two waves (items and products first, then orders, with one item
shard sent again under another name), the settled KPIs must equal the plain-Python reference
over the same data written with exact cents.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_stack import BATCH_WINDOW, Pipeline, as_csv
from reference_kpis import reference_kpis
from shopflow_cli.sampledata import generate_export
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS
from shopflow_contracts.report import ValidationReport

pytestmark = pytest.mark.e2e


def test_a_bq_extract_export_settles_to_the_kpis_of_its_exact_twin(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given a TheLook-shaped export of 800 orders over 10 days, with its broken rows
    export = generate_export(tmp_path / "export", orders=800, days=10, broken_rows=8)
    orders = [shard for shard in export.shards if shard.name.startswith("orders-")]
    others = [shard for shard in export.shards if shard not in orders]
    resent = next(shard for shard in others if shard.name.endswith(".csv.gz"))
    # When its shards are uploaded in two waves, one item shard twice
    pipeline.upload(*others)
    time.sleep(BATCH_WINDOW + 1.5)
    pipeline.upload(*orders, resent, names=[*(s.name for s in orders), f"again/{resent.name}"])
    executions = pipeline.settle(expected_at_least=2)
    # Then every run succeeded and the KPIs equal the exact twin's, to the cent
    assert [e.status for e in executions] == ["SUCCEEDED"] * len(executions)
    categories, days = pipeline.exported(tmp_path / "kpis")
    expected_categories, expected_days = reference_kpis(list(export.exact_shards))
    assert days == as_csv(expected_days, DAY_KPI_COLUMNS)
    assert categories == as_csv(expected_categories, CATEGORY_KPI_COLUMNS)
    assert len(expected_days) == 10
    # And every shard was accepted; the sub-cent costs were rounded and said so
    bucket = pipeline.outputs.data_bucket
    listed = pipeline.s3.list_objects_v2(Bucket=bucket, Prefix="reports/batch=")["Contents"]
    reports = [
        ValidationReport.model_validate_json(
            pipeline.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        )
        for item in listed
        if item["Key"].endswith(".report.json")
    ]
    by_source = {report.source_key.removeprefix("landing/"): report for report in reports}
    assert set(by_source) == {shard.name for shard in export.shards}
    assert {report.status for report in reports} == {"accepted"}
    assert by_source["products-000000000000.csv"].money_rounding.by_column["cost"] > 100
    assert by_source["order_items-000000000000.csv"].extra_columns_ignored == ["inventory_item_id"]
    assert by_source["orders-000000000000.csv"].extra_columns_ignored == ["gender"]
