"""The byte pass that numbers records: quoting, blank lines, line ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shopflow_contracts.rows import FileKind
from shopflow_validator.domain import records
from shopflow_validator.domain.records import (
    ends_inside_quotes,
    has_stray_cr,
    iter_index,
    run_record,
    split_records,
)
from shopflow_validator.domain.schema import ColumnType, column_specs


@pytest.mark.parametrize(
    ("line", "inside", "expected"),
    [
        (b"a,b,c", False, False),
        (b'a,"b,c",d', False, False),
        (b'a,"b', False, True),
        (b'a,"b ""quoted"" c', False, True),
        (b'a,"b ""quoted"" c",d', False, False),
        (b'5" screen,b', False, False),
        (b'end of field",c', True, False),
        (b'still "" inside', True, True),
        (b'"', False, True),
        (b'""', False, False),
    ],
)
def test_given_a_line_when_scanned_then_an_open_quoted_field_is_found(
    line: bytes, inside: bool, expected: bool
) -> None:
    assert ends_inside_quotes(line, inside) is expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (b"a,b,c", False),
        (b"a\rb,c", True),
        (b"\r0", True),
        (b"a,b\r", True),
        (b'a,"b\rc",d', False),
        (b'a,"b\r\nc"', False),
        (b'a,"b""\r""c"', False),
        (b'a,"b"\r,c', True),
        (b'a,"b",c\r', True),
        (b'a,"open\r', False),
        (b'x"\r,y', True),
    ],
)
def test_given_a_record_when_scanned_then_a_cr_outside_quotes_is_found(
    record: bytes, expected: bool
) -> None:
    assert has_stray_cr(record) is expected


def test_given_a_record_with_a_stray_cr_when_split_then_its_text_is_set_aside(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b'a,b\n1,x\ry\n2,"p\rq"\n3,z\r\n')

    split = split_records(source, tmp_path)

    assert (split.error, split.rows_in) == (None, 3)
    assert split.records_path.read_bytes() == b'3,2,"p\rq"\n4,3,z\n'
    assert split.stray_path.read_bytes() == b"1,x\ry"
    assert split.index_path.read_bytes() == b"2,0,5,1\n3,2,7,0\n4,12,3,0\n"


def test_given_a_header_ending_in_a_bare_cr_when_split_then_it_is_a_file_error(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,b\r1,2\r3,4\r")

    split = split_records(source, tmp_path)

    assert split.error is not None
    assert split.error.rule == "stray_carriage_return"


def test_given_blank_lines_and_a_multiline_record_when_split_then_lines_are_physical(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b'\r\na,b\r\n1,"x\r\ny"\r\n\r\n2,z\r\n3,w')

    split = split_records(source, tmp_path)

    assert split.error is None
    assert (split.header, split.header_line, split.rows_in) == (["a", "b"], 2, 3)
    assert split.records_path.read_bytes() == b'3,1,"x\r\ny"\n6,2,z\n7,3,w\n'
    index = [
        tuple(int(n) for n in entry.split(",")) for entry in split.index_path.read_text().split()
    ]
    records = split.records_path.read_bytes()
    assert [stray for *_, stray in index] == [0, 0, 0]
    assert [records[offset : offset + length] for _, offset, length, _ in index] == [
        b'1,"x\r\ny"',
        b"2,z",
        b"3,w",
    ]


def test_given_the_row_models_when_deriving_checks_then_types_follow_the_contracts() -> None:
    items = {spec.name: spec for spec in column_specs(FileKind.ORDER_ITEMS)}
    products = {spec.name: spec for spec in column_specs(FileKind.PRODUCTS)}

    assert items["sale_price"].type is ColumnType.MONEY
    assert items["sale_price"].required
    assert items["created_at"].type is ColumnType.TIMESTAMP
    assert items["status"].type is ColumnType.VOCABULARY
    assert "returned" in items["status"].vocabulary
    assert products["cost"].type is ColumnType.MONEY
    assert not products["cost"].required
    assert products["distribution_center_id"].type is ColumnType.INTEGER
    assert not products["name"].required


_csv_bytes = st.lists(
    st.sampled_from(
        [b"a", b"1,", b",", b"a,b\n", b'"', b"\r", b"\r\n", b"\n", b" ", b"\t", b"\xc3\xa9"]
    ),
    max_size=120,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(body=_csv_bytes, chunk=st.integers(1, 48), crlf=st.booleans())
def test_given_any_bytes_when_split_in_chunks_then_the_fast_path_changes_nothing(
    tmp_path_factory: pytest.TempPathFactory, body: bytes, chunk: int, crlf: bool
) -> None:
    # Given a header and arbitrary bytes, read in small chunks
    source = tmp_path_factory.mktemp("split") / "in.csv"
    source.write_bytes((b"a,b\r\n" if crlf else b"a,b\n") + body)

    def split_into(name: str) -> tuple[object, ...]:
        out = source.parent / name
        out.mkdir()
        split = split_records(source, out)
        records_text = (out / "records.csv").read_bytes()
        stray_text = (out / "stray.bin").read_bytes()
        return (
            split.rows_in,
            split.header,
            split.error,
            [
                (line, (stray_text if stray else records_text)[offset : offset + length], stray)
                for line, offset, length, stray in iter_index(split)
            ],
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(records, "CHUNK_BYTES", chunk)
        # (a chunk goes the fast way however many of its lines are special)
        patch.setattr(records, "MOSTLY_PLAIN", 1)
        # When it is split with the fast path, and with every line taken the general way
        fast = split_into("fast")
        patch.setattr(records, "_special_lines", lambda *args, **kwargs: None)
        general = split_into("general")
    # Then both find the same records on the same lines, with the same raw text
    assert fast == general


def test_given_a_run_when_read_on_from_where_each_record_ended_then_every_one_is_found() -> None:
    # Given a run of numbered lines whose text repeats other lines' prefixes
    block = b"7,a,8,\n8,8,b\n9,\n10,7,c\n"
    # When each record is looked up from where the one before it ended
    found, after = [], 0
    for line in (7, 8, 9, 10):
        start, size = run_record(block, line, after)
        after = start + size
        found.append(block[start : start + size])
    # Then each is the whole text of its own line, as a search from the start finds it
    assert found == [b"a,8,", b"8,b", b"", b"7,c"]
    assert found == [
        block[start : start + size]
        for start, size in (run_record(block, line) for line in (7, 8, 9, 10))
    ]
    # And a line that is not in the run is an error, not some other line's text
    with pytest.raises(ValueError, match="line 11"):
        run_record(block, 11, after)
