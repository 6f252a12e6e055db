"""Recognising a landed file from its first bytes."""

from __future__ import annotations

import gzip

import pytest
from loader_fakes import ITEMS_CSV, ORDERS_CSV
from shopflow_contracts.rows import FileKind
from shopflow_loader.domain.files import recognise_file, staged_key

PRODUCTS_CSV = b"id,cost,category,name,brand,retail_price,department,sku\n1,2.50,Jeans,,,9.99,,\n"


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (ORDERS_CSV, FileKind.ORDERS),
        (ITEMS_CSV, FileKind.ORDER_ITEMS),
        (PRODUCTS_CSV, FileKind.PRODUCTS),
        (b"\xef\xbb\xbf" + ORDERS_CSV.replace(b"\n", b"\r\n"), FileKind.ORDERS),
        (gzip.compress(ITEMS_CSV), FileKind.ORDER_ITEMS),
        (b"\n\n" + PRODUCTS_CSV, FileKind.PRODUCTS),
        (
            b'"num_of_item","order_id","user_id","status","created_at"\n1,1,1,complete,2025-01-01\n',
            FileKind.ORDERS,
        ),
    ],
)
def test_kind_comes_from_the_header_not_the_name(content: bytes, kind: FileKind) -> None:
    recognition = recognise_file(content, total_size=len(content))
    assert recognition.kind is kind
    assert recognition.problem is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (b"\n\n", "no header line"),
        (b"foo,bar\n1,2\n", "header 'foo,bar' is not an orders, order_items or products header"),
        (b"\xff\xfe\x00\x01garbage" * 10, "not UTF-8"),
        (b"\x1f\x8b\x08garbage", "not a readable gzip file"),
    ],
)
def test_unrecognisable_files_say_why(content: bytes, problem: str) -> None:
    recognition = recognise_file(content, total_size=len(content))
    assert recognition.kind is None
    assert recognition.problem is not None and problem in recognition.problem


def test_a_prefix_cut_inside_a_multibyte_character_is_still_recognised() -> None:
    content = ORDERS_CSV + "1,7,complete,2025-03-30T16:14:26,,,,1 é".encode()
    assert recognise_file(content[:-1], total_size=len(content)).kind is FileKind.ORDERS


def test_staged_keys_keep_batch_kind_position_and_file_name() -> None:
    assert (
        staged_key("b1", FileKind.ORDERS, 3, "landing/2025/March orders.csv")
        == "raw/batch=b1/orders/0003-March orders.csv"
    )
