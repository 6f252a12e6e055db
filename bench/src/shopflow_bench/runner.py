"""``shopflow bench``: orchestrates the four sections, prints tables, writes the JSON result.

Sections (``--only`` picks some; the default runs all four):

- throughput: validator and kpi stages on N generated rows, each in its own child process,
  beside the pandas baseline on the same files; the KPI tables must match to the cent.
- memory: both stages at three sizes under a small DuckDB ``memory_limit`` (spilling to
  disk), pandas beside them (skipped where its projected peak would not fit in memory).
- incremental: a 1,000-row file on a large curated history: validate + touched-date KPIs,
  against recomputing every date.
- e2e: PutObject -> KPIs in DynamoDB through the local stack, per-state time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopflow_bench import stats
from shopflow_bench.child import ChildFailedError, ChildRun, run_child
from shopflow_bench.datagen import Dataset, correction_file, generate_bulk
from shopflow_bench.kpirows import compare_kpis

SECTIONS = ("throughput", "memory", "incremental", "e2e")
# The plain scripts beside pandas in the throughput section (``plain_baselines``).
PLAIN_TOOLS = ("duckdb", "polars")
# The bench runs from a checkout: its work files and results live beside its code.
BENCH_DIR = Path(__file__).resolve().parents[2]
REPO = BENCH_DIR.parent
INGEST_HISTORY = "0001-bench-history"
INGEST_NEW = "0002-bench-correction"
GIB = 1024.0

# Targets from the benchmark issue.
TARGET_VALIDATOR_ROWS_PER_S = 2_000_000
TARGET_KPI_ITEMS_PER_S = 4_000_000
TARGET_SPEEDUP = 3.0
TARGET_VS_POLARS = 1.0
TARGET_PEAK_RSS_MIB = 1024.0
TARGET_INCREMENTAL_S = 3.0
TARGET_INCREMENTAL_SPEEDUP = 20.0
TARGET_E2E_MEDIAN_S = 2.0
TARGET_E2E_P95_S = 4.0


@dataclass(frozen=True)
class Config:
    mode: str
    work_dir: Path
    results_dir: Path
    seed: int
    threads: int
    service_memory_limit: str
    small_memory_limit: str
    throughput_items: int
    memory_items: tuple[int, ...]
    incremental_items: int
    incremental_rows: int
    incremental_repeats: int
    layouts: tuple[str, ...]
    e2e_uploads: int
    e2e_batch_windows: tuple[float, ...]
    pandas_max_mib: float
    days: int = 365


@dataclass(frozen=True)
class Preset:
    throughput_items: int
    memory_items: tuple[int, ...]
    incremental_items: int
    incremental_repeats: int
    e2e_uploads: int
    e2e_batch_windows: tuple[float, ...]


QUICK = Preset(
    throughput_items=33_000,  # about 20k orders
    memory_items=(10_000, 20_000, 40_000),
    incremental_items=40_000,
    incremental_repeats=1,
    e2e_uploads=3,
    e2e_batch_windows=(0.5,),
)
FULL = Preset(
    throughput_items=6_000_000,
    memory_items=(2_000_000, 6_000_000, 20_000_000),
    incremental_items=20_000_000,
    incremental_repeats=3,
    e2e_uploads=20,
    e2e_batch_windows=(0.5, 2.0),
)


@dataclass
class Bench:
    config: Config
    results: dict[str, Any] = field(default_factory=dict)
    out: Callable[[str], None] = print
    failed: list[str] = field(default_factory=list)
    after_section: Callable[[dict[str, Any]], object] | None = None

    # --- helpers -------------------------------------------------------------------------

    def dataset(self, items: int) -> Dataset:
        directory = self.config.work_dir / f"data-{items}-s{self.config.seed}"
        started = time.perf_counter()
        dataset = generate_bulk(
            directory,
            order_items=items,
            days=self.config.days,
            seed=self.config.seed,
            threads=self.config.threads,
        )
        elapsed = time.perf_counter() - started
        if elapsed > 1:
            self.out(
                f"  generated {stats.human_count(dataset.rows)} rows in {directory} "
                f"({elapsed:.1f}s)"
            )
        return dataset

    def curated_dir(self, dataset: Dataset) -> Path:
        return self.config.work_dir / f"curated-{dataset.directory.name}"

    def logs(self) -> Path:
        return self.config.work_dir / "logs"

    def child(self, task: str, spec: dict[str, Any]) -> ChildRun:
        return run_child(task, spec, log_dir=self.logs())

    def validate(self, dataset: Dataset, memory_limit: str) -> ChildRun:
        files = [
            ["orders", str(dataset.orders_csv), "landing/orders.csv"],
            ["order_items", str(dataset.order_items_csv), "landing/order_items.csv"],
            ["products", str(dataset.products_csv), "landing/products.csv"],
        ]
        return self.child(
            "shopflow_validate",
            {
                "files": files,
                "out_dir": str(self.curated_dir(dataset)),
                "ingest_seq": INGEST_HISTORY,
                "memory_limit": memory_limit,
                "threads": self.config.threads,
            },
        )

    def curated(self, dataset: Dataset) -> dict[str, list[str]]:
        directory = self.curated_dir(dataset)
        return {
            kind: [str(directory / f"{kind}.parquet")]
            for kind in ("orders", "order_items", "products")
        }

    def kpi(self, dataset: Dataset, memory_limit: str, kpi_out: Path | None) -> ChildRun:
        return self.child(
            "shopflow_kpi",
            {
                "curated": self.curated(dataset),
                "memory_limit": memory_limit,
                "threads": self.config.threads,
                "scratch": str(self.config.work_dir / "scratch"),
                "kpi_out": None if kpi_out is None else str(kpi_out),
            },
        )

    @staticmethod
    def csvs(dataset: Dataset) -> list[str]:
        return [str(p) for p in (dataset.orders_csv, dataset.order_items_csv, dataset.products_csv)]

    def kpis_match(self, shopflow: Path, pandas: Path) -> dict[str, Any]:
        left = json.loads(shopflow.read_text())
        right = json.loads(pandas.read_text())
        comparisons = compare_kpis(left, right)
        return {
            "equal": all(c.equal for c in comparisons),
            "tables": [
                {
                    "table": c.table,
                    "shopflow_rows": c.left_rows,
                    "pandas_rows": c.right_rows,
                    "differing": c.differing,
                    "examples": c.examples,
                }
                for c in comparisons
            ],
        }

    def plain(self, tool: str, dataset: Dataset, run_dir: Path) -> tuple[ChildRun, ChildRun]:
        """A plain ``tool`` script (``plain_baselines``): validation, then KPIs from its Parquet."""
        manifest = run_dir / f"{tool}-files.json"
        validated = self.child(
            "plain_validate",
            {
                "tool": tool,
                "files": self.csvs(dataset),
                "out_dir": str(run_dir / f"{tool}-curated"),
                "threads": self.config.threads,
                "manifest_out": str(manifest),
            },
        )
        computed = self.child(
            "plain_kpi",
            {
                "tool": tool,
                "manifest_in": str(manifest),
                "threads": self.config.threads,
                "kpi_out": str(run_dir / f"{tool}-kpis.json"),
            },
        )
        return validated, computed

    # --- sections ------------------------------------------------------------------------

    def throughput(self) -> dict[str, Any]:
        config = self.config
        dataset = self.dataset(config.throughput_items)
        run_dir = config.work_dir / "throughput"
        run_dir.mkdir(parents=True, exist_ok=True)
        validator = self.validate(dataset, config.service_memory_limit)
        kpi = self.kpi(dataset, config.service_memory_limit, run_dir / "shopflow-kpis.json")
        pandas_validate = self.child(
            "pandas_validate",
            {"files": self.csvs(dataset), "tables_out": str(run_dir / "pandas-tables.pickle")},
        )
        pandas_kpi = self.child(
            "pandas_kpi",
            {
                "tables_in": str(run_dir / "pandas-tables.pickle"),
                "kpi_out": str(run_dir / "pandas-kpis.json"),
            },
        )
        (run_dir / "pandas-tables.pickle").unlink(missing_ok=True)
        plain = {tool: self.plain(tool, dataset, run_dir) for tool in PLAIN_TOOLS}
        match = self.kpis_match(run_dir / "shopflow-kpis.json", run_dir / "pandas-kpis.json")
        rows_in = int(validator.result["rows_in"])
        items = int(kpi.result["items"])
        section: dict[str, Any] = {
            "dataset": _dataset_doc(dataset),
            "memory_limit": config.service_memory_limit,
            "threads": config.threads,
            "validator": _stage_doc(validator, rows_in, "rows"),
            "kpi": _stage_doc(kpi, items, "items"),
            "pandas_validator": _stage_doc(
                pandas_validate, int(pandas_validate.result["rows_in"]), "rows"
            ),
            "pandas_kpi": _stage_doc(pandas_kpi, items, "items"),
            "kpi_match": match,
        }
        for tool, (validated, computed) in plain.items():
            section[f"{tool}_validator"] = _stage_doc(
                validated, int(validated.result["rows_in"]), "rows"
            )
            section[f"{tool}_kpi"] = _stage_doc(computed, int(computed.result["items"]), "items")
            # The plain scripts do less (no line numbers, raw rejects, repeats, report): how
            # far their KPI tables are from pandas' (which mirrors every rule) is a finding.
            section[f"{tool}_kpi_match"] = self.kpis_match(
                run_dir / f"{tool}-kpis.json", run_dir / "pandas-kpis.json"
            )
        for stage in ("validator", "kpi"):
            mine, theirs = section[stage], section[f"pandas_{stage}"]
            section[f"{stage}_speedup"] = stats.ratio(theirs["seconds"], mine["seconds"])
            section[f"{stage}_memory_ratio"] = stats.ratio(
                theirs["peak_rss_mib"], mine["peak_rss_mib"]
            )
            for tool in plain:
                section[f"{stage}_vs_{tool}"] = stats.ratio(
                    section[f"{tool}_{stage}"]["seconds"], mine["seconds"]
                )
        self.out(render_throughput(section))
        if not match["equal"]:
            raise KpiMismatchError(f"throughput: KPI tables differ: {match['tables']}")
        return section

    def memory(self) -> dict[str, Any]:
        config = self.config
        limit = config.small_memory_limit
        rows: list[dict[str, Any]] = []
        pandas_points: list[tuple[int, float]] = []
        for items in config.memory_items:
            dataset = self.dataset(items)
            run_dir = config.work_dir / "memory" / str(items)
            run_dir.mkdir(parents=True, exist_ok=True)
            validator = self.validate(dataset, limit)
            row: dict[str, Any] = {
                "dataset": _dataset_doc(dataset),
                "validator": _stage_doc(validator, int(validator.result["rows_in"]), "rows"),
            }
            try:
                kpi = self.kpi(dataset, limit, run_dir / "shopflow-kpis.json")
                row["kpi"] = _stage_doc(kpi, int(kpi.result["items"]), "items")
            except ChildFailedError as failed:
                # Under a small limit the KPI stage may fail (out of memory): a finding.
                row["kpi"] = {"error": str(failed)[-1500:]}
                (run_dir / "shopflow-kpis.json").unlink(missing_ok=True)
            projected = _project(pandas_points, dataset.rows)
            ceiling = min(config.pandas_max_mib, 0.8 * available_mib())
            if projected is not None and projected > ceiling:
                row["pandas"] = {
                    "skipped": (
                        f"projected peak {projected / GIB:.1f} GiB (linear in rows from the "
                        f"smaller sizes) exceeds {ceiling / GIB:.1f} GiB (80% of available "
                        f"memory or --pandas-max-gib)"
                    ),
                    "projected_peak_rss_mib": projected,
                }
            else:
                pandas = self.child(
                    "pandas_pipeline",
                    {"files": self.csvs(dataset), "kpi_out": str(run_dir / "pandas-kpis.json")},
                )
                row["pandas"] = _stage_doc(pandas, int(pandas.result["rows_in"]), "rows")
                row["pandas"]["validate_seconds"] = pandas.result["validate_seconds"]
                row["pandas"]["kpi_seconds"] = pandas.result["kpi_seconds"]
                if (run_dir / "shopflow-kpis.json").exists():
                    row["kpi_match"] = self.kpis_match(
                        run_dir / "shopflow-kpis.json", run_dir / "pandas-kpis.json"
                    )
                pandas_points.append((dataset.rows, pandas.peak_rss_mib))
            rows.append(row)
            self.out(f"  memory: {stats.human_count(items)} items done")
        validator_peaks = [r["validator"]["peak_rss_mib"] for r in rows]
        kpi_peaks = [r["kpi"]["peak_rss_mib"] for r in rows if "error" not in r["kpi"]] or [0.0]
        section = {
            "memory_limit": limit,
            "threads": config.threads,
            "sizes": rows,
            "validator_peak_growth": stats.ratio(validator_peaks[-1], validator_peaks[0]),
            "kpi_peak_growth": stats.ratio(kpi_peaks[-1], kpi_peaks[0]),
        }
        self.out(render_memory(section))
        mismatched = [r for r in rows if "kpi_match" in r and not r["kpi_match"]["equal"]]
        if mismatched:
            raise KpiMismatchError(f"memory: KPI tables differ: {mismatched[0]['kpi_match']}")
        return section

    def incremental(self) -> dict[str, Any]:
        config = self.config
        dataset = self.dataset(config.incremental_items)
        history = self.curated(dataset)
        prepared: dict[str, Any] = {}
        if not all(Path(p).exists() for paths in history.values() for p in paths):
            self.out("  incremental: validating the history first (not timed)")
            run = self.validate(dataset, config.service_memory_limit)
            prepared["history_validation_seconds"] = run.result["seconds"]
        run_dir = config.work_dir / "incremental"
        run_dir.mkdir(parents=True, exist_ok=True)
        new_file, first_id = correction_file(
            dataset, run_dir / "correction.csv", rows=config.incremental_rows
        )
        layouts: dict[str, Any] = {}
        for layout in config.layouts:
            layouts[layout] = self._incremental_layout(layout, history, new_file, run_dir)
        first = next(iter(layouts.values()))
        section = {
            "dataset": _dataset_doc(dataset),
            "memory_limit": config.service_memory_limit,
            "history_order_items": dataset.order_items,
            "new_file_rows": first["incremental"]["rows_in"],
            "new_file_first_item_id": first_id,
            "touched_dates": first["touched_dates"],
            "layouts": layouts,
            **prepared,
        }
        self.out(render_incremental(section))
        inconsistent = [n for n, r in layouts.items() if not r["touched_rows_equal_full"]]
        if inconsistent:
            raise KpiMismatchError(
                f"incremental: touched-date KPIs differ from the full run ({inconsistent})"
            )
        return section

    def _incremental_layout(
        self, layout: str, history: dict[str, list[str]], new_file: Path, run_dir: Path
    ) -> dict[str, Any]:
        config = self.config
        out = run_dir / layout
        out.mkdir(parents=True, exist_ok=True)
        common = {
            "history": history,
            "layout": layout,
            "layout_dir": str(out),
            "memory_limit": config.service_memory_limit,
            "threads": config.threads,
            "scratch": str(config.work_dir / "scratch"),
        }
        incremental = self.child(
            "incremental",
            {
                **common,
                "new_file": str(new_file),
                "out_dir": str(out / "curated"),
                "ingest_seq": INGEST_NEW,
                "repeats": config.incremental_repeats,
                "kpi_out": str(out / "incremental-kpis.json"),
            },
        )
        full = self.child(
            "full_recompute",
            {
                **common,
                "new_parquet": str(out / "curated" / "correction.parquet"),
                "kpi_out": str(out / "full-kpis.json"),
            },
        )
        return {
            "touched_dates": incremental.result["touched_dates"],
            "incremental": {
                **{k: v for k, v in incremental.result.items() if k != "touched_dates"},
                "peak_rss_mib": incremental.peak_rss_mib,
            },
            "full": {**full.result, "peak_rss_mib": full.peak_rss_mib},
            "speedup": stats.ratio(full.result["seconds"], incremental.result["kpi_seconds"]),
            "speedup_with_validation": stats.ratio(
                full.result["seconds"], incremental.result["seconds"]
            ),
            "touched_rows_equal_full": _incremental_consistent(
                out / "incremental-kpis.json", out / "full-kpis.json"
            ),
        }

    def e2e(self) -> dict[str, Any]:
        from shopflow_bench.e2e import run_e2e

        runs = []
        for window in self.config.e2e_batch_windows:
            result = run_e2e(
                self.config.work_dir, uploads=self.config.e2e_uploads, batch_window=window
            )
            runs.append(result)
            self.out(render_e2e(result))
        return {"runs": runs}

    # --- driver ---------------------------------------------------------------------------

    def run(self, sections: Sequence[str]) -> dict[str, Any]:
        handlers: dict[str, Callable[[], dict[str, Any]]] = {
            "throughput": self.throughput,
            "memory": self.memory,
            "incremental": self.incremental,
            "e2e": self.e2e,
        }
        for name in sections:
            self.out(f"\n== {name} ==")
            started = time.perf_counter()
            try:
                self.results[name] = handlers[name]()
            except Exception as failed:  # one section failing must not lose the others
                self.out(f"  {name} FAILED: {type(failed).__name__}: {failed}")
                self.results[name] = {"error": f"{type(failed).__name__}: {failed}"[-3000:]}
                self.failed.append(name)
            self.results[name]["section_seconds"] = time.perf_counter() - started
            if self.after_section is not None:
                self.after_section(self.results)
        return self.results


class KpiMismatchError(RuntimeError):
    pass


def _dataset_doc(dataset: Dataset) -> dict[str, Any]:
    return {
        "orders": dataset.orders,
        "order_items": dataset.order_items,
        "products": dataset.products,
        "days": dataset.days,
        "seed": dataset.seed,
        "orders_csv_mib": dataset.orders_csv.stat().st_size / 2**20,
        "order_items_csv_mib": dataset.order_items_csv.stat().st_size / 2**20,
    }


def _stage_doc(run: ChildRun, rows: int, unit: str) -> dict[str, Any]:
    seconds = float(run.result["seconds"])
    return {
        unit: rows,
        "seconds": seconds,
        f"{unit}_per_second": stats.rate(rows, seconds),
        "peak_rss_mib": run.peak_rss_mib,
        "ru_maxrss_mib": run.ru_maxrss_mib,
        "child_wall_seconds": run.wall_seconds,
        "detail": run.result,
    }


def _project(points: list[tuple[int, float]], rows: int) -> float | None:
    """Peak RSS at ``rows``, extrapolated linearly from the two largest measured sizes."""
    if not points:
        return None
    if len(points) == 1:
        size, peak = points[0]
        return peak * rows / size
    (small, low), (big, high) = sorted(points)[-2:]
    slope = (high - low) / (big - small) if big != small else high / big
    return high + slope * (rows - big)


def available_mib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) / 2**20


def _incremental_consistent(incremental: Path, full: Path) -> bool:
    mine = json.loads(incremental.read_text())
    everything = json.loads(full.read_text())
    dates = set(mine["dates"])
    days = [r for r in everything["days"] if r["order_date"] in dates]
    categories = [r for r in everything["categories"] if r["order_date"] in dates]
    return bool(mine["days"] == days and mine["categories"] == categories)


# --- targets and rendering ----------------------------------------------------------------


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target of the issue that this run measured: goal, actual, met, margin."""
    rows: list[dict[str, Any]] = []
    results = {name: section for name, section in results.items() if "error" not in section}

    def add(name: str, goal: str, actual: float, met: bool, margin: str, shown: str) -> None:
        rows.append(
            {
                "target": name,
                "goal": goal,
                "actual": actual,
                "shown": shown,
                "met": met,
                "margin": margin,
            }
        )

    def at_least(name: str, goal: float, actual: float, fmt: Callable[[float], str]) -> None:
        add(
            name,
            f">= {fmt(goal)}",
            actual,
            actual >= goal,
            stats.times(actual / goal) + " of goal",
            fmt(actual),
        )

    def at_most(name: str, goal: float, actual: float, fmt: Callable[[float], str]) -> None:
        add(
            name,
            f"<= {fmt(goal)}",
            actual,
            actual <= goal,
            stats.times(actual / goal) + " of limit",
            fmt(actual),
        )

    throughput = results.get("throughput")
    if throughput:
        at_least(
            "validator rows/s",
            TARGET_VALIDATOR_ROWS_PER_S,
            throughput["validator"]["rows_per_second"],
            stats.human_rate,
        )
        at_least(
            "kpi items/s",
            TARGET_KPI_ITEMS_PER_S,
            throughput["kpi"]["items_per_second"],
            stats.human_rate,
        )
        at_least(
            "validator vs pandas", TARGET_SPEEDUP, throughput["validator_speedup"], stats.times
        )
        at_least("kpi vs pandas", TARGET_SPEEDUP, throughput["kpi_speedup"], stats.times)
        if "validator_vs_polars" in throughput:
            # Issue 15: at least the rate of the plain Polars script in the same run.
            at_least(
                "validator vs plain Polars",
                TARGET_VS_POLARS,
                throughput["validator_vs_polars"],
                stats.times,
            )
        add(
            "KPI tables == pandas",
            "equal",
            float(throughput["kpi_match"]["equal"]),
            bool(throughput["kpi_match"]["equal"]),
            "",
            "equal" if throughput["kpi_match"]["equal"] else "DIFFERENT",
        )
    memory = results.get("memory")
    if memory:
        peak = max(
            max(r["validator"]["peak_rss_mib"], r["kpi"].get("peak_rss_mib", 0.0))
            for r in memory["sizes"]
        )
        at_most(f"peak RSS (limit {memory['memory_limit']})", TARGET_PEAK_RSS_MIB, peak, stats.mib)
    incremental = results.get("incremental")
    if incremental:
        for name, layout in incremental["layouts"].items():
            at_most(
                f"incremental validate+KPIs ({name})",
                TARGET_INCREMENTAL_S,
                layout["incremental"]["seconds"],
                stats.seconds,
            )
            at_least(
                f"incremental vs full ({name})",
                TARGET_INCREMENTAL_SPEEDUP,
                layout["speedup_with_validation"],
                stats.times,
            )
    e2e = results.get("e2e")
    if e2e:
        for run in e2e["runs"]:
            window = f"window {run['batch_window_seconds']:g}s"
            at_most(
                f"e2e median ({window})",
                TARGET_E2E_MEDIAN_S,
                run["latency"]["median"],
                stats.seconds,
            )
            at_most(f"e2e p95 ({window})", TARGET_E2E_P95_S, run["latency"]["p95"], stats.seconds)
    return rows


def render_targets(rows: list[dict[str, Any]]) -> str:
    return stats.table(
        ("target", "goal", "actual", "met", "actual/goal"),
        [
            (r["target"], r["goal"], r["shown"], "yes" if r["met"] else "NO", r["margin"])
            for r in rows
        ],
        title="Targets",
    )


def _stage_row(name: str, stage: dict[str, Any], unit: str) -> list[str]:
    return [
        name,
        stats.human_count(stage[unit]),
        stats.seconds(stage["seconds"]),
        stats.human_rate(stage[f"{unit}_per_second"]),
        stats.mib(stage["peak_rss_mib"]),
    ]


def render_throughput(section: dict[str, Any]) -> str:
    plain = [tool for tool in PLAIN_TOOLS if f"{tool}_validator" in section]
    rows = [
        _stage_row("shopflow validator", section["validator"], "rows"),
        _stage_row("pandas validation", section["pandas_validator"], "rows"),
        *(_stage_row(f"plain {t} validation", section[f"{t}_validator"], "rows") for t in plain),
        _stage_row("shopflow kpi", section["kpi"], "items"),
        _stage_row("pandas kpi", section["pandas_kpi"], "items"),
        *(_stage_row(f"plain {t} kpi", section[f"{t}_kpi"], "items") for t in plain),
    ]
    body = stats.table(
        ("stage", "input", "time", "rate", "peak RSS"),
        rows,
        title=(
            f"Throughput: {stats.human_count(section['dataset']['order_items'])} order_items, "
            f"{stats.human_count(section['dataset']['orders'])} orders; DuckDB "
            f"memory_limit {section['memory_limit']}, {section['threads']} threads"
        ),
    )
    match = "equal to the cent" if section["kpi_match"]["equal"] else "DIFFERENT"
    versus = "".join(
        f"\nspeed-up vs plain {tool}: validator {stats.times(section[f'validator_vs_{tool}'])}, "
        f"kpi {stats.times(section[f'kpi_vs_{tool}'])}; its KPI tables vs pandas: "
        + ("equal" if section[f"{tool}_kpi_match"]["equal"] else _differing(section, tool))
        for tool in plain
    )
    return (
        f"{body}\nspeed-up vs pandas: validator {stats.times(section['validator_speedup'])}, "
        f"kpi {stats.times(section['kpi_speedup'])}; pandas peak RSS / shopflow: validator "
        f"{stats.times(section['validator_memory_ratio'])}, kpi "
        f"{stats.times(section['kpi_memory_ratio'])}; KPI tables vs pandas: {match}{versus}"
    )


def _differing(section: dict[str, Any], tool: str) -> str:
    tables = section[f"{tool}_kpi_match"]["tables"]
    return "differ in " + ", ".join(f"{t['differing']} {t['table']} rows" for t in tables)


def render_memory(section: dict[str, Any]) -> str:
    rows = []
    for row in section["sizes"]:
        pandas = row["pandas"]
        if "skipped" in pandas:
            pandas_cells = [f"skipped (~{pandas['projected_peak_rss_mib'] / GIB:.0f} GiB)", "-"]
        else:
            pandas_cells = [stats.mib(pandas["peak_rss_mib"]), stats.seconds(pandas["seconds"])]
        rows.append(
            [
                stats.human_count(row["dataset"]["order_items"]),
                stats.mib(row["validator"]["peak_rss_mib"]),
                stats.human_rate(row["validator"]["rows_per_second"]),
                *(
                    ["FAILED", "-"]
                    if "error" in row["kpi"]
                    else [
                        stats.mib(row["kpi"]["peak_rss_mib"]),
                        stats.human_rate(row["kpi"]["items_per_second"]),
                    ]
                ),
                *pandas_cells,
                "-"
                if "kpi_match" not in row
                else ("equal" if row["kpi_match"]["equal"] else "DIFF"),
            ]
        )
    return stats.table(
        (
            "order_items",
            "validator peak",
            "validator rate",
            "kpi peak",
            "kpi rate",
            "pandas peak",
            "pandas time",
            "KPIs vs pandas",
        ),
        rows,
        title=(
            f"Memory ceiling: DuckDB memory_limit {section['memory_limit']}, spilling to disk; "
            f"peak growth smallest->largest: validator "
            f"{stats.times(section['validator_peak_growth'])}, kpi "
            f"{stats.times(section['kpi_peak_growth'])}"
        ),
    )


def render_incremental(section: dict[str, Any]) -> str:
    rows = []
    for name, layout in section["layouts"].items():
        incremental, full = layout["incremental"], layout["full"]
        prepare = incremental.get("prepare") or {}
        rows.append(
            [
                name,
                stats.seconds(incremental["validate_seconds"]),
                stats.seconds(incremental["kpi_seconds"]),
                stats.seconds(incremental["seconds"]),
                stats.mib(incremental["peak_rss_mib"]),
                stats.seconds(full["seconds"]),
                stats.mib(full["peak_rss_mib"]),
                stats.times(layout["speedup_with_validation"]),
                "yes" if layout["touched_rows_equal_full"] else "NO",
                ", ".join(f"{k} {stats.seconds(v)}" for k, v in prepare.items()) or "-",
            ]
        )
    body = stats.table(
        (
            "layout",
            "validate",
            "touched KPIs",
            "incremental",
            "peak",
            "full recompute",
            "full peak",
            "full/incr",
            "= full rows",
            "one-off prepare",
        ),
        rows,
        title=(
            f"Incremental: {section['new_file_rows']}-row order_items file on "
            f"{stats.human_count(section['history_order_items'])} items of history over "
            f"{section['dataset']['days']} days (memory_limit {section['memory_limit']}; "
            f"median of repeats)"
        ),
    )
    return f"{body}\ntouched dates: {', '.join(section['touched_dates'])}"


def render_e2e(result: dict[str, Any]) -> str:
    rows = [
        [
            "PutObject -> KPI visible",
            stats.seconds(result["latency"]["median"]),
            stats.seconds(result["latency"]["p95"]),
            stats.seconds(result["latency"]["max"]),
        ]
    ]
    for name, summary in result["phases"].items():
        rows.append(
            [
                "  " + name.replace("_", " "),
                stats.seconds(summary["median"]),
                stats.seconds(summary["p95"]),
                stats.seconds(summary["max"]),
            ]
        )
    for name, summary in result["states"].items():
        rows.append(
            [
                "  state " + name,
                stats.seconds(summary["median"]),
                stats.seconds(summary["p95"]),
                stats.seconds(summary["max"]),
            ]
        )
    return stats.table(
        ("", "median", "p95", "max"),
        rows,
        title=(
            f"End to end: {result['uploads']} uploads of {result['rows_per_upload']} rows, "
            f"loader batch window {result['batch_window_seconds']:g}s, state waits 0"
        ),
    )


# --- entry point --------------------------------------------------------------------------


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(float(part)) for part in text.split(",") if part)


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part)


def parse_args(argv: Sequence[str] | None) -> tuple[Config, list[str], bool]:
    parser = argparse.ArgumentParser(
        prog="shopflow bench",
        description=(
            "Benchmark the validator and kpi stages (throughput, memory ceiling, incremental "
            "cost) against a pandas baseline, and end-to-end latency through the local stack."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="small sizes; under a minute")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); default: all",
    )
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / "work")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--no-save", action="store_true", help="do not write the JSON result")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads per stage")
    parser.add_argument(
        "--service-memory-limit", default="512MB", help="DuckDB limit for throughput/incremental"
    )
    parser.add_argument("--memory-limit", default="256MB", help="DuckDB limit, memory section")
    parser.add_argument("--throughput-items", type=_sizes, help="order_items rows (one size)")
    parser.add_argument("--memory-items", type=_sizes, help="order_items rows, comma-separated")
    parser.add_argument("--incremental-items", type=_sizes, help="order_items rows of history")
    parser.add_argument("--incremental-rows", type=int, default=1000)
    parser.add_argument(
        "--layout",
        type=_names,
        default=("domain", "state"),
        help="KPI layouts for the incremental run, comma-separated (domain, state)",
    )
    parser.add_argument("--e2e-uploads", type=int)
    parser.add_argument("--e2e-batch-window", type=_floats, help="seconds, comma-separated")
    parser.add_argument(
        "--pandas-max-gib", type=float, default=18.0, help="skip pandas above this projection"
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    config = Config(
        mode="quick" if args.quick else "full",
        work_dir=args.work_dir.resolve(),
        results_dir=args.results_dir,
        seed=args.seed,
        threads=args.threads,
        service_memory_limit=args.service_memory_limit,
        small_memory_limit=args.memory_limit,
        throughput_items=(args.throughput_items or (preset.throughput_items,))[0],
        memory_items=args.memory_items or preset.memory_items,
        incremental_items=(args.incremental_items or (preset.incremental_items,))[0],
        incremental_rows=args.incremental_rows,
        incremental_repeats=preset.incremental_repeats,
        layouts=args.layout,
        e2e_uploads=args.e2e_uploads or preset.e2e_uploads,
        e2e_batch_windows=args.e2e_batch_window or preset.e2e_batch_windows,
        pandas_max_mib=args.pandas_max_gib * GIB,
    )
    sections = [s for s in SECTIONS if s in (args.only or SECTIONS)]
    return config, sections, not args.no_save


def machine() -> dict[str, Any]:
    import duckdb
    import pandas

    total = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) / 2**30
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(total, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        "polars": _version("polars"),
    }


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def git_revision() -> str | None:
    """HEAD of the measured tree, with ``+dirty`` when it has uncommitted changes."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def result_path(config: Config, today: str) -> Path:
    suffix = "" if config.mode == "full" else f"-{config.mode}"
    return config.results_dir / f"{today}{suffix}.json"


def save(config: Config, results: dict[str, Any], arguments: Sequence[str] = ()) -> Path:
    """Write (or update, section by section) today's result file.

    ``arguments``: the bench's own command-line arguments, recorded as the command.
    """
    today = datetime.now(UTC).date().isoformat()
    path = result_path(config, today)
    document: dict[str, Any] = {}
    if path.exists():
        try:
            document = json.loads(path.read_text())
        except ValueError:
            document = {}
    sections = {**document.get("sections", {}), **results}
    document = {
        "date": today,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": config.mode,
        "command": " ".join(["shopflow bench", *arguments]),
        "machine": machine(),
        "git": git_revision(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in config.__dict__.items()},
        "sections": sections,
        "targets": evaluate_targets(sections),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--soak"]:
        from shopflow_bench.reliability import soak

        return soak.main(arguments[1:])
    config, sections, keep = parse_args(arguments)
    config.work_dir.mkdir(parents=True, exist_ok=True)
    bench = Bench(
        config,
        out=lambda text: print(text, flush=True),
        # Saved after every section, so a later failure or Ctrl-C keeps what was measured.
        after_section=(lambda results: save(config, results, arguments)) if keep else None,
    )
    print(
        f"shopflow bench ({config.mode}): {', '.join(sections)}; work dir {config.work_dir}",
        flush=True,
    )
    started = time.perf_counter()
    bench.run(sections)
    status = 1 if bench.failed else 0
    if bench.failed:
        print(f"\nFAILED sections: {', '.join(bench.failed)}", file=sys.stderr)
    targets = evaluate_targets(bench.results)
    if targets:
        print("\n" + render_targets(targets))
    print(f"\ntotal {time.perf_counter() - started:.1f}s")
    if keep and bench.results:
        path = save(config, bench.results, arguments)
        print(f"results written to {path}")
    return status
