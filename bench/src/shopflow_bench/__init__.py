"""``shopflow bench``: stage throughput, memory ceiling, incremental cost and end-to-end latency,
measured against the usual pandas approach. See bench/README.md."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (``shopflow bench --help``); returns the process exit code."""
    from shopflow_bench.runner import main as run

    return run(argv)


__all__ = ["main"]
