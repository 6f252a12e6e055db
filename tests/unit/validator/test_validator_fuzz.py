"""Generated garbage never crashes validate_file: every row is still counted exactly once.

Three sources of garbage: arbitrary bytes; arbitrary text full of commas, quotes and line
breaks under a valid header; and valid rows with random cells replaced by nasty values.
Whatever comes in, ``validate_file`` returns a result satisfying the accounting invariant
and writes a report (``validate`` checks both, and that the outputs agree with the counts).
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shopflow_contracts.rows import FileKind
from validator_support import ITEMS_HEADER, ORDERS_HEADER, PRODUCTS_HEADER, validate

# 210 examples in all: enough to have found the stray-CR crash, a few seconds to run.
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = st.sampled_from(list(FileKind))
HEADERS = {
    FileKind.ORDERS: ORDERS_HEADER,
    FileKind.ORDER_ITEMS: ITEMS_HEADER,
    FileKind.PRODUCTS: PRODUCTS_HEADER,
}
GOOD_CELLS = {
    FileKind.ORDERS: [
        "7",
        "10",
        "shipped",
        "2025-03-30T16:14:26",
        "",
        "2025-03-31T10:00:00",
        "",
        "2",
    ],
    FileKind.ORDER_ITEMS: [
        "100",
        "7",
        "10",
        "500",
        "returned",
        "2025-03-30 16:14:26",
        "",
        "",
        "2025-04-01T08:00:00Z",
        "19.99",
    ],
    FileKind.PRODUCTS: ["500", "4.50", "Jeans", "Slim", "Acme", "12.00", "Men", "SKU-500", "7"],
}
CSV_TEXT = st.text(
    alphabet=st.sampled_from(list(',"\n\r \t0123456789-:.TZabcUTC\ufeff\u00e9')), max_size=400
)
NASTY_CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            '"',
            '""',
            '"a,b"',
            '"x\ny"',
            ",",
            "-1",
            "1.005",
            "1,234.50",
            "99999999999999999999",
            "2025-02-30T10:00:00",
            "2025-03-30T16:14:26+14:00",
            "2025-03-30 16:14:26 UTC",
            "1e3",
            "NaN",
            "null",
            "RETURNED",
            "\u00e9",
            "0",
        ]
    ),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12),
)


def run(content: bytes, kind: FileKind) -> None:
    with tempfile.TemporaryDirectory() as work:
        result = validate(Path(work), content, kind)
    # The safety net for inputs DuckDB's reader chokes on must never be what saved the day.
    assert result.file_error is None or result.file_error.rule != "unreadable_csv"


@settings(FUZZ, max_examples=90)
@given(content=st.binary(max_size=600), kind=KINDS, compress=st.booleans())
def test_given_arbitrary_bytes_when_validated_then_every_row_is_accounted_for(
    content: bytes, kind: FileKind, compress: bool
) -> None:
    run(gzip.compress(content, mtime=0) if compress else content, kind)


@FUZZ
@given(body=CSV_TEXT, kind=KINDS, crlf=st.booleans())
def test_given_arbitrary_csv_text_under_a_valid_header_when_validated_then_it_is_accounted_for(
    body: str, kind: FileKind, crlf: bool
) -> None:
    content = HEADERS[kind] + "\n" + body
    run((content.replace("\n", "\r\n") if crlf else content).encode("utf-8"), kind)


@st.composite
def mutated_rows(draw: st.DrawFn) -> tuple[FileKind, str]:
    kind = draw(KINDS)
    good = GOOD_CELLS[kind]
    rows: list[str] = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        cells = list(good)
        for index in draw(st.lists(st.integers(0, len(good) - 1), max_size=3)):
            cells[index] = draw(NASTY_CELLS)
        if draw(st.booleans()):
            # Repeat an earlier row: duplicates and corrections must stay countable too.
            rows.append(draw(st.sampled_from(rows)) if rows else ",".join(cells))
        rows.append(",".join(cells))
    return kind, HEADERS[kind] + "\n" + "\n".join(rows) + "\n"


@FUZZ
@given(case=mutated_rows())
def test_given_valid_rows_with_mutated_cells_when_validated_then_they_are_accounted_for(
    case: tuple[FileKind, str],
) -> None:
    kind, content = case
    run(content.encode("utf-8"), kind)
