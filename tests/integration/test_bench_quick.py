"""``shopflow bench --quick`` runs every section end to end (local stack included) and its
KPI tables equal the pandas baseline's. Never asserts speed: these machines are noisy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shopflow_bench import main

pytestmark = pytest.mark.slow


def test_quick_mode_runs_every_section_and_matches_the_pandas_kpis(tmp_path: Path) -> None:
    status = main(
        ["--quick", "--work-dir", str(tmp_path / "work"), "--results-dir", str(tmp_path / "out")]
    )
    assert status == 0
    (result_file,) = (tmp_path / "out").glob("*-quick.json")
    document = json.loads(result_file.read_text())
    sections = document["sections"]
    assert set(sections) == {"throughput", "memory", "incremental", "e2e"}
    assert not [name for name, section in sections.items() if "error" in section]
    throughput = sections["throughput"]
    assert throughput["kpi_match"]["equal"], throughput["kpi_match"]
    assert all(t["differing"] == 0 for t in throughput["kpi_match"]["tables"])
    assert throughput["kpi"]["detail"]["day_rows"] > 300
    for size in sections["memory"]["sizes"]:
        assert size["kpi_match"]["equal"], size["kpi_match"]
        assert size["validator"]["peak_rss_mib"] > 0
    for layout in sections["incremental"]["layouts"].values():
        assert layout["touched_rows_equal_full"]
        assert len(layout["touched_dates"]) >= 1
    (e2e,) = sections["e2e"]["runs"]
    assert e2e["uploads"] == 3 and all(r["status"] == "SUCCEEDED" for r in e2e["runs"])
    assert "ComputeKpis" in e2e["states"]
    assert {t["target"] for t in document["targets"]} >= {"validator rows/s", "kpi items/s"}
