"""validate_batch: the checks between the files of one batch (orders and their items)."""

from __future__ import annotations

from pathlib import Path

from shopflow_contracts.rows import FileKind
from shopflow_validator.domain import BatchFile, FileValidationResult, validate_batch
from validator_support import (
    ENGINE,
    GOOD_PRODUCTS,
    ITEMS_HEADER,
    ORDERS_HEADER,
    assert_accounting,
    parquet_rows,
    rejects,
    report_of,
)

ORDERS = (
    f"{ORDERS_HEADER}\n"
    "1,10,complete,2025-03-30T16:14:26,,,,2\n"
    "2,11,pending,2025-03-30T16:14:26,,,,3\n"
    "4,13,pending,2025-03-30T16:14:26,,,,1\n"
)
# Order 1: two items, as it says. Order 2: one item though it says 3, and one item of it
# names another user. Order 3 is not in the batch. Order 4 has no item in the batch.
ITEMS = (
    f"{ITEMS_HEADER}\n"
    "100,1,10,500,complete,2025-03-30T16:14:26,,,,1.00\n"
    "101,1,10,501,complete,2025-03-30T16:14:26,,,,2.00\n"
    "102,2,11,502,pending,2025-03-30T16:14:26,,,,3.00\n"
    "103,2,99,503,pending,2025-03-30T16:14:26,,,,4.00\n"
    "104,3,55,504,pending,2025-03-30T16:14:26,,,,5.00\n"
)


def run_batch(tmp_path: Path, *files: tuple[FileKind, str, str]) -> list[FileValidationResult]:
    """Validate ``(kind, name, content)`` files as one batch, in upload order."""
    sources = tmp_path / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    fetched: list[int] = []
    batch = []
    for number, (kind, name, content) in enumerate(files, start=1):
        (sources / name).write_text(content, encoding="utf-8")
        batch.append(
            BatchFile(
                kind=kind,
                source_key=f"landing/{name}",
                ingest_seq=f"2025-03-30T16:14:2{number}Z#000{number}#landing/{name}",
                stem=name.removesuffix(".csv"),
            )
        )

    def fetch(index: int, target: Path) -> None:
        fetched.append(index)
        target.write_bytes((sources / files[index][1]).read_bytes())

    results = validate_batch(batch, fetch, tmp_path / "work", engine=ENGINE)

    assert sorted(fetched) == list(range(len(files)))
    assert not any((tmp_path / "work" / "staged").iterdir())
    for result in results:
        assert_accounting(result)
    return results


def test_given_an_item_naming_another_user_than_its_order_when_validated_then_it_is_rejected(
    tmp_path: Path,
) -> None:
    # Items first: the order file is validated first all the same.
    items, orders = run_batch(
        tmp_path,
        (FileKind.ORDER_ITEMS, "2-items.csv", ITEMS),
        (FileKind.ORDERS, "1-orders.csv", ORDERS),
    )

    assert (orders.kind, items.kind) == (FileKind.ORDERS, FileKind.ORDER_ITEMS)
    assert (items.rows_in, items.accepted, items.rejected) == (5, 4, 1)
    assert items.rejects_by_rule == {"user_mismatch": 1}
    (reject,) = rejects(items)
    assert reject["line"] == "5"
    assert "99" in reject["message"]
    assert "landing/1-orders.csv line 3" in reject["message"]
    # Order 3 is not in the batch: its item is accepted here and checked by the KPI stage.
    assert items.accepted_path is not None
    assert [i for (i,) in parquet_rows(items.accepted_path, "id")] == [100, 101, 102, 104]


def test_given_an_order_corrected_in_the_batch_when_items_are_checked_then_its_latest_user_counts(
    tmp_path: Path,
) -> None:
    first = f"{ORDERS_HEADER}\n7,10,pending,2025-03-30T16:14:26,,,,1\n"
    later = (
        f"{ORDERS_HEADER}\n"
        "7,20,pending,2025-03-30T16:14:26,,,,1\n"
        "7,30,pending,2025-03-30T16:14:26,,,,1\n"
    )
    items = (
        f"{ITEMS_HEADER}\n"
        "1,7,10,500,pending,2025-03-30T16:14:26,,,,1.00\n"
        "2,7,30,500,pending,2025-03-30T16:14:26,,,,1.00\n"
    )

    *_, checked = run_batch(
        tmp_path,
        (FileKind.ORDERS, "1-orders.csv", first),
        (FileKind.ORDERS, "2-orders.csv", later),
        (FileKind.ORDER_ITEMS, "3-items.csv", items),
    )

    assert checked.rejects_by_rule == {"user_mismatch": 1}
    assert rejects(checked)[0]["line"] == "2"


def test_given_num_of_item_disagreeing_with_the_batch_when_validated_then_only_a_warning(
    tmp_path: Path,
) -> None:
    orders, items, products = run_batch(
        tmp_path,
        (FileKind.ORDERS, "1-orders.csv", ORDERS),
        (FileKind.ORDER_ITEMS, "2-items.csv", ITEMS),
        (FileKind.PRODUCTS, "3-products.csv", GOOD_PRODUCTS),
    )

    # Order 2 says 3 items; the batch has 1 accepted (the other named another user).
    # Order 1 agrees; order 4 has no item in the batch, so nothing to compare.
    assert (orders.rows_in, orders.accepted, orders.rejected) == (3, 3, 0)
    assert orders.warnings == ("line 3: order 2 has num_of_item 3 but 1 item(s) in this batch",)
    report = report_of(orders).model_dump(mode="json")
    assert report["warnings"] == list(orders.warnings)
    assert report["num_of_item_mismatches"] == 1
    assert report["num_of_item_mismatch_rows"] == [
        {"line": 3, "order_id": 2, "num_of_item": 3, "items_in_batch": 1}
    ]
    assert (items.warnings, products.warnings) == ((), ())
    assert products.accepted == 2


def test_given_many_num_of_item_mismatches_when_validated_then_the_result_carries_a_few(
    tmp_path: Path,
) -> None:
    orders = f"{ORDERS_HEADER}\n" + "".join(
        f"{n},10,pending,2025-03-30T16:14:26,,,,5\n" for n in range(1, 31)
    )
    items = f"{ITEMS_HEADER}\n" + "".join(
        f"{n},{n},10,500,pending,2025-03-30T16:14:26,,,,1.00\n" for n in range(1, 31)
    )

    checked, _ = run_batch(
        tmp_path,
        (FileKind.ORDERS, "1-orders.csv", orders),
        (FileKind.ORDER_ITEMS, "2-items.csv", items),
    )

    assert len(checked.warnings) == 11
    assert checked.warnings[-1].startswith("20 more order(s)")
    report = report_of(checked)
    assert report.num_of_item_mismatches == 30
    assert len(report.num_of_item_mismatch_rows) == 30


def test_given_items_without_their_orders_in_the_batch_when_validated_then_no_user_check(
    tmp_path: Path,
) -> None:
    (items,) = run_batch(tmp_path, (FileKind.ORDER_ITEMS, "1-items.csv", ITEMS))

    assert (items.accepted, items.rejected, items.warnings) == (5, 0, ())


def test_given_duplicated_items_when_batch_counts_items_then_a_duplicate_counts_once(
    tmp_path: Path,
) -> None:
    orders = f"{ORDERS_HEADER}\n1,10,complete,2025-03-30T16:14:26,,,,2\n"
    row = "100,1,10,500,complete,2025-03-30T16:14:26,,,,1.00\n"
    items = f"{ITEMS_HEADER}\n{row}{row}101,1,10,501,complete,2025-03-30T16:14:26,,,,2.00\n"

    checked_orders, checked_items = run_batch(
        tmp_path,
        (FileKind.ORDERS, "1-orders.csv", orders),
        (FileKind.ORDER_ITEMS, "2-items.csv", items),
    )

    assert (checked_items.accepted, checked_items.duplicates) == (2, 1)
    assert checked_orders.warnings == ()
