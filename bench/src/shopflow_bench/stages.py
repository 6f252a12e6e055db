"""The measured stages, as child-process tasks (see ``child``): shopflow's own domain code
(``validate_file``; ``register_curated`` + ``compute_all_kpis``) and the
pandas baseline on the same files. Each returns its timings as plain JSON values."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shopflow_bench.child import Spec, TaskResult
from shopflow_bench.kpirows import category_records, day_records


def shopflow_validate(spec: Spec) -> TaskResult:
    """spec: files [[kind, path, source_key]], out_dir, ingest_seq, memory_limit, threads."""
    from shopflow_contracts.rows import FileKind
    from shopflow_validator.adapters.duckdb_engine import DuckDbEngine
    from shopflow_validator.domain import validate_file

    engine = DuckDbEngine(memory_limit=spec["memory_limit"], threads=int(spec["threads"]))
    out_dir = Path(spec["out_dir"])
    files = []
    total = 0.0
    for kind, path, source_key in spec["files"]:
        started = time.perf_counter()
        result = validate_file(
            Path(path), FileKind(kind), source_key, spec["ingest_seq"], out_dir, engine=engine
        )
        seconds = time.perf_counter() - started
        total += seconds
        files.append(
            {
                "kind": kind,
                "rows_in": result.rows_in,
                "accepted": result.accepted,
                "rejected": result.rejected,
                "seconds": seconds,
                "accepted_path": None
                if result.accepted_path is None
                else str(result.accepted_path),
            }
        )
    return {"files": files, "seconds": total, "rows_in": sum(f["rows_in"] for f in files)}


def _paths(document: dict[str, Sequence[str]]) -> Any:
    from shopflow_kpi.domain import CuratedPaths

    return CuratedPaths(
        orders=list(document.get("orders", ())),
        order_items=list(document.get("order_items", ())),
        products=list(document.get("products", ())),
    )


def parquet_rows(paths: Sequence[str]) -> int:
    import duckdb

    if not paths:
        return 0
    files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    row = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet({files})").fetchone()
    return int(row[0]) if row else 0


def shopflow_kpi(spec: Spec) -> TaskResult:
    """All dates from all curated files: what the first run over a shop's history does.

    spec: curated {kind: [paths]}, memory_limit, threads, scratch, kpi_out (optional).
    """
    from shopflow_contracts.rows import FileKind
    from shopflow_kpi.adapters.duckdb_engine import DuckDbEngine
    from shopflow_kpi.domain import compute_all_kpis, register_curated

    curated = _paths(spec["curated"])
    items = parquet_rows(curated.of(FileKind.ORDER_ITEMS))
    engine = DuckDbEngine(memory_limit=spec["memory_limit"], threads=int(spec["threads"]))
    scratch_root = Path(spec["scratch"])
    scratch_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch_root) as scratch:
        started = time.perf_counter()
        connection = engine.connect(Path(scratch))
        register_curated(connection, curated)
        registered = time.perf_counter()
        dates, days, categories = compute_all_kpis(connection)
        computed = time.perf_counter()
        connection.close()
    if spec.get("kpi_out"):
        Path(spec["kpi_out"]).write_text(
            json.dumps({"days": day_records(days), "categories": category_records(categories)})
        )
    return {
        "items": items,
        "dates": len(dates),
        "day_rows": len(days),
        "category_rows": len(categories),
        "register_seconds": registered - started,
        "compute_seconds": computed - registered,
        "seconds": computed - started,
    }


def pandas_validate(spec: Spec) -> TaskResult:
    """spec: files [path], tables_out (pickle of the current tables for pandas_kpi)."""
    from shopflow_bench import pandas_baseline

    started = time.perf_counter()
    validated = pandas_baseline.validate_files([Path(p) for p in spec["files"]])
    tables = pandas_baseline.current_tables(validated)
    pandas_baseline.save_tables(tables, Path(spec["tables_out"]))
    seconds = time.perf_counter() - started
    return {
        "files": [
            {"kind": v.kind, "rows_in": v.rows_in, "accepted": v.accepted} for v in validated
        ],
        "rows_in": sum(v.rows_in for v in validated),
        "seconds": seconds,
    }


def pandas_kpi(spec: Spec) -> TaskResult:
    """spec: tables_in (from pandas_validate), kpi_out."""
    from shopflow_bench import pandas_baseline

    started = time.perf_counter()
    tables = pandas_baseline.load_tables(Path(spec["tables_in"]))
    loaded = time.perf_counter()
    days, categories = pandas_baseline.compute_kpis(tables)
    seconds = time.perf_counter() - started
    Path(spec["kpi_out"]).write_text(json.dumps({"days": days, "categories": categories}))
    return {
        "items": len(tables["order_items"]),
        "load_seconds": loaded - started,
        "seconds": seconds,
        "day_rows": len(days),
        "category_rows": len(categories),
    }


def pandas_pipeline(spec: Spec) -> TaskResult:
    """Validation and KPIs in one process, as a pandas script does. spec: files, kpi_out."""
    from shopflow_bench import pandas_baseline

    started = time.perf_counter()
    validated = pandas_baseline.validate_files([Path(p) for p in spec["files"]])
    tables = pandas_baseline.current_tables(validated)
    checked = time.perf_counter()
    days, categories = pandas_baseline.compute_kpis(tables)
    finished = time.perf_counter()
    if spec.get("kpi_out"):
        Path(spec["kpi_out"]).write_text(json.dumps({"days": days, "categories": categories}))
    return {
        "rows_in": sum(v.rows_in for v in validated),
        "validate_seconds": checked - started,
        "kpi_seconds": finished - checked,
        "seconds": finished - started,
    }


# The plain scripts a user would write instead (``plain_baselines``): each tool validates
# the CSVs into Parquet in one child, then computes the KPIs from that Parquet in another.
_PLAIN_TOOLS = ("duckdb", "polars")


def _plain_tool(spec: Spec) -> Any:
    from shopflow_bench import plain_baselines

    tool = spec["tool"]
    if tool not in _PLAIN_TOOLS:
        raise ValueError(f"no plain baseline for {tool!r}")
    if tool == "polars":
        # Polars sizes its thread pool at import: the same cores as everyone else.
        import os

        os.environ.setdefault("POLARS_MAX_THREADS", str(spec["threads"]))
    return plain_baselines, tool


def plain_validate(spec: Spec) -> TaskResult:
    """spec: tool (duckdb|polars), files [path], out_dir, threads, manifest_out."""
    baselines, tool = _plain_tool(spec)
    validate = baselines.polars_validate if tool == "polars" else baselines.duckdb_validate
    started = time.perf_counter()
    result = validate([Path(p) for p in spec["files"]], Path(spec["out_dir"]), int(spec["threads"]))
    seconds = time.perf_counter() - started
    Path(spec["manifest_out"]).write_text(json.dumps(result["files"]))
    return {**result, "seconds": seconds}


def plain_kpi(spec: Spec) -> TaskResult:
    """spec: tool (duckdb|polars), manifest_in (from plain_validate), threads, kpi_out."""
    baselines, tool = _plain_tool(spec)
    kpis = baselines.polars_kpis if tool == "polars" else baselines.duckdb_kpis
    files = json.loads(Path(spec["manifest_in"]).read_text())
    started = time.perf_counter()
    result = kpis(files, int(spec["threads"]))
    seconds = time.perf_counter() - started
    Path(spec["kpi_out"]).write_text(
        json.dumps({"days": result["days"], "categories": result["categories"]})
    )
    return {
        "items": result["items"],
        "seconds": seconds,
        "day_rows": len(result["days"]),
        "category_rows": len(result["categories"]),
    }
