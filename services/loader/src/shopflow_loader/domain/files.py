"""Recognising what a landed file is from its first bytes, whatever it is called."""

from __future__ import annotations

import csv
import io
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from shopflow_contracts.rows import GZIP_MAGIC, FileKind, normalise_header, recognise_kind

# Enough to hold any realistic header line; only this prefix of a file is ever read here.
HEADER_PROBE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Recognition:
    kind: FileKind | None
    header: list[str]
    problem: str | None

    @property
    def recognised(self) -> bool:
        return self.kind is not None


def recognise_file(prefix: bytes, *, total_size: int) -> Recognition:
    """Recognise a file from its first bytes (plain or gzip-compressed CSV)."""
    if total_size == 0 or not prefix:
        return Recognition(None, [], "empty file (0 bytes)")
    text_prefix = prefix
    if prefix.startswith(GZIP_MAGIC):
        try:
            text_prefix = _gunzip_prefix(prefix)
        except (OSError, EOFError, zlib.error) as broken:
            return Recognition(None, [], f"not a readable gzip file: {broken}")
    try:
        text = text_prefix.decode("utf-8-sig")
    except UnicodeDecodeError as undecodable:
        # A prefix may end inside a multi-byte character: only a failure before the end counts.
        if undecodable.start < len(text_prefix) - 4:
            return Recognition(None, [], f"not UTF-8 text (byte {undecodable.start})")
        text = text_prefix[: undecodable.start].decode("utf-8-sig")
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if not first_line:
        return Recognition(None, [], "empty file (no header line)")
    header = next(csv.reader(io.StringIO(first_line)))
    kind = recognise_kind(header)
    if kind is None:
        shown = ",".join(normalise_header(header))[:200]
        return Recognition(
            None,
            header,
            f"header '{shown}' is not an orders, order_items or products header",
        )
    return Recognition(kind, header, None)


def _gunzip_prefix(prefix: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    return decompressor.decompress(prefix, HEADER_PROBE_BYTES)


def staged_key(batch_id: str, kind: FileKind, position: int, source_key: str) -> str:
    """Where a landed file is staged: under its batch and kind, keeping its file name."""
    name = PurePosixPath(source_key).name or "unnamed"
    return f"raw/batch={batch_id}/{kind.value}/{position:04d}-{name}"
