"""Small pure helpers: percentiles, units, and the plain-text tables printed on stdout."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), interpolating linearly between closest ranks
    (numpy's default method)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else math.inf


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.inf


def human_count(value: float) -> str:
    """1234567 -> '1.23M'; 20000 -> '20.0k'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return (
                f"{value / scale:.3g}{unit}"
                if value / scale < 100
                else f"{value / scale:.0f}{unit}"
            )
    return f"{value:.0f}"


def human_rate(rows_per_second: float) -> str:
    return f"{human_count(rows_per_second)}/s"


def mib(value: float) -> str:
    return f"{value:,.0f} MiB"


def seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def times(value: float) -> str:
    return f"{value:.1f}x" if math.isfinite(value) else "inf"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells, expected {len(headers)}")
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    head = line(headers)
    out = [head, "-" * len(head), *(line(row) for row in rows)]
    if title:
        out.insert(0, title)
    return "\n".join(out)
