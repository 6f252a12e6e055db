"""validate_file over small CSV files: what is accepted, what is rejected and why."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from shopflow_contracts.rows import FileKind, columns_of
from shopflow_validator.domain import FileValidationResult, stem_of
from shopflow_validator.domain.report import report_json
from validator_support import (
    GOOD_ITEMS,
    GOOD_ORDERS,
    GOOD_PRODUCTS,
    ITEMS_HEADER,
    ORDERS_HEADER,
    PRODUCTS_HEADER,
    parquet_rows,
    parquet_schema,
    rejects,
    report_of,
    validate,
)

LINEAGE = ["_ingest_seq", "_source_key", "_source_line"]


def only_reject(result: FileValidationResult) -> dict[str, str]:
    rows = rejects(result)
    assert len(rows) == 1, rows
    return rows[0]


# --- good files -------------------------------------------------------------------------


def test_given_a_good_orders_file_when_validated_then_every_row_is_accepted_typed(
    tmp_path: Path,
) -> None:
    result = validate(tmp_path, GOOD_ORDERS, FileKind.ORDERS)

    assert (result.rows_in, result.accepted, result.rejected) == (3, 3, 0)
    assert result.file_error is None
    assert result.accepted_path is not None
    assert parquet_schema(result.accepted_path) == [
        ("order_id", "BIGINT"),
        ("user_id", "BIGINT"),
        ("status", "VARCHAR"),
        ("created_at", "TIMESTAMP WITH TIME ZONE"),
        ("returned_at", "TIMESTAMP WITH TIME ZONE"),
        ("shipped_at", "TIMESTAMP WITH TIME ZONE"),
        ("delivered_at", "TIMESTAMP WITH TIME ZONE"),
        ("num_of_item", "BIGINT"),
        ("_ingest_seq", "VARCHAR"),
        ("_source_key", "VARCHAR"),
        ("_source_line", "BIGINT"),
    ]
    assert parquet_rows(
        result.accepted_path,
        "order_id, status, created_at::VARCHAR, shipped_at::VARCHAR, num_of_item, "
        "_source_key, _source_line",
    ) == [
        (
            1,
            "complete",
            "2025-03-30 16:14:26+00",
            "2025-03-31 10:00:00+00",
            2,
            "landing/upload.csv",
            2,
        ),
        (2, "pending", "2025-03-30 16:14:26+00", None, 1, "landing/upload.csv", 3),
        (
            3,
            "returned",
            "2025-03-01 08:00:00+00",
            "2025-03-02 08:00:00+00",
            3,
            "landing/upload.csv",
            4,
        ),
    ]


@pytest.mark.parametrize(
    ("kind", "content", "rows"),
    [(FileKind.ORDER_ITEMS, GOOD_ITEMS, 3), (FileKind.PRODUCTS, GOOD_PRODUCTS, 2)],
)
def test_given_a_good_file_of_each_other_kind_when_validated_then_its_columns_are_the_schema(
    tmp_path: Path, kind: FileKind, content: str, rows: int
) -> None:
    result = validate(tmp_path, content, kind)

    assert (result.rows_in, result.accepted, result.rejected) == (rows, rows, 0)
    assert result.accepted_path is not None
    schema = parquet_schema(result.accepted_path)
    assert [name for name, _ in schema] == [*columns_of(kind), *LINEAGE]
    assert ("sale_price" in dict(schema)) == (kind is FileKind.ORDER_ITEMS)
    for name, sql_type in schema:
        if name in {"sale_price", "cost", "retail_price"}:
            assert sql_type == "DECIMAL(18,2)"


def test_given_a_quoted_field_with_a_comma_when_validated_then_the_value_is_kept_whole(
    tmp_path: Path,
) -> None:
    result = validate(tmp_path, GOOD_PRODUCTS, FileKind.PRODUCTS)

    assert result.accepted_path is not None
    assert parquet_rows(result.accepted_path, "name, brand") == [
        ("Slim Fit, Dark", "Levi's"),
        ("Basic Tee", "Acme"),
    ]


def test_given_the_lineage_of_a_file_when_validated_then_every_row_carries_it(
    tmp_path: Path,
) -> None:
    result = validate(tmp_path, GOOD_ITEMS, FileKind.ORDER_ITEMS, source_key="landing/a b.csv")

    assert result.accepted_path is not None
    assert parquet_rows(result.accepted_path, "_ingest_seq, _source_key, _source_line") == [
        ("2025-03-30T16:14:26Z#0001#landing/upload.csv", "landing/a b.csv", line)
        for line in (2, 3, 4)
    ]


# --- file encodings and shapes ----------------------------------------------------------


def test_given_a_bom_and_crlf_line_ends_when_validated_then_rows_and_lines_are_as_without(
    tmp_path: Path,
) -> None:
    content = (
        "\ufeff"
        + GOOD_ITEMS.replace("\n", "\r\n")
        + "103,x,11,502,pending,2025-03-30T16:14:26,,,,5\r\n"
    )

    result = validate(tmp_path, content, FileKind.ORDER_ITEMS)

    assert (result.rows_in, result.accepted, result.rejected) == (4, 3, 1)
    reject = only_reject(result)
    assert reject["line"] == "5"
    assert reject["rule"] == "invalid_integer:order_id"
    # The raw line is the record's text without its terminator.
    assert reject["raw_line"] == "103,x,11,502,pending,2025-03-30T16:14:26,,,,5"


@pytest.mark.parametrize("name", ["orders.csv.gz", "orders.csv"])
def test_given_gzip_content_when_validated_then_it_is_recognised_by_magic_not_name(
    tmp_path: Path, name: str
) -> None:
    result = validate(tmp_path, gzip.compress(GOOD_ORDERS.encode()), FileKind.ORDERS, name=name)

    assert (result.rows_in, result.accepted, result.rejected) == (3, 3, 0)
    assert report_of(result).gzip is True


def test_given_plain_content_named_gz_when_validated_then_it_is_read_as_plain(
    tmp_path: Path,
) -> None:
    result = validate(tmp_path, GOOD_ORDERS, FileKind.ORDERS, name="orders.csv.gz")

    assert (result.rows_in, result.accepted) == (3, 3)


def test_given_a_truncated_gzip_when_validated_then_the_whole_file_is_rejected(
    tmp_path: Path,
) -> None:
    body = "".join(f"{n},{n},pending,2025-03-30T16:14:26,,,,1\n" for n in range(1, 20_000))
    compressed = gzip.compress((ORDERS_HEADER + "\n" + body).encode())

    result = validate(tmp_path, compressed[: len(compressed) // 2], FileKind.ORDERS)

    assert result.file_error is not None
    assert result.file_error.rule == "truncated_gzip"
    assert result.accepted == 0
    assert result.rejected_share == 1
    assert set(result.rejects_by_rule) <= {"truncated_gzip"}


def test_given_reordered_columns_when_validated_then_values_land_in_their_columns(
    tmp_path: Path,
) -> None:
    content = "num_of_item,created_at,status,user_id,order_id\n4,2025-03-30T16:14:26,PENDING,77,9\n"

    result = validate(tmp_path, content, FileKind.ORDERS)

    assert result.accepted_path is not None
    assert parquet_rows(
        result.accepted_path, "order_id, user_id, status, num_of_item, shipped_at"
    ) == [(9, 77, "pending", 4, None)]


def test_given_an_extra_column_when_validated_then_it_is_dropped_and_reported(
    tmp_path: Path,
) -> None:
    content = GOOD_PRODUCTS.replace(PRODUCTS_HEADER, PRODUCTS_HEADER.replace("sku", "sku,colour"))
    content = content.replace("SKU-500,", "SKU-500,blue,").replace("SKU-501,", "SKU-501,red,")

    result = validate(tmp_path, content, FileKind.PRODUCTS)

    assert result.extra_columns == ("colour",)
    assert report_of(result).extra_columns_ignored == ["colour"]
    assert result.accepted_path is not None
    assert "colour" not in dict(parquet_schema(result.accepted_path))
    assert parquet_rows(result.accepted_path, "sku, distribution_center_id") == [
        ("SKU-500", 7),
        ("SKU-501", 2),
    ]


def test_given_a_missing_required_column_when_validated_then_every_row_is_rejected(
    tmp_path: Path,
) -> None:
    content = GOOD_ORDERS.replace("created_at,", "").replace(",2025-03-30T16:14:26,", ",")

    result = validate(tmp_path, content, FileKind.ORDERS)

    assert result.file_error is not None
    assert result.file_error.rule == "missing_required_column"
    assert "created_at" in result.file_error.message
    assert (result.rows_in, result.accepted, result.rejected) == (3, 0, 3)
    assert result.rejected_share == 1
    assert [row["line"] for row in rejects(result)] == ["2", "3", "4"]


def test_given_an_unknown_header_when_validated_then_the_file_is_rejected(tmp_path: Path) -> None:
    result = validate(tmp_path, "colour,size\nred,L\n", FileKind.ORDERS)

    assert result.file_error is not None
    assert result.file_error.rule == "unknown_header"
    assert (result.rows_in, result.rejected) == (1, 1)


def test_given_a_header_of_another_kind_when_validated_then_the_file_is_rejected(
    tmp_path: Path,
) -> None:
    result = validate(tmp_path, GOOD_PRODUCTS, FileKind.ORDERS)

    assert result.file_error is not None
    assert result.file_error.rule == "unexpected_kind"
    assert result.accepted == 0


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\r\n  \n"])
def test_given_an_empty_file_when_validated_then_it_is_rejected_as_empty(
    tmp_path: Path, content: bytes
) -> None:
    result = validate(tmp_path, content, FileKind.ORDERS)

    assert result.file_error is not None
    assert result.file_error.rule == "empty_file"
    assert (result.rows_in, result.accepted, result.rejected) == (0, 0, 0)
    assert result.rejected_share == 1


def test_given_a_header_only_file_when_validated_then_there_are_no_rows_and_no_error(
    tmp_path: Path,
) -> None:
    result = validate(tmp_path, ORDERS_HEADER + "\n", FileKind.ORDERS)

    assert (result.rows_in, result.file_error) == (0, None)
    assert result.rejected_share == 0


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (bytes(range(256)) * 8, "binary_content"),
        (bytes(range(128, 256)) * 8, "not_utf8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not_utf8"),
        (ORDERS_HEADER.encode() + b"\n1,2\x00,pending\n", "binary_content"),
        (
            ORDERS_HEADER.encode() + b"\n1,10,pending,2025-03-30T16:14:26,,,,1\n2,\xe9t\xe9\n",
            "not_utf8",
        ),
    ],
)
def test_given_bytes_that_are_not_utf8_text_when_validated_then_the_file_is_rejected(
    tmp_path: Path, content: bytes, rule: str
) -> None:
    result = validate(tmp_path, content, FileKind.ORDERS)

    assert result.file_error is not None
    assert result.file_error.rule == rule
    assert result.accepted == 0
    assert result.rejected_share == 1


def test_given_blank_lines_and_a_multiline_field_when_validated_then_lines_are_physical(
    tmp_path: Path,
) -> None:
    content = (
        f"{PRODUCTS_HEADER}\n"
        "\n"
        '500,4.50,Jeans,"Slim\nFit",Levi\'s,12.00,Men,SKU-500,7\n'
        "   \n"
        "501x,1.00,Tops,Basic Tee,Acme,3.50,Women,SKU-501,2\n"
    )

    result = validate(tmp_path, content, FileKind.PRODUCTS)

    assert (result.rows_in, result.accepted, result.rejected) == (2, 1, 1)
    assert result.accepted_path is not None
    assert parquet_rows(result.accepted_path, "name, _source_line") == [("Slim\nFit", 3)]
    reject = only_reject(result)
    assert (reject["line"], reject["rule"]) == ("6", "invalid_integer:id")


def test_given_a_row_with_the_wrong_number_of_fields_when_validated_then_only_it_is_rejected(
    tmp_path: Path,
) -> None:
    content = GOOD_ORDERS + "4,13,pending\n" + "5,14,pending,2025-03-30T16:14:26,,,,1,surplus\n"

    result = validate(tmp_path, content, FileKind.ORDERS)

    assert (result.accepted, result.rejected) == (3, 2)
    assert result.rejects_by_rule == {"wrong_field_count": 2}
    assert [row["raw_line"] for row in rejects(result)] == [
        "4,13,pending",
        "5,14,pending,2025-03-30T16:14:26,,,,1,surplus",
    ]


def test_given_an_unterminated_quote_when_validated_then_the_rest_is_one_rejected_record(
    tmp_path: Path,
) -> None:
    content = GOOD_ORDERS + '4,13,"pending,2025-03-30T16:14:26,,,,1\n5,14,pending\n'

    result = validate(tmp_path, content, FileKind.ORDERS)

    assert (result.rows_in, result.accepted, result.rejected) == (4, 3, 1)
    assert only_reject(result)["line"] == "5"


# --- row rules --------------------------------------------------------------------------


def items_row(**cells: str) -> str:
    row = {
        "id": "100",
        "order_id": "1",
        "user_id": "10",
        "product_id": "500",
        "status": "complete",
        "created_at": "2025-03-30T16:14:26",
        "shipped_at": "",
        "delivered_at": "",
        "returned_at": "",
        "sale_price": "19.99",
    } | cells
    return ",".join(row[name] for name in ITEMS_HEADER.split(","))


@pytest.mark.parametrize(
    ("cells", "rule"),
    [
        ({"order_id": "12a"}, "invalid_integer:order_id"),
        ({"id": "1.0"}, "invalid_integer:id"),
        ({"user_id": "99999999999999999999"}, "invalid_integer:user_id"),
        ({"sale_price": '"1,234.50"'}, "invalid_money:sale_price"),
        ({"sale_price": "1.2.3"}, "invalid_money:sale_price"),
        ({"sale_price": "12.5e"}, "invalid_money:sale_price"),
        ({"sale_price": "99999999999999999"}, "invalid_money:sale_price"),
        ({"sale_price": "NaN"}, "invalid_money:sale_price"),
        ({"created_at": "2025-03-30"}, "date_without_time:created_at"),
        ({"sale_price": "-3.00"}, "negative_money:sale_price"),
        ({"sale_price": ""}, "missing_required:sale_price"),
        ({"created_at": ""}, "missing_required:created_at"),
        ({"created_at": "30/03/2025 16:14"}, "invalid_timestamp:created_at"),
        ({"created_at": "2025-02-30T10:00:00"}, "invalid_timestamp:created_at"),
        ({"status": "lost"}, "unknown_status"),
        ({"status": "  "}, "missing_required:status"),
        ({"shipped_at": "2025-03-29T10:00:00"}, "shipped_before_created"),
        ({"delivered_at": "2025-03-30T16:14:25"}, "delivered_before_created"),
        ({"status": "returned"}, "returned_without_returned_at"),
        (
            {"status": "returned", "returned_at": "2025-03-30T15:00:00"},
            "returned_before_created",
        ),
    ],
)
def test_given_a_row_breaking_a_rule_when_validated_then_it_is_rejected_under_that_rule(
    tmp_path: Path, cells: dict[str, str], rule: str
) -> None:
    bad = items_row(**({"id": "103"} | cells))
    content = GOOD_ITEMS + bad + "\n"

    result = validate(tmp_path, content, FileKind.ORDER_ITEMS)

    assert (result.rows_in, result.accepted, result.rejected) == (4, 3, 1)
    reject = only_reject(result)
    assert reject["rule"] == rule
    assert reject["line"] == "5"
    assert reject["raw_line"] == bad
    assert reject["source_key"] == "landing/upload.csv"
    assert reject["message"]
    assert result.rejects_by_rule == {rule: 1}


def test_given_num_of_item_zero_when_validated_then_the_order_is_rejected(tmp_path: Path) -> None:
    content = f"{ORDERS_HEADER}\n7,10,pending,2025-03-30T16:14:26,,,,0\n"

    result = validate(tmp_path, content, FileKind.ORDERS)

    assert only_reject(result)["rule"] == "num_of_item_below_one"


def test_given_a_row_breaking_several_rules_when_validated_then_it_counts_once_first_rule(
    tmp_path: Path,
) -> None:
    content = f"{ITEMS_HEADER}\n" + items_row(order_id="x", status="lost", sale_price="-1") + "\n"

    result = validate(tmp_path, content, FileKind.ORDER_ITEMS)

    assert (result.rows_in, result.rejected) == (1, 1)
    assert only_reject(result)["rule"] == "invalid_integer:order_id"


def test_given_mixed_case_statuses_when_validated_then_they_are_accepted_lower_case(
    tmp_path: Path,
) -> None:
    content = f"{ITEMS_HEADER}\n" + "\n".join(
        items_row(id=str(n), status=status)
        for n, status in enumerate(["COMPLETE", "Shipped", "pRoCeSsInG", " cancelled "])
    )

    result = validate(tmp_path, content, FileKind.ORDER_ITEMS)

    assert result.accepted_path is not None
    assert [status for (status,) in parquet_rows(result.accepted_path, "status")] == [
        "complete",
        "shipped",
        "processing",
        "cancelled",
    ]


def test_given_both_timestamp_formats_and_zones_when_validated_then_all_mean_utc_instants(
    tmp_path: Path,
) -> None:
    stamps = [
        "2025-03-30T16:14:26",
        "2025-03-30 16:14:26 UTC",
        "2025-03-30T16:14:26Z",
        "2025-03-30 18:14:26+02:00",
        "2025-03-30T11:14:26-05:00",
        "2025-03-30T16:14:26.000",
    ]
    content = f"{ITEMS_HEADER}\n" + "\n".join(
        items_row(id=str(n), created_at=stamp) for n, stamp in enumerate(stamps)
    )

    result = validate(tmp_path, content, FileKind.ORDER_ITEMS)

    assert result.accepted == len(stamps)
    assert result.accepted_path is not None
    assert parquet_rows(result.accepted_path, "DISTINCT epoch(created_at)", order="1") == [
        (1743351266.0,)
    ]


def test_given_blank_descriptive_fields_when_validated_then_the_product_is_accepted(
    tmp_path: Path,
) -> None:
    content = f"{PRODUCTS_HEADER}\n600,,Socks,,,,,,\n601, ,Hats, , , , , , \n"

    result = validate(tmp_path, content, FileKind.PRODUCTS)

    assert (result.accepted, result.rejected) == (2, 0)
    assert result.accepted_path is not None
    assert parquet_rows(
        result.accepted_path, "id, cost, category, name, brand, retail_price, sku"
    ) == [(600, None, "Socks", None, None, None, None), (601, None, "Hats", None, None, None, None)]


def test_given_a_product_without_category_when_validated_then_it_is_rejected(
    tmp_path: Path,
) -> None:
    content = f"{PRODUCTS_HEADER}\n600,1.00,,Sock,Acme,2.00,Men,S1,1\n"

    result = validate(tmp_path, content, FileKind.PRODUCTS)

    assert only_reject(result)["rule"] == "missing_required:category"


def test_given_cents_when_summed_from_the_parquet_then_decimals_are_exact(tmp_path: Path) -> None:
    content = f"{ITEMS_HEADER}\n" + "\n".join(
        [items_row(id="1", sale_price="0.1"), items_row(id="2", sale_price="0.2")]
        + [items_row(id=str(n), sale_price="0.01") for n in range(3, 103)]
    )

    result = validate(tmp_path, content, FileKind.ORDER_ITEMS)

    assert result.accepted_path is not None
    rows = parquet_rows(
        result.accepted_path,
        "sum(sale_price) FILTER (WHERE id <= 2), sum(sale_price), typeof(any_value(sale_price))",
        order="1",
    )
    assert rows == [(Decimal("0.30"), Decimal("1.30"), "DECIMAL(18,2)")]


def test_given_the_same_file_twice_when_validated_then_outputs_are_byte_identical(
    tmp_path: Path,
) -> None:
    content = GOOD_ITEMS + items_row(id="9", status="lost") + "\n"
    first = validate(tmp_path / "one", content, FileKind.ORDER_ITEMS)
    second = validate(tmp_path / "two", content, FileKind.ORDER_ITEMS)

    for mine, theirs in [
        (first.accepted_path, second.accepted_path),
        (first.rejects_path, second.rejects_path),
    ]:
        assert mine is not None
        assert theirs is not None
        assert mine.read_bytes() == theirs.read_bytes()
    assert report_json(report_of(first)) == report_json(report_of(second))


def test_given_a_validated_file_when_done_then_only_the_two_outputs_remain(
    tmp_path: Path,
) -> None:
    result = validate(
        tmp_path, GOOD_ITEMS + items_row(id="9", status="lost") + "\n", FileKind.ORDER_ITEMS
    )

    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "upload.parquet",
        "upload.rejected.csv",
    ]
    report = report_of(result)
    assert report.rows_in == report.accepted + report.rejected == 4
    assert report.rejects_by_rule == {"unknown_status": 1}


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("raw/batch=b1/orders/3-orders.csv", "3-orders"),
        ("7-items.CSV.GZ", "7-items"),
        ("products", "products"),
    ],
)
def test_given_a_staged_name_when_stemmed_then_csv_and_gz_extensions_go(
    name: str, stem: str
) -> None:
    assert stem_of(name) == stem


# --- within-file repeats ----------------------------------------------------------------


def test_given_many_duplicates_when_validated_then_all_count_and_the_report_lists_a_bounded_few(
    tmp_path: Path,
) -> None:
    row = "1,10,pending,2025-03-30T16:14:26,,,,1\n"
    content = f"{ORDERS_HEADER}\n" + row * 1_202 + "2,10,pending,2025-03-30T16:14:26,,,,1\n"

    result = validate(tmp_path, content, FileKind.ORDERS)

    assert (result.rows_in, result.accepted, result.duplicates, result.rejected) == (
        1_203,
        2,
        1_201,
        0,
    )
    report = report_of(result).model_dump(mode="json")
    assert report["listed_rows_limit"] == 1_000
    assert len(report["duplicate_rows"]) == 1_000
    assert report["duplicate_rows"][0] == {"line": 3, "key": 1, "of_line": 2}
    assert report["accounting"] == "rows_in == accepted + rejected + duplicates + pending"


def test_given_a_stray_carriage_return_when_validated_then_only_that_row_is_rejected(
    tmp_path: Path,
) -> None:
    content = GOOD_ORDERS + "4,13,pend\ring,2025-03-30T16:14:26,,,,1\n"

    result = validate(tmp_path, content, FileKind.ORDERS)

    assert (result.rows_in, result.accepted, result.rejected) == (4, 3, 1)
    reject = only_reject(result)
    assert (reject["line"], reject["rule"]) == ("5", "stray_carriage_return")
    assert reject["raw_line"] == "4,13,pend\ring,2025-03-30T16:14:26,,,,1"


def test_given_the_csv_reader_gives_up_when_validated_then_the_file_fails_as_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb
    from shopflow_validator.domain import validate as validate_module

    def give_up(*_: object) -> None:
        raise duckdb.InvalidInputException("Invalid Input Error: state machine\nmore")

    monkeypatch.setattr(validate_module, "_check_rows", give_up)

    result = validate(tmp_path, GOOD_ORDERS, FileKind.ORDERS)

    assert result.file_error is not None
    assert result.file_error.rule == "unreadable_csv"
    assert "state machine" in result.file_error.message
    assert (result.rows_in, result.accepted, result.rejected) == (3, 0, 3)


def test_given_a_file_with_a_correction_when_written_then_its_parquet_says_how_many_keys_repeat(
    tmp_path: Path,
) -> None:
    corrected = GOOD_ORDERS + "1,10,complete,2025-03-30T16:14:26,,,,2\n"

    plain = validate(tmp_path / "plain", GOOD_ORDERS, FileKind.ORDERS)
    repeated = validate(tmp_path / "repeated", corrected, FileKind.ORDERS)

    assert (plain.corrections, repeated.corrections) == (0, 1)
    for result, repeats in ((plain, b"0"), (repeated, b"1")):
        assert result.accepted_path is not None
        metadata = duckdb.sql(
            f"SELECT value FROM parquet_kv_metadata('{result.accepted_path}') "
            "WHERE key = 'shopflow.key_repeats'"
        ).fetchall()
        assert metadata == [(repeats,)]
