"""Whatever order, split and duplication the files come in, the settled KPIs are the same.

The bundled sample is cut into overlapping pieces with meaningless names (one gzipped, one
uploaded twice under two names), shuffled, and uploaded in separate waves so that items
arrive before their orders and products last in some runs. The exported tables must equal
an independent computation over the original files, which is also what the same sample
uploaded once, in order, gives (test_pipeline_e2e).
"""

from __future__ import annotations

import gzip
import random
import time
from pathlib import Path

import pytest
from e2e_stack import BATCH_WINDOW, SAMPLE, Pipeline, as_csv
from reference_kpis import reference_kpis
from shopflow_cli import operations
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS

pytestmark = pytest.mark.e2e


def split_with_overlap(source: Path, pieces: int, overlap: int, rng: random.Random) -> list[bytes]:
    header, *rows = source.read_bytes().splitlines(keepends=True)
    cuts = sorted(rng.sample(range(1, len(rows)), pieces - 1))
    bounds = list(zip([0, *cuts], [*cuts, len(rows)], strict=True))
    # Each piece also repeats the first rows of the next one: the same rows in two files.
    return [header + b"".join(rows[start : end + overlap]) for start, end in bounds]


def scrambled_upload_set(directory: Path, seed: int) -> list[Path]:
    rng = random.Random(seed)
    contents: list[bytes] = []
    for name, pieces in (("orders.csv", 4), ("order_items.csv", 5), ("products.csv", 2)):
        contents += split_with_overlap(SAMPLE / name, pieces, overlap=7, rng=rng)
    contents.append(rng.choice(contents))  # an identical file uploaded a second time
    rng.shuffle(contents)
    paths = []
    for index, content in enumerate(contents):
        if index == 0:
            path = directory / f"{rng.getrandbits(48):012x}.csv.gz"
            path.write_bytes(gzip.compress(content))
        else:
            path = directory / f"{rng.getrandbits(48):012x}.csv"
            path.write_bytes(content)
        paths.append(path)
    return paths


def test_shuffled_split_duplicated_uploads_settle_to_the_single_computation(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # Given the sample as 12 scrambled files in 4 waves, each wave its own batch
    upload_dir = tmp_path / "uploads"
    upload_dir.mkdir()
    files = scrambled_upload_set(upload_dir, seed=20251130)
    waves = [files[0:3], files[3:6], files[6:9], files[9:]]
    for wave in waves:
        pipeline.upload(*wave)
        time.sleep(BATCH_WINDOW + 1.5)
    # When the pipeline settles
    executions = pipeline.settle(expected_at_least=len(waves))
    # Then every run succeeded
    assert [e.status for e in executions] == ["SUCCEEDED"] * len(executions)
    assert len(executions) >= len(waves)
    # And the KPI tables equal the single computation over the original files, to the cent
    categories, days = pipeline.exported(tmp_path / "export")
    originals = operations.csv_files_under(SAMPLE)
    expected_categories, expected_days = reference_kpis(originals)
    assert days == as_csv(expected_days, DAY_KPI_COLUMNS)
    assert categories == as_csv(expected_categories, CATEGORY_KPI_COLUMNS)
