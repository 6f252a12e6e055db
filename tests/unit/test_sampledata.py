from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from reference_kpis import validate_row
from shopflow_cli.sampledata import (
    MANIFEST_FILE,
    ORDER_ITEMS_FILE,
    ORDERS_FILE,
    PRODUCTS_FILE,
    SampleManifest,
    generate_sample,
    main,
)
from shopflow_contracts.rows import normalise_header, parse_timestamp, recognise_kind

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED = REPO_ROOT / "samples" / "thelook-small"
FILES = (ORDERS_FILE, ORDER_ITEMS_FILE, PRODUCTS_FILE)

HEADERS = {
    ORDERS_FILE: "order_id,user_id,status,created_at,returned_at,shipped_at,delivered_at,"
    "num_of_item",
    ORDER_ITEMS_FILE: "id,order_id,user_id,product_id,status,created_at,shipped_at,delivered_at,"
    "returned_at,sale_price",
    PRODUCTS_FILE: "id,cost,category,name,brand,retail_price,department,sku,distribution_center_id",
}


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleManifest:
    return generate_sample(tmp_path_factory.mktemp("sample"))


def valid_rows(sample: SampleManifest, name: str) -> list[dict[str, str]]:
    """The rows of ``name`` that the manifest does not list as broken."""
    broken = {row.line for row in sample.broken_rows if row.file == name}
    rows = read(sample.out_dir / name)
    return [row for line, row in enumerate(rows, start=2) if line not in broken]


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", seed=3, orders=400)
    generate_sample(tmp_path / "b", seed=3, orders=400)
    generate_sample(tmp_path / "c", seed=4, orders=400)
    for name in (*FILES, MANIFEST_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()


def test_bundled_sample_is_what_the_defaults_generate(sample: SampleManifest) -> None:
    for name in (*FILES, MANIFEST_FILE):
        assert (BUNDLED / name).read_bytes() == (sample.out_dir / name).read_bytes(), name


def test_bundled_sample_stays_small_enough_to_commit() -> None:
    assert sum(path.stat().st_size for path in BUNDLED.iterdir()) < 1_000_000


def test_files_have_exactly_the_thelook_headers_and_unix_newlines(sample: SampleManifest) -> None:
    for name, header in HEADERS.items():
        content = (sample.out_dir / name).read_bytes()
        assert content.split(b"\n", 1)[0].decode() == header
        assert b"\r" not in content
        assert content.endswith(b"\n")
        assert recognise_kind(header.split(",")) is not None


def test_counts_match_the_files_and_the_arguments(sample: SampleManifest) -> None:
    assert sample.counts[ORDERS_FILE] == 3000
    for name in FILES:
        lines = (sample.out_dir / name).read_text(encoding="utf-8").splitlines()
        assert sample.counts[name] == len(lines) - 1
    assert 100 <= sample.counts[PRODUCTS_FILE] <= 200
    assert sample.counts[ORDERS_FILE] < sample.counts[ORDER_ITEMS_FILE] < 4 * 3000


def test_num_of_item_matches_the_items_of_each_order(sample: SampleManifest) -> None:
    items_per_order = Counter(row["order_id"] for row in read(sample.order_items_csv))
    checked = 0
    for order in valid_rows(sample, ORDERS_FILE):
        assert 1 <= int(order["num_of_item"]) <= 4
        assert items_per_order[order["order_id"]] == int(order["num_of_item"])
        checked += 1
    assert checked > 2900


def test_catalogue_and_customers_look_like_a_shop(sample: SampleManifest) -> None:
    products = read(sample.products_csv)
    assert len({row["category"] for row in products if row["category"]}) == 6
    orders = read(sample.orders_csv)
    customers = Counter(row["user_id"] for row in orders)
    assert len(customers) < len(orders) / 2
    assert customers.most_common(1)[0][1] >= 5


def test_status_shares_are_plausible(sample: SampleManifest) -> None:
    shares = Counter(row["status"].lower() for row in read(sample.orders_csv))
    total = sum(shares.values())
    assert 0.07 <= shares["returned"] / total <= 0.13
    assert 0.05 <= shares["cancelled"] / total <= 0.11
    for status in ("complete", "shipped", "delivered", "processing", "pending"):
        assert shares[status] / total >= 0.03, status
    # Mixed case is deliberate: statuses are case-insensitive and the pipeline must cope.
    assert any(row["status"] != row["status"].lower() for row in read(sample.orders_csv))


def test_items_follow_their_order(sample: SampleManifest) -> None:
    orders = {row["order_id"]: row for row in valid_rows(sample, ORDERS_FILE)}
    items_by_order: dict[str, list[dict[str, str]]] = defaultdict(list)
    for item in valid_rows(sample, ORDER_ITEMS_FILE):
        items_by_order[item["order_id"]].append(item)
    for order_id, items in items_by_order.items():
        order = orders.get(order_id)
        if order is None:
            continue
        order_status = order["status"].lower()
        statuses = [item["status"].lower() for item in items]
        if order_status == "returned":
            assert "returned" in statuses
            assert all(
                item["returned_at"] for item in items if item["status"].lower() == "returned"
            )
        else:
            assert set(statuses) == {order_status}
        for item in items:
            assert item["user_id"] == order["user_id"]
            delay = parse_timestamp(item["created_at"]) - parse_timestamp(order["created_at"])
            assert 0 < delay.total_seconds() <= 30 * 60


def test_some_items_are_created_the_day_after_their_order(sample: SampleManifest) -> None:
    order_days = {
        row["order_id"]: parse_timestamp(row["created_at"]).date()
        for row in valid_rows(sample, ORDERS_FILE)
    }
    crossing = [
        item
        for item in valid_rows(sample, ORDER_ITEMS_FILE)
        if item["order_id"] in order_days
        and parse_timestamp(item["created_at"]).date() > order_days[item["order_id"]]
    ]
    assert len(crossing) >= 5


def test_both_timestamp_spellings_and_blank_descriptive_fields_occur(
    sample: SampleManifest,
) -> None:
    text = sample.orders_csv.read_text() + sample.order_items_csv.read_text()
    assert re.search(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\b", text)
    assert re.search(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\b", text)
    products = read(sample.products_csv)
    for column in ("name", "brand", "department", "sku"):
        assert any(row[column] == "" for row in products), column
        assert any(row[column] != "" for row in products), column


def test_valid_prices_are_exact_two_decimal_strings(sample: SampleManifest) -> None:
    money = re.compile(r"^\d+\.\d{2}$")
    for item in valid_rows(sample, ORDER_ITEMS_FILE):
        assert money.match(item["sale_price"]), item
    for product in valid_rows(sample, PRODUCTS_FILE):
        assert money.match(product["cost"]), product
        assert money.match(product["retail_price"]), product


def test_manifest_lists_exactly_the_broken_rows(sample: SampleManifest) -> None:
    assert len(sample.broken_rows) == 12
    assert {row.file for row in sample.broken_rows} == set(FILES)
    listed = {(row.file, row.line): row for row in sample.broken_rows}
    assert len(listed) == 12
    for name in FILES:
        with (sample.out_dir / name).open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = normalise_header(next(reader))
            kind = recognise_kind(header)
            assert kind is not None
            for line, cells in enumerate(reader, start=2):
                broken = listed.get((name, line))
                row = validate_row(kind, header, cells)
                if broken is None:
                    assert row is not None, (name, line, cells)
                    continue
                assert cells[header.index(broken.column)] == broken.value, broken
                if broken.outcome == "rejected":
                    assert row is None, broken
                elif broken.outcome == "nulled":
                    assert row is not None, broken
                    assert getattr(row, broken.column) is None, broken
                else:
                    assert broken.outcome == "rounded", broken
                    assert row is not None, broken
                    assert getattr(row, broken.column) != Decimal(broken.value), broken


def test_manifest_json_matches_the_manifest(sample: SampleManifest) -> None:
    document = json.loads(sample.manifest_json.read_text(encoding="utf-8"))
    assert document["seed"] == 7
    assert {name: entry["rows"] for name, entry in document["files"].items()} == sample.counts
    assert len(document["broken_rows"]) == len(sample.broken_rows)
    assert document["broken_rows"][0]["line"] == sample.broken_rows[0].line


@pytest.mark.parametrize("broken_rows", [0, 1, 40])
def test_broken_row_count_is_exactly_the_requested_one(tmp_path: Path, broken_rows: int) -> None:
    manifest = generate_sample(tmp_path, orders=300, broken_rows=broken_rows)
    assert len(manifest.broken_rows) == broken_rows
    assert len({(row.file, row.line) for row in manifest.broken_rows}) == broken_rows


def test_impossible_broken_row_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="broken_rows"):
        generate_sample(tmp_path, orders=5, broken_rows=10_000)


def test_main_writes_the_sample_where_told(tmp_path: Path) -> None:
    out = tmp_path / "out"
    main(
        ["--out", str(out), "--seed", "11", "--orders", "200", "--days", "7", "--broken-rows", "3"]
    )
    expected = generate_sample(tmp_path / "direct", seed=11, orders=200, days=7, broken_rows=3)
    for name in (*FILES, MANIFEST_FILE):
        assert (out / name).read_bytes() == (expected.out_dir / name).read_bytes()
    orders = read(out / ORDERS_FILE)
    assert len(orders) == 200
    days = {parse_timestamp(row["created_at"]).date() for row in valid_rows(expected, ORDERS_FILE)}
    assert min(days) >= date(2025, 3, 1)
    assert max(days) <= date(2025, 3, 7)
