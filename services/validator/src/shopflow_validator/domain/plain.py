"""The direct read: a file whose every line is one record goes to DuckDB as it is.

The byte pass (``records``) exists to number records, because DuckDB's ``read_csv`` reports
no line numbers. But most real exports (BigQuery, PostgreSQL ``COPY``, pandas) hold one
record per line: no quoted field spans lines, no blank line, no stray CR. For such a file
the record read ``n``-th is on line ``n + 1``, and DuckDB, keeping insertion order, stores it
as row ``n - 1`` of the table it creates. So the numbering pass, and the copy of the file it
writes, can be skipped (measured, issue 15: the pass was a fifth of the validator's time).

``scan_plain`` decides, in one streamed pass of C-speed byte searches (no per-line Python
work but for the rare line with a quote), whether a file qualifies, and counts its lines.
DuckDB then confirms it (every line read as a row, nothing rejected by the reader; see
``validate``); when either says no, the file takes the general path. Both paths apply the
same rules to the same cells, and the parity tests hold them to the same outputs.

``RawLines`` reads the raw text of the few rejected lines back, by line number.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from shopflow_validator.domain.records import (
    UTF8_BOM,
    ends_inside_quotes,
    is_gzip_file,
    open_decompressed,
    parse_header,
)

SCAN_CHUNK_BYTES = 1 << 22
# Where a record's raw text is, beside the byte pass's IN_RECORDS, IN_STRAY and IN_RUN: the
# file's own line of that number.
IN_FILE = 3
# Above one line with a quote in this many the file takes the general path: a file that
# quotes every field is better served by it than by a Python check of each line.
QUOTED_LINES_AT_MOST_ONE_IN = 8


@dataclass(frozen=True)
class PlainFile:
    """A file ``scan_plain`` found to hold one record per line, the header on line 1."""

    path: Path
    header: list[str]
    rows_in: int
    gzip: bool
    crlf: bool
    header_line: int = 1


class _NotPlainError(Exception):
    """A line the direct read cannot take: the file goes the general way."""


def _check_lines(block: bytes, *, crlf: bool) -> int:
    """The number of lines of ``block`` (complete lines, each ending in LF) if they are plain.

    Plain: LF ends each line (CR LF each, in a CR LF file), no other CR, and a quote only in
    a line that closes every field it opens.
    """
    lines = block.count(b"\n")
    if crlf:
        if block.count(b"\r") != lines or block.count(b"\r\n") != lines:
            raise _NotPlainError
    elif b"\r" in block:
        raise _NotPlainError
    if b'"' in block:
        quoted_lines = 0
        at = block.find(b'"')
        while at >= 0:
            start = block.rfind(b"\n", 0, at) + 1
            end = block.index(b"\n", at)
            if ends_inside_quotes(block[start:end], False):
                raise _NotPlainError
            quoted_lines += 1
            if quoted_lines * QUOTED_LINES_AT_MOST_ONE_IN > lines:
                raise _NotPlainError
            at = block.find(b'"', end)
    return lines


def scan_plain(source: Path) -> PlainFile | None:
    """``source`` as a ``PlainFile`` when it qualifies for the direct read, else None.

    None too for anything the general path reports on (a BOM, blank lines before the
    header, no data line, bytes that are not UTF-8, NUL bytes, a broken gzip stream):
    the general path is the one that says what is wrong, and where.
    """
    is_gzip = is_gzip_file(source)
    decoder = codecs.getincrementaldecoder("utf-8")()
    header: bytes | None = None
    crlf = False
    lines = 0
    carry = b""
    try:
        with open_decompressed(source, is_gzip) as stream:
            while chunk := stream.read(SCAN_CHUNK_BYTES):
                if b"\x00" in chunk:
                    return None
                if not chunk.isascii():
                    decoder.decode(chunk)
                block = carry + chunk
                last_line_end = block.rfind(b"\n")
                if last_line_end < 0:
                    carry = block
                    continue
                carry = block[last_line_end + 1 :]
                block = block[: last_line_end + 1]
                if header is None:
                    header_end = block.index(b"\n")
                    header = block[:header_end]
                    if header.startswith(UTF8_BOM) or not header.strip():
                        return None
                    crlf = header.endswith(b"\r")
                    header = header[:-1] if crlf else header
                    if b"\r" in header or ends_inside_quotes(header, False):
                        return None
                    lines += 1
                    block = block[header_end + 1 :]
                lines += _check_lines(block, crlf=crlf)
            decoder.decode(b"", final=True)
    except (_NotPlainError, UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error, OSError):
        return None
    if header is None:
        return None
    if carry:
        # A last line without its line end: plain on its own terms (it has no CR at all).
        if b"\r" in carry:
            return None
        try:
            lines += _check_lines(carry + b"\n", crlf=False)
        except _NotPlainError:
            return None
    if lines < 2:
        return None
    return PlainFile(
        path=source,
        header=parse_header(header),
        rows_in=lines - 1,
        gzip=is_gzip,
        crlf=crlf,
    )


class RawLines:
    """The raw text of lines of a plain file, asked for by ascending line number.

    Streams the file once whatever is asked: a chunk holding no asked-for line is only
    counted, and one that does is split into lines once.
    """

    def __init__(self, plain: PlainFile) -> None:
        self._plain = plain
        self._stream: io.BufferedIOBase | None = None
        self._lines: list[bytes] = []
        self._first = 1  # the line number of self._lines[0]
        self._carry = b""
        self._done = False

    def __enter__(self) -> RawLines:
        self._stream = open_decompressed(self._plain.path, self._plain.gzip)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        problem: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            self._stream.close()

    def text(self, line: int) -> str:
        while line >= self._first + len(self._lines):
            self._advance(line)
        raw = self._lines[line - self._first]
        if self._plain.crlf and raw.endswith(b"\r"):
            raw = raw[:-1]
        return raw.decode("utf-8")

    def _advance(self, wanted: int) -> None:
        if self._stream is None:
            raise RuntimeError("RawLines is used outside its with block")
        if self._done:
            raise ValueError(f"line {wanted} is past the end of {self._plain.path.name}")
        self._first += len(self._lines)
        chunk = self._stream.read(SCAN_CHUNK_BYTES)
        if not chunk:
            self._done = True
            self._lines, self._carry = ([self._carry] if self._carry else []), b""
            return
        block = self._carry + chunk
        complete = block.count(b"\n")
        if wanted >= self._first + complete:
            # Nothing asked for here: count the lines, keep the unfinished one.
            self._lines = []
            self._first += complete
            self._carry = block[block.rfind(b"\n") + 1 :] if complete else block
            return
        self._lines = block.split(b"\n")
        self._carry = self._lines.pop()
