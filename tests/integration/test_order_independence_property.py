"""Order independence, as a property: any split, any order, any duplicate uploads.

Given a generated dataset written as CSV, hypothesis cuts it into files (overlapping pieces
of each kind, some uploaded twice) and picks the arrival order. Each file goes through the
production code the services run: ``validate_file`` (validator), then the KPI stage's
persistent ``CuratedState`` with only the touched dates recomputed after every file. The
KPI rows kept at the end must equal ``tests/reference_kpis.py``, a deliberately simple
plain-Python computation over the original, unsplit files.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_kpis import reference_kpis
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS
from shopflow_contracts.rows import FileKind
from shopflow_kpi.adapters.duckdb_state import CuratedState
from shopflow_kpi.ports import CuratedFileRef
from shopflow_validator.adapters.duckdb_engine import DuckDbEngine
from shopflow_validator.domain import validate_file

DAY0 = datetime(2025, 3, 30, 20, 0, tzinfo=UTC)
STATUSES = ["complete", "Shipped", "returned", "Returned", "cancelled", "processing"]
HEADERS = {
    FileKind.ORDERS: "order_id,user_id,status,created_at,returned_at,shipped_at,delivered_at,"
    "num_of_item",
    FileKind.ORDER_ITEMS: "id,order_id,user_id,product_id,status,created_at,shipped_at,"
    "delivered_at,returned_at,sale_price",
    FileKind.PRODUCTS: "id,cost,category,name,brand,retail_price,department,sku",
}
_run = itertools.count()
# Validator and KPI domain code together, on real files: a few minutes for the 200 cases.
pytestmark = pytest.mark.slow


def stamp(moment: datetime, with_t: bool) -> str:
    return (
        moment.strftime("%Y-%m-%dT%H:%M:%S") if with_t else moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    )


@st.composite
def datasets(draw: st.DrawFn) -> dict[FileKind, list[str]]:
    """CSV lines (without header) per kind; keys unique, so the union is well defined."""
    n_products = draw(st.integers(1, 3))
    products = [
        f"{pid},1.00,{draw(st.sampled_from(['Jeans', 'Tops', 'Swim']))},,,9.99,,"
        for pid in range(1, n_products + 1)
    ]
    orders: list[str] = []
    created: dict[int, tuple[datetime, int]] = {}
    for oid in range(1, draw(st.integers(1, 6)) + 1):
        # Orders within a few hours of midnight: their items often fall on the next day.
        moment = DAY0 + timedelta(minutes=draw(st.integers(0, 36 * 60)))
        status = draw(st.sampled_from(STATUSES))
        user = draw(st.integers(1, 3))
        returned_at = (
            stamp(moment + timedelta(days=2), True) if status.lower() == "returned" else ""
        )
        orders.append(
            f"{oid},{user},{status},{stamp(moment, draw(st.booleans()))},{returned_at},,,1"
        )
        created[oid] = (moment, user)
    items: list[str] = []
    for iid in range(1, draw(st.integers(0, 10)) + 1):
        # Some items point at an order or a product that never arrives.
        oid = draw(st.integers(1, len(orders) + 1))
        moment, user = created.get(oid, (DAY0, 1))
        item_moment = moment + timedelta(minutes=draw(st.integers(1, 240)))
        status = draw(st.sampled_from(STATUSES))
        returned_at = (
            stamp(item_moment + timedelta(days=2), False) if status.lower() == "returned" else ""
        )
        price = Decimal(draw(st.integers(0, 20000))) / 100
        items.append(
            f"{iid},{oid},{user},{draw(st.integers(1, n_products + 1))},{status},"
            f"{stamp(item_moment, draw(st.booleans()))},,,{returned_at},{price:.2f}"
        )
    return {FileKind.ORDERS: orders, FileKind.ORDER_ITEMS: items, FileKind.PRODUCTS: products}


@st.composite
def scrambled(draw: st.DrawFn, data: dict[FileKind, list[str]]) -> list[tuple[FileKind, str]]:
    """Files (kind, CSV text) that together hold every row, in a random arrival order."""
    files: list[tuple[FileKind, str]] = []
    for kind, lines in data.items():
        if not lines:
            continue
        cuts = sorted(draw(st.sets(st.integers(1, len(lines)), max_size=2)) - {len(lines)})
        for start, end in zip([0, *cuts], [*cuts, len(lines)], strict=True):
            overlap = draw(st.integers(0, 2))  # rows of the next piece, repeated
            piece = lines[start : end + overlap]
            files.append((kind, "\n".join([HEADERS[kind], *piece]) + "\n"))
    repeats = draw(st.lists(st.sampled_from(files), max_size=2))
    return draw(st.permutations(files + repeats))


def settled_kpis(files: list[tuple[FileKind, str]], work: Path) -> tuple[str, str]:
    kept_days: dict[Any, Any] = {}
    kept_categories: dict[Any, Any] = {}
    with duckdb.connect() as connection:
        state = CuratedState.open(connection)
        for arrival, (kind, text) in enumerate(files):
            source = work / f"upload-{arrival}.csv"
            source.write_text(text)
            result = validate_file(
                source,
                kind,
                f"landing/{source.name}",
                f"{arrival:06d}",
                work / "curated",
                engine=DuckDbEngine(),
            )
            assert result.rows_in == result.accepted + result.rejected + result.duplicates
            if result.accepted_path is None:
                continue
            key = f"curated/{kind.value}/{arrival:06d}.parquet"
            state.load([CuratedFileRef(kind.value, key, "v1", str(result.accepted_path))])
            dates = state.touched_dates([key])
            days, categories = state.compute_kpis(dates)
            kept_days = {d: row for d, row in kept_days.items() if d not in dates}
            kept_categories = {k: row for k, row in kept_categories.items() if k[1] not in dates}
            kept_days.update({row.order_date: row for row in days})
            kept_categories.update({(row.category, row.order_date): row for row in categories})
    day_lines = [_line(r, DAY_KPI_COLUMNS) for _, r in sorted(kept_days.items())]
    category_lines = [_line(r, CATEGORY_KPI_COLUMNS) for _, r in sorted(kept_categories.items())]
    return "\n".join(day_lines), "\n".join(category_lines)


def _line(row: Any, columns: tuple[str, ...]) -> str:
    """A KPI row as the reference writes it: money and rates with 2 places, ISO dates."""
    cells = []
    for column in columns:
        value = getattr(row, column)
        if isinstance(value, Decimal):
            cells.append(f"{value:.2f}")
        elif isinstance(value, date):
            cells.append(value.isoformat())
        else:
            cells.append(str(value))
    return ",".join(cells)


def reference_lines(data: dict[FileKind, list[str]], work: Path) -> tuple[str, str]:
    originals = []
    for kind, lines in data.items():
        path = work / f"original-{kind.value}.csv"
        path.write_text("\n".join([HEADERS[kind], *lines]) + "\n")
        originals.append(path)
    categories, days = reference_kpis(originals)
    return (
        "\n".join(",".join(row[c] for c in DAY_KPI_COLUMNS) for row in days),
        "\n".join(",".join(row[c] for c in CATEGORY_KPI_COLUMNS) for row in categories),
    )


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.data())
def test_any_split_order_and_duplication_settles_to_the_single_computation(
    tmp_path: Path, data: st.DataObject
) -> None:
    # Given a dataset and some way of uploading it
    dataset = data.draw(datasets())
    files = data.draw(scrambled(dataset))
    work = tmp_path / f"run-{next(_run)}"
    work.mkdir()
    # When every file goes through validation and incremental KPI recomputation
    settled = settled_kpis(files, work)
    # Then the kept KPI rows are those of one computation over the union
    assert settled == reference_lines(dataset, work)
