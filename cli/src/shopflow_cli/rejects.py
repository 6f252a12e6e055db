"""The rejected rows of an uploaded file, written back as a file to fix and upload again.

``shopflow rejects FILE`` writes two files from the latest validation report of FILE:

- the rows file: the original header line, then the exact raw text of every rejected row
  (as the validator kept it in ``rejects/``), with the original line ending. Fixed in an
  editor and uploaded, it is an upload like any other: its rows are validated and, for a key
  seen before, the later upload wins;
- the reasons file: ``line,rule,message`` per rejected row, in the same order (``line`` is
  the row's line in the original file).

The header comes from the staged copy of the upload (byte-exact, in ``raw/``), so its
spelling and quoting are the original's; only a report without a staged copy falls back to
its header cells written as CSV.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from shopflow_contracts.report import ValidationReport
from shopflow_contracts.rows import GZIP_MAGIC

from shopflow_cli import report
from shopflow_cli.report import ReportNotFoundError

REASONS_COLUMNS = ("line", "rule", "message")
BOM = "\ufeff"


@dataclass(frozen=True)
class LatestReport:
    key: str
    body: ValidationReport


@dataclass(frozen=True)
class WrittenRejects:
    """What ``write_rejects`` wrote, for the command to say."""

    source_key: str
    batch_id: str
    rows: int
    rows_path: Path | None
    reasons_path: Path | None
    quarantined: bool


def reasons_path_for(rows_path: Path) -> Path:
    """``orders.rejected.csv`` -> ``orders.rejected.reasons.csv``."""
    stem = rows_path.name.removesuffix(".csv")
    return rows_path.with_name(f"{stem}.reasons.csv")


def default_rows_path(source_key: str) -> Path:
    """``landing/2025/orders-000.csv.gz`` -> ``orders-000.rejected.csv`` (current folder)."""
    name = source_key.rsplit("/", 1)[-1]
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    return Path(f"{name}.rejected.csv")


def latest_report(s3: Any, bucket: str, file: str) -> LatestReport:
    """The most recent validation report of ``file``; ``ReportNotFoundError`` if none."""
    wanted = report.wanted_source(file)
    found: list[tuple[Any, str, ValidationReport]] = []
    for key, last_modified in report.list_report_keys(s3, bucket):
        try:
            body = ValidationReport.model_validate_json(
                s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            )
        except ValidationError:
            continue
        if report.source_matches(body.source_key, wanted):
            found.append((last_modified, key, body))
    if not found:
        raise ReportNotFoundError(
            f"no validation report for {file!r} under s3://{bucket}/{report.REPORTS_PREFIX}: "
            "it was never uploaded, its run has not validated it yet, or it was skipped "
            "(see 'shopflow status')"
        )
    _, key, body = max(found, key=lambda entry: (entry[0], entry[1]))
    return LatestReport(key, body)


def latest_report_of(s3: Any, bucket: str, file: str) -> LatestReport:
    """``latest_report``, its absence said as a user error (the commands' one line)."""
    from shopflow_cli.output import UserError

    try:
        return latest_report(s3, bucket, file)
    except ReportNotFoundError as missing:
        raise UserError(str(missing)) from None


def write_rejects(
    s3: Any, bucket: str, latest: LatestReport, rows_path: Path | None = None
) -> WrittenRejects:
    """Write the rows file and the reasons file of ``latest`` (nothing when it rejected none)."""
    body = latest.body
    quarantined = body.status == "quarantined"
    if body.rejects_key is None:
        return WrittenRejects(body.source_key, body.batch_id, 0, None, None, quarantined)
    rows_path = rows_path or default_rows_path(body.source_key)
    header, ending = original_header(s3, bucket, body)
    reasons_path = reasons_path_for(rows_path)
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    stream = s3.get_object(Bucket=bucket, Key=body.rejects_key)["Body"]
    count = 0
    try:
        with (
            rows_path.open("w", encoding="utf-8", newline="") as rows_out,
            reasons_path.open("w", encoding="utf-8", newline="") as reasons_out,
        ):
            reasons = csv.writer(reasons_out, lineterminator="\n")
            reasons.writerow(REASONS_COLUMNS)
            rows_out.write(header + ending)
            for record in csv.DictReader(report.text_lines(stream.iter_chunks())):
                rows_out.write((record.get("raw_line") or "") + ending)
                reasons.writerow(
                    (record.get("line") or "", record.get("rule") or "", record.get("message"))
                )
                count += 1
    finally:
        stream.close()
    return WrittenRejects(
        body.source_key, body.batch_id, count, rows_path, reasons_path, quarantined
    )


def original_header(s3: Any, bucket: str, body: ValidationReport) -> tuple[str, str]:
    """The header line exactly as the upload wrote it (no BOM) and the line ending it had."""
    if body.staged_key is not None and body.header_line is not None:
        try:
            stream = s3.get_object(Bucket=bucket, Key=body.staged_key)["Body"]
        except s3.exceptions.NoSuchKey:
            stream = None
        if stream is not None:
            try:
                found = _physical_line(_decompressed(stream), body.header_line)
            finally:
                stream.close()
            if found is not None:
                text, ending = found
                return text.removeprefix(BOM), ending or "\n"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(body.header)
    return buffer.getvalue(), "\n"


def _decompressed(stream: Any) -> io.BufferedIOBase:
    raw = io.BufferedReader(_Readable(stream))
    if raw.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw)
    return raw


class _Readable(io.RawIOBase):
    """A botocore body as a raw stream (so it can be buffered and peeked at)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._body.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _physical_line(source: io.BufferedIOBase, number: int) -> tuple[str, str] | None:
    """Line ``number`` (1-based; CR LF and LF end a line, as the validator counts) and its
    ending, or None when the file is shorter."""
    for index, raw in enumerate(_lines(source), start=1):
        if index == number:
            if raw.endswith(b"\r\n"):
                return raw[:-2].decode("utf-8"), "\r\n"
            if raw.endswith(b"\n"):
                return raw[:-1].decode("utf-8"), "\n"
            return raw.decode("utf-8"), ""
    return None


def _lines(source: io.BufferedIOBase) -> Iterator[bytes]:
    while True:
        line = source.readline()
        if not line:
            return
        yield line
