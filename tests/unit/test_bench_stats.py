"""Pure helpers of ``shopflow bench``: percentiles, formatting, comparisons, targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from shopflow_bench import runner, stats
from shopflow_bench.e2e import state_durations, summarise
from shopflow_bench.kpirows import compare_tables


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0], 50, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 95, 4.8),
        ([10.0, 20.0], 0, 10.0),
        ([10.0, 20.0], 100, 20.0),
        (list(map(float, range(1, 21))), 95, 19.05),
    ],
)
def test_percentile_interpolates_linearly_between_closest_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert stats.percentile(values, q) == pytest.approx(expected)


def test_percentile_rejects_no_values_and_out_of_range_q() -> None:
    with pytest.raises(ValueError):
        stats.percentile([], 50)
    with pytest.raises(ValueError):
        stats.percentile([1.0], 101)


def test_median_of_even_count_is_the_mean_of_the_middle_two() -> None:
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5


@pytest.mark.parametrize(
    ("value", "text"),
    [(999, "999"), (20_000, "20k"), (1_234_567, "1.23M"), (20_100_000, "20.1M"), (2.5e9, "2.5G")],
)
def test_human_count(value: float, text: str) -> None:
    assert stats.human_count(value) == text


def test_units() -> None:
    assert stats.seconds(0.25) == "250 ms"
    assert stats.seconds(2.5) == "2.50 s"
    assert stats.mib(1536.4) == "1,536 MiB"
    assert stats.times(3.04) == "3.0x"
    assert stats.human_rate(2_000_000) == "2M/s"
    assert stats.ratio(1.0, 0.0) == float("inf")


def test_table_aligns_first_column_left_and_the_others_right() -> None:
    text = stats.table(("stage", "rate"), [("validator", "1M/s"), ("kpi", "12.5M/s")], title="T")
    assert text.splitlines() == [
        "T",
        "stage         rate",
        "------------------",
        "validator     1M/s",
        "kpi        12.5M/s",
    ]


def test_table_refuses_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError):
        stats.table(("a", "b"), [("only one",)])


def test_compare_tables_is_exact_to_the_cent_and_names_the_differences() -> None:
    left = [{"order_date": "2024-01-01", "total_revenue": "10.00"}]
    same = [{"order_date": "2024-01-01", "total_revenue": "10.00"}]
    off = [{"order_date": "2024-01-01", "total_revenue": "10.01"}]
    assert compare_tables("days", left, same, ("order_date",)).equal
    comparison = compare_tables("days", left, off, ("order_date",))
    assert not comparison.equal
    assert comparison.differing == 1
    assert comparison.examples[0]["key"] == ["2024-01-01"]
    missing = compare_tables("days", left, [], ("order_date",))
    assert not missing.equal and missing.right_rows == 0


def test_state_durations_pair_entered_and_exited_events() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def at(ms: int) -> datetime:
        return start + timedelta(milliseconds=ms)

    events = [
        {"id": 1, "timestamp": at(0), "type": "ExecutionStarted"},
        {"id": 2, "timestamp": at(10), "stateEnteredEventDetails": {"name": "LoadData"}},
        {"id": 3, "timestamp": at(60), "stateExitedEventDetails": {"name": "LoadData"}},
        {"id": 4, "timestamp": at(60), "stateEnteredEventDetails": {"name": "ComputeKpis"}},
        {"id": 5, "timestamp": at(310), "stateExitedEventDetails": {"name": "ComputeKpis"}},
    ]
    assert state_durations(list(reversed(events))) == {
        "LoadData": pytest.approx(0.05),
        "ComputeKpis": pytest.approx(0.25),
    }


def test_summarise_gives_median_and_p95() -> None:
    summary = summarise([float(v) for v in range(1, 21)])
    assert summary["median"] == 10.5
    assert summary["p95"] == pytest.approx(19.05)
    assert (summary["min"], summary["max"]) == (1.0, 20.0)


def test_pandas_peak_is_projected_linearly_from_the_two_largest_sizes() -> None:
    assert runner._project([], 100) is None
    assert runner._project([(10, 100.0)], 30) == 300.0
    assert runner._project([(10, 150.0), (20, 250.0), (40, 450.0)], 80) == pytest.approx(850.0)


def _stage(rate_key: str, rate: float, seconds: float, peak: float) -> dict[str, float]:
    return {rate_key: rate, "seconds": seconds, "peak_rss_mib": peak}


def test_targets_report_met_and_missed_with_their_margin() -> None:
    results = {
        "throughput": {
            "validator": _stage("rows_per_second", 1_000_000, 2.0, 400),
            "kpi": _stage("items_per_second", 5_000_000, 1.0, 300),
            "validator_speedup": 4.0,
            "kpi_speedup": 2.0,
            "kpi_match": {"equal": True},
        },
        "e2e": {"runs": [{"batch_window_seconds": 0.5, "latency": {"median": 0.5, "p95": 5.0}}]},
        "memory": {"error": "boom"},
    }
    rows = {row["target"]: row for row in runner.evaluate_targets(results)}
    assert not rows["validator rows/s"]["met"]
    assert rows["validator rows/s"]["margin"] == "0.5x of goal"
    assert rows["kpi items/s"]["met"]
    assert rows["validator vs pandas"]["met"] and not rows["kpi vs pandas"]["met"]
    assert rows["e2e median (window 0.5s)"]["met"]
    assert not rows["e2e p95 (window 0.5s)"]["met"]
    assert not any(name.startswith("peak RSS") for name in rows)
    assert "validator rows/s" in runner.render_targets(list(rows.values()))


def test_quick_and_full_presets_and_only() -> None:
    config, sections, save = runner.parse_args(["--quick", "--only", "e2e", "--no-save"])
    assert config.mode == "quick" and sections == ["e2e"] and not save
    assert config.e2e_uploads == 3
    config, sections, save = runner.parse_args([])
    assert config.mode == "full" and sections == list(runner.SECTIONS) and save
    assert max(config.memory_items) >= 20_000_000 and len(config.memory_items) >= 3
    assert config.incremental_items >= 10_000_000 and config.e2e_uploads >= 20
    config, _, _ = runner.parse_args(["--memory-items", "1e3,2e3,4e3", "--layout", "domain"])
    assert config.memory_items == (1000, 2000, 4000) and config.layouts == ("domain",)
