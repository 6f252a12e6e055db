"""Incremental cost: a small new file on top of a large curated history.

The KPI side goes through a ``KpiLayout``: how curated data is laid out and queried.
``domain`` queries the curated Parquet in place (``register_curated`` over every curated
file, ``touched_dates`` of the batch, ``compute_kpis`` of those dates); ``state`` is what the
kpi service runs, ``CuratedState``, which loads each curated file once into a persistent
database. Another layout (say, a maintained table of current rows) plugs in by implementing
the same three methods and registering in ``LAYOUTS``; ``--layout NAME`` then measures it
with the same files and the same checks.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shopflow_bench.child import Spec, TaskResult
from shopflow_bench.kpirows import category_records, day_records


@dataclass
class KpiRun:
    dates: list[str]
    days: list[dict[str, str]]
    categories: list[dict[str, str]]
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls, dates: list[Any], days: list[Any], categories: list[Any], timings: dict[str, float]
    ) -> KpiRun:
        """The run's domain results as the JSON-ready records the checks compare."""
        return cls(
            [d.isoformat() for d in dates],
            day_records(days),
            category_records(categories),
            timings,
        )


class KpiLayout(Protocol):
    name: str

    def prepare(self, history: Any, work_dir: Path) -> dict[str, float]:
        """One-off work on the history before any batch (timed apart); may do nothing."""
        ...

    def recompute_touched(self, everything: Any, batch: Any, scratch: Path) -> KpiRun:
        """KPIs of the dates ``batch`` touches, over ``everything`` (history + batch)."""
        ...

    def recompute_all(self, everything: Any, scratch: Path) -> KpiRun:
        """KPIs of every date, over ``everything``."""
        ...


@dataclass
class DomainLayout:
    """The KPI domain over every curated Parquet file, queried in place, no cache."""

    memory_limit: str = "512MB"
    threads: int = 2
    name: str = "domain"

    def _connect(self, scratch: Path) -> Any:
        from shopflow_kpi.adapters.duckdb_engine import DuckDbEngine

        return DuckDbEngine(memory_limit=self.memory_limit, threads=self.threads).connect(scratch)

    def prepare(self, history: Any, work_dir: Path) -> dict[str, float]:
        return {}

    def recompute_touched(self, everything: Any, batch: Any, scratch: Path) -> KpiRun:
        from shopflow_kpi.domain import compute_kpis, register_curated, touched_dates

        started = time.perf_counter()
        connection = self._connect(scratch)
        register_curated(connection, everything)
        registered = time.perf_counter()
        dates = touched_dates(connection, batch)
        touched = time.perf_counter()
        days, categories = compute_kpis(connection, dates)
        computed = time.perf_counter()
        connection.close()
        return KpiRun.of(
            dates,
            days,
            categories,
            {
                "register_seconds": registered - started,
                "touched_dates_seconds": touched - registered,
                "compute_seconds": computed - touched,
            },
        )

    def recompute_all(self, everything: Any, scratch: Path) -> KpiRun:
        from shopflow_kpi.domain import compute_all_kpis, register_curated

        started = time.perf_counter()
        connection = self._connect(scratch)
        register_curated(connection, everything)
        registered = time.perf_counter()
        dates, days, categories = compute_all_kpis(connection)
        computed = time.perf_counter()
        connection.close()
        return KpiRun.of(
            dates,
            days,
            categories,
            {
                "register_seconds": registered - started,
                "compute_seconds": computed - registered,
            },
        )


@dataclass
class StateLayout:
    """``CuratedState`` (the service's KPI state adapter): curated rows kept in a persistent
    DuckDB database that loads each curated file once; a run loads only the batch's files
    before asking its questions."""

    memory_limit: str = "512MB"
    threads: int = 2
    name: str = "state"
    database: Path | None = None

    def _open(self, scratch: Path) -> Any:
        from shopflow_kpi.adapters.duckdb_engine import DuckDbEngine

        assert self.database is not None, "prepare() first"
        engine = DuckDbEngine(memory_limit=self.memory_limit, threads=self.threads)
        return engine.open_state(self.database, scratch)

    @staticmethod
    def _refs(paths: Any) -> list[Any]:
        """A file's key carries its version, as a curated object key names one batch's
        output: each repeat's freshly validated file is a new file to the state, the
        service's path for a new upload (a rewritten object, reloaded in place, is rare)."""
        from shopflow_kpi.ports import CuratedFileRef

        refs = []
        for kind, kind_paths in paths.files.items():
            for path in kind_paths:
                stat = Path(path).stat()
                version = f"{stat.st_size}-{stat.st_mtime_ns}"
                refs.append(CuratedFileRef(kind.value, f"{path}@{version}", version, str(path)))
        return refs

    def _load_missing(self, state: Any, refs: list[Any]) -> None:
        loaded = state.loaded_versions()
        state.load([ref for ref in refs if loaded.get(ref.key) != ref.version])

    def _hold_exactly(self, state: Any, refs: list[Any]) -> None:
        """The database lives in the work dir between runs, and runs differ in their history
        (a quick run's, a full run's, earlier repeats' new files): it must hold this one's."""
        state.forget(set(state.loaded_versions()) - {ref.key for ref in refs})
        self._load_missing(state, refs)

    def prepare(self, history: Any, work_dir: Path) -> dict[str, float]:
        self.database = work_dir / "kpi-state.duckdb"
        started = time.perf_counter()
        with (
            tempfile.TemporaryDirectory(dir=work_dir) as scratch,
            self._open(Path(scratch)) as state,
        ):
            self._hold_exactly(state, self._refs(history))
        return {"load_history_seconds": time.perf_counter() - started}

    def recompute_touched(self, everything: Any, batch: Any, scratch: Path) -> KpiRun:
        started = time.perf_counter()
        with self._open(scratch) as state:
            batch_refs = self._refs(batch)
            # Earlier repeats' copies of the file stay loaded: the same rows with the same
            # ingest_seq, so they change no KPI, and each repeat loads one new file.
            state.load(batch_refs)
            loaded = time.perf_counter()
            dates = state.touched_dates([ref.key for ref in batch_refs])
            touched = time.perf_counter()
            days, categories = state.compute_kpis(dates)
            computed = time.perf_counter()
        return KpiRun.of(
            dates,
            days,
            categories,
            {
                "load_batch_seconds": loaded - started,
                "touched_dates_seconds": touched - loaded,
                "compute_seconds": computed - touched,
            },
        )

    def recompute_all(self, everything: Any, scratch: Path) -> KpiRun:
        started = time.perf_counter()
        with self._open(scratch) as state:
            self._load_missing(state, self._refs(everything))
            loaded = time.perf_counter()
            dates, days, categories = state.compute_all_kpis()
            computed = time.perf_counter()
        return KpiRun.of(
            dates,
            days,
            categories,
            {
                "load_seconds": loaded - started,
                "compute_seconds": computed - loaded,
            },
        )


LAYOUTS: dict[str, Any] = {"domain": DomainLayout, "state": StateLayout}


def make_layout(name: str, memory_limit: str, threads: int) -> KpiLayout:
    try:
        factory = LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown KPI layout {name!r}; known: {', '.join(LAYOUTS)}") from None
    layout: KpiLayout = factory(memory_limit=memory_limit, threads=threads)
    return layout


def _curated(document: dict[str, list[str]], extra_items: list[str] | None = None) -> Any:
    from shopflow_kpi.domain import CuratedPaths

    return CuratedPaths(
        orders=list(document.get("orders", [])),
        order_items=[*document.get("order_items", []), *(extra_items or [])],
        products=list(document.get("products", [])),
    )


def incremental_task(spec: Spec) -> TaskResult:
    """Validate the new order_items file, then recompute the KPIs of the dates it touches.

    spec: history {kind: [parquet]}, new_file, out_dir, ingest_seq, layout, memory_limit,
    threads, scratch, repeats, kpi_out.
    """
    from shopflow_contracts.rows import FileKind
    from shopflow_validator.adapters.duckdb_engine import DuckDbEngine
    from shopflow_validator.domain import validate_file

    layout = make_layout(spec["layout"], spec["memory_limit"], int(spec["threads"]))
    scratch_root = Path(spec["scratch"])
    scratch_root.mkdir(parents=True, exist_ok=True)
    prepared = layout.prepare(_curated(spec["history"]), Path(spec["layout_dir"]))
    engine = DuckDbEngine(memory_limit=spec["memory_limit"], threads=int(spec["threads"]))
    repeats: list[dict[str, float]] = []
    run: KpiRun | None = None
    rows_in = accepted = 0
    for _ in range(int(spec["repeats"])):
        started = time.perf_counter()
        result = validate_file(
            Path(spec["new_file"]),
            FileKind.ORDER_ITEMS,
            "landing/correction.csv",
            spec["ingest_seq"],
            Path(spec["out_dir"]),
            engine=engine,
        )
        validated = time.perf_counter()
        if result.accepted_path is None:
            raise RuntimeError("the new file had no accepted row")
        rows_in, accepted = result.rows_in, result.accepted
        new = [str(result.accepted_path)]
        with tempfile.TemporaryDirectory(dir=scratch_root) as scratch:
            run = layout.recompute_touched(
                _curated(spec["history"], new), _curated({}, new), Path(scratch)
            )
        finished = time.perf_counter()
        repeats.append(
            {
                "validate_seconds": validated - started,
                "kpi_seconds": finished - validated,
                "seconds": finished - started,
                **run.timings,
            }
        )
    assert run is not None
    Path(spec["kpi_out"]).write_text(
        json.dumps({"dates": run.dates, "days": run.days, "categories": run.categories})
    )
    best = statistics.median(r["seconds"] for r in repeats)
    return {
        "layout": layout.name,
        "prepare": prepared,
        "rows_in": rows_in,
        "accepted": accepted,
        "touched_dates": run.dates,
        "repeats": repeats,
        "seconds": best,
        "validate_seconds": statistics.median(r["validate_seconds"] for r in repeats),
        "kpi_seconds": statistics.median(r["kpi_seconds"] for r in repeats),
    }


def full_task(spec: Spec) -> TaskResult:
    """Every date recomputed over history + the new file. spec: history, new_parquet,
    layout, memory_limit, threads, scratch, kpi_out."""
    layout = make_layout(spec["layout"], spec["memory_limit"], int(spec["threads"]))
    scratch_root = Path(spec["scratch"])
    scratch_root.mkdir(parents=True, exist_ok=True)
    layout.prepare(_curated(spec["history"]), Path(spec["layout_dir"]))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=scratch_root) as scratch:
        run = layout.recompute_all(_curated(spec["history"], [spec["new_parquet"]]), Path(scratch))
    seconds = time.perf_counter() - started
    Path(spec["kpi_out"]).write_text(
        json.dumps({"dates": run.dates, "days": run.days, "categories": run.categories})
    )
    return {"layout": layout.name, "dates": len(run.dates), "seconds": seconds, **run.timings}
