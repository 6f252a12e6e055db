"""Split a staged CSV into numbered records, in one streamed pass, before DuckDB reads it.

DuckDB's ``read_csv`` reports no line numbers, yet every curated row must say which line of
the file it came from and every rejected row must quote its raw text. So this pass, and
only this pass, looks at the raw bytes:

- decompresses gzip (recognised by its magic bytes, never by the file name) and notices a
  truncated or corrupt stream;
- checks the bytes are UTF-8 (a BOM is dropped) and not binary;
- follows CSV quoting to find where each record ends, so a quoted field spanning lines
  stays one record; blank lines outside quotes are skipped (they are not rows);
- writes each data record as ``<line>,<raw record>`` to ``records.csv`` (DuckDB reads the
  line as one more leading column) and ``<line>,<offset>,<length>,<stray>`` to
  ``index.csv``, from which a rejected record's exact raw text is read back; a run of
  plain lines (one record each: no quote, no stray CR, not blank, the bulk of any real
  export) gets a single ``<first line>,<records>,<offset>,<length>`` entry in ``runs.csv``
  instead, its records' text found again by their line prefix (``iter_index`` expands
  both into one entry per record);
- sets aside a record with a carriage return outside quoted fields (``stray`` = 1): its
  raw text goes to ``stray.bin`` instead of ``records.csv``, because DuckDB's reader
  cannot parse such a record (it stops with "invalid state" rather than rejecting the
  row), and the record is rejected under ``stray_carriage_return``. A header with one
  (lines ending in CR alone, say) is a file-level error.

``line`` is the 1-based physical line in the (decompressed) file on which the record
starts; the header is line 1 unless blank lines precede it. CR LF and LF both end a line.

Quoting follows DuckDB's strict reader: a quote opens a quoted field only as the first
character of a field; a quote inside an unquoted field is an ordinary character; ``""``
inside a quoted field is an escaped quote.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from shopflow_contracts.rows import GZIP_MAGIC

from shopflow_validator.domain.model import FileError

UTF8_BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 1 << 20
# Where a record's raw text is: the records file, the stray file, or a run of plain lines
# of the records file (``offset``/``length`` then span the run, see ``run_record``).
IN_RECORDS, IN_STRAY, IN_RUN = 0, 1, 2
# A chunk takes the fast path while at most one line in this many needs the general one.
MOSTLY_PLAIN = 8


@dataclass(frozen=True)
class SplitFile:
    """The outcome of the pass: where the records are and what the header said.

    On a file-level ``error`` the records are the ones completely read before the problem
    was found (all of them when the bytes were fine but, say, the header was not).
    """

    records_path: Path
    index_path: Path
    runs_path: Path
    stray_path: Path
    header: list[str] | None
    header_line: int | None
    rows_in: int
    gzip: bool
    error: FileError | None


def ends_inside_quotes(line: bytes, inside: bool) -> bool:
    """Whether a quoted field is still open at the end of ``line``, given its state at the start."""
    position = 0
    end = len(line)
    while position <= end:
        if inside:
            quote = line.find(b'"', position)
            if quote < 0:
                return True
            if line[quote + 1 : quote + 2] == b'"':
                position = quote + 2
                continue
            inside = False
            # Anything between a closing quote and the next delimiter is part of that field.
            delimiter = line.find(b",", quote + 1)
            if delimiter < 0:
                return False
            position = delimiter + 1
        elif line[position : position + 1] == b'"':
            inside = True
            position += 1
        else:
            delimiter = line.find(b",", position)
            if delimiter < 0:
                return False
            position = delimiter + 1
    return inside


def has_stray_cr(record: bytes) -> bool:
    """Whether ``record`` (without its terminator) has a CR outside its quoted fields."""
    if b"\r" not in record:
        return False
    if b'"' not in record:
        return True
    position = 0
    end = len(record)
    while position < end:
        start = position
        if record[position : position + 1] == b'"':
            search = position + 1
            while True:
                quote = record.find(b'"', search)
                if quote < 0:
                    # An unclosed quote runs to the end: the rest is inside it.
                    return False
                if record[quote + 1 : quote + 2] == b'"':
                    search = quote + 2
                    continue
                break
            start = quote + 1
        delimiter = record.find(b",", start)
        if b"\r" in record[start : end if delimiter < 0 else delimiter]:
            return True
        if delimiter < 0:
            return False
        position = delimiter + 1
    return False


def _crlf_line_ends(block: bytes, lines: int) -> bool | None:
    """Whether every line of ``block`` ends in CR LF (True) or LF (False); None if mixed.

    None also when a CR sits elsewhere than at a line end: the general path deals with it.
    """
    carriage_returns = block.count(b"\r")
    if carriage_returns == 0:
        return False
    if carriage_returns == lines and block.endswith(b"\r") and block.count(b"\r\n") == lines - 1:
        return True
    return None


def _special_lines(block: bytes, lines: list[bytes], *, crlf: bool) -> list[int] | None:
    """Indices of the lines of ``block`` the general path must read, ascending.

    Special: a line with a quote (it may open a field spanning lines), with a CR that does
    not end it, or that is blank. None when so many are special that the fast path would
    not pay. Every scan here runs in C: memchr for the bytes, a map for blank lines.
    """
    positions: list[int] = []
    for needle in (b'"',) if crlf else (b'"', b"\r"):
        at = block.find(needle)
        while at >= 0:
            positions.append(at)
            if len(positions) > len(lines) // MOSTLY_PLAIN:
                return None
            at = block.find(needle, at + 1)
    special: set[int] = set()
    line = 0
    scanned = 0
    for at in sorted(positions):
        line += block.count(b"\n", scanned, at)
        scanned = at
        special.add(line)
    if b"" in lines or any(map(bytes.isspace, lines)):
        special.update(index for index, text in enumerate(lines) if not text.strip())
    return sorted(special)


class _Splitter:
    def __init__(self, records: BinaryIO, index: BinaryIO, runs: BinaryIO, stray: BinaryIO) -> None:
        self._records = records
        self._index = index
        self._runs = runs
        self._stray = stray
        self._stray_offset = 0
        self._carry = b""
        self._pieces: list[bytes] = []
        self._inside = False
        self._next_line = 1
        self._record_line = 0
        self._offset = 0
        self.header: bytes | None = None
        self.header_line: int | None = None
        self.rows = 0
        self.stray_rows = 0

    def feed(self, data: bytes) -> None:
        lines = data.split(b"\n")
        lines[0] = self._carry + lines[0]
        self._carry = lines.pop()
        if not lines:
            return
        if self.header is None:
            self._take(lines)
            return
        block = b"\n".join(lines)
        crlf = _crlf_line_ends(block, len(lines))
        special = None if crlf is None else _special_lines(block, lines, crlf=crlf)
        if crlf is None or special is None:
            self._take(lines)
            return
        # Runs of plain lines between the special ones go the fast way: one record per
        # line, numbered in bulk. A special line, and every line while a quoted field it
        # opened is still open, goes through the general path.
        start = 0
        for stop in [*special, len(lines)]:
            while start < stop and self._inside:
                self._take(lines[start : start + 1])
                start += 1
            if start < stop:
                run = lines[start:stop]
                self._take_plain([line[:-1] for line in run] if crlf else run)
            if stop < len(lines):
                self._take(lines[stop : stop + 1])
            start = stop + 1

    def _take_plain(self, records: list[bytes]) -> None:
        """``_take`` for plain lines (see ``_special_lines``), their line ends removed."""
        first = self._next_line
        numbers = range(first, first + len(records))
        block = b"".join([b"%d,%b\n" % pair for pair in zip(numbers, records, strict=True)])
        self._records.write(block)
        self._runs.write(b"%d,%d,%d,%d\n" % (first, len(records), self._offset, len(block)))
        self._offset += len(block)
        self._next_line = first + len(records)
        self._record_line = self._next_line - 1
        self.rows += len(records)

    def finish(self) -> None:
        """End of input: the last line may lack a terminator, a quoted field may be unclosed."""
        if self._carry:
            self._take([self._carry])
            self._carry = b""
        if self._pieces:
            # An unterminated quote swallows the rest of the file, as in any CSV reader;
            # it stays one record, which DuckDB rejects.
            self._emit(b"\n".join(self._pieces))
            self._pieces = []

    def abandon_partial(self) -> None:
        """The input broke off: a half-read line or record is not a row that could be read."""
        self._carry = b""
        self._pieces = []
        self._inside = False

    def _take(self, lines: list[bytes]) -> None:
        # The hot loop of the whole validator: kept flat, the common line (no quotes,
        # not inside a quoted field) costs one membership test and one emit.
        for line in lines:
            number = self._next_line
            self._next_line += 1
            if self._inside:
                self._pieces.append(line)
                self._inside = ends_inside_quotes(line, True)
                if not self._inside:
                    self._emit(b"\n".join(self._pieces))
                    self._pieces = []
                continue
            if not line.strip():
                continue
            self._record_line = number
            if b'"' in line and ends_inside_quotes(line, False):
                self._inside = True
                self._pieces = [line]
                continue
            self._emit(line)

    def _emit(self, record: bytes) -> None:
        if record.endswith(b"\r"):
            record = record[:-1]
        if self.header is None:
            self.header = record
            self.header_line = self._record_line
            return
        self.rows += 1
        if b"\r" in record and has_stray_cr(record):
            self._stray.write(record)
            self._index.write(
                b"%d,%d,%d,%d\n" % (self._record_line, self._stray_offset, len(record), IN_STRAY)
            )
            self._stray_offset += len(record)
            self.stray_rows += 1
            return
        prefix = b"%d," % self._record_line
        raw_offset = self._offset + len(prefix)
        self._records.write(prefix + record + b"\n")
        self._index.write(
            b"%d,%d,%d,%d\n" % (self._record_line, raw_offset, len(record), IN_RECORDS)
        )
        self._offset = raw_offset + len(record) + 1


def _first_problem(
    chunk: bytes, decoder: codecs.IncrementalDecoder
) -> tuple[int, FileError] | None:
    """Offset in ``chunk`` of the first byte that is not UTF-8 text, and why."""
    nul = chunk.find(b"\x00")
    pending = len(decoder.getstate()[0])
    try:
        decoder.decode(chunk if nul < 0 else chunk[:nul])
    except UnicodeDecodeError as problem:
        offset = max(0, problem.start - pending)
        return offset, FileError(
            "not_utf8", f"the file is not UTF-8 text: {problem.reason} at byte {offset} of a chunk"
        )
    if nul >= 0:
        return nul, FileError("binary_content", "the file contains NUL bytes: it is not CSV text")
    return None


def parse_header(raw: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")), [])


def open_decompressed(source: Path, is_gzip: bool) -> io.BufferedIOBase:
    return gzip.GzipFile(source, "rb") if is_gzip else source.open("rb")


def is_gzip_file(source: Path) -> bool:
    """Gzip is recognised by its magic bytes, never by the file name."""
    with source.open("rb") as probe:
        return probe.read(len(GZIP_MAGIC)) == GZIP_MAGIC


def split_records(source: Path, work_dir: Path) -> SplitFile:
    """Stream ``source`` once into ``work_dir``: records.csv, index.csv, runs.csv, stray.bin.

    See the module docstring.
    """
    records_path = work_dir / "records.csv"
    index_path = work_dir / "index.csv"
    runs_path = work_dir / "runs.csv"
    stray_path = work_dir / "stray.bin"
    is_gzip = is_gzip_file(source)
    decoder = codecs.getincrementaldecoder("utf-8")()
    error: FileError | None = None
    content_bytes = 0
    first_chunk = True
    with (
        records_path.open("wb") as records,
        index_path.open("wb") as index,
        runs_path.open("wb") as runs,
        stray_path.open("wb") as stray,
    ):
        splitter = _Splitter(records, index, runs, stray)
        try:
            with open_decompressed(source, is_gzip) as stream:
                while True:
                    chunk = stream.read(CHUNK_BYTES)
                    if first_chunk and chunk.startswith(UTF8_BOM):
                        chunk = chunk[len(UTF8_BOM) :]
                    first_chunk = False
                    if not chunk:
                        break
                    content_bytes += len(chunk)
                    problem = _first_problem(chunk, decoder)
                    if problem is not None:
                        offset, error = problem
                        splitter.feed(chunk[:offset])
                        splitter.abandon_partial()
                        break
                    splitter.feed(chunk)
            if error is None:
                decoder.decode(b"", final=True)
                splitter.finish()
        except UnicodeDecodeError as problem:
            splitter.abandon_partial()
            error = FileError(
                "not_utf8", f"the file is not UTF-8 text: {problem.reason} at its end"
            )
        except EOFError:
            splitter.abandon_partial()
            error = FileError(
                "truncated_gzip",
                "the gzip stream ends before its end marker: the file is cut short",
            )
        except (gzip.BadGzipFile, zlib.error) as problem:
            splitter.abandon_partial()
            error = FileError("corrupt_gzip", f"the gzip stream is corrupt: {problem}")

    header = None if splitter.header is None else parse_header(splitter.header)
    if error is None and splitter.header is not None and has_stray_cr(splitter.header):
        error = FileError(
            "stray_carriage_return",
            "the header holds a carriage return outside quotes (lines ending in CR alone are "
            "not supported: end lines with LF or CR LF)",
        )
    if error is None and header is None:
        error = (
            FileError("empty_file", "the file is empty")
            if content_bytes == 0
            else FileError("empty_file", "the file holds only blank lines")
        )
    return SplitFile(
        records_path=records_path,
        index_path=index_path,
        runs_path=runs_path,
        stray_path=stray_path,
        header=header,
        header_line=splitter.header_line,
        rows_in=splitter.rows,
        gzip=is_gzip,
        error=error,
    )


def run_record(block: bytes, line: int, after: int = 0) -> tuple[int, int]:
    """Offset and length, within a run's ``block``, of the raw text of its record ``line``.

    Every line of a run is ``<line>,<raw record>``, so the record is found by its prefix,
    searching from ``after``: where an earlier record of the block ended (offset + length).
    Callers ask for records by line and pass that on, so reading any number of a run's
    records costs one pass over it, not one from its start per record.
    """
    prefix = b"%d," % line
    if after == 0 and block.startswith(prefix):
        start = 0
    else:
        found = block.find(b"\n" + prefix, after)
        if found < 0:
            raise ValueError(f"line {line} is not in the run")
        start = found + 1
    text = start + len(prefix)
    return text, block.index(b"\n", text) - text


def iter_index(split: SplitFile) -> Iterator[tuple[int, int, int, bool]]:
    """Every record as ``(line, offset, length, stray)``, by line: index and runs merged.

    ``offset``/``length`` locate the raw text in the records file (or the stray file when
    ``stray``), as ``index.csv`` alone would if every record had its own entry.
    """
    with (
        split.index_path.open("rb") as index,
        split.runs_path.open("rb") as runs,
        split.records_path.open("rb") as records,
    ):
        singles = (tuple(int(number) for number in entry.split(b",")) for entry in index)
        pending = next(singles, None)
        for entry in runs:
            first, count, offset, length = (int(number) for number in entry.split(b","))
            while pending is not None and pending[0] < first:
                yield pending[0], pending[1], pending[2], pending[3] == IN_STRAY
                pending = next(singles, None)
            records.seek(offset)
            block = records.read(length)
            after = 0
            for line in range(first, first + count):
                start, size = run_record(block, line, after)
                after = start + size
                yield line, offset + start, size, False
        while pending is not None:
            yield pending[0], pending[1], pending[2], pending[3] == IN_STRAY
            pending = next(singles, None)
