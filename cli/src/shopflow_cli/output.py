"""How every ``shopflow`` command prints: tables, JSON, CSV, notes and errors, in one place.

Commands never ``print``: they hand rows to ``emit`` (or a table to ``show``) and raise
``UserError`` for anything the user can fix. Rich draws the tables and the progress display;
on a terminal they fit the window and have colour, in a pipe or a file they are plain text
that never wraps (a line is one record, so ``grep`` and ``awk`` keep working).

Values stay typed until the last moment: money is a ``Decimal`` from DynamoDB to the JSON
number or CSV cell (never a float), counts are ints; only a table formats them, with
thousands separators and the column's unit.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

import simplejson
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Wide enough that no record of ours wraps when stdout is a pipe or a file.
_PLAIN_WIDTH = 10_000


class UserError(Exception):
    """Something the user can fix (bad input, no stack running): one line, exit ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # Rich would exit 1 here; the reader going away (``| head``) is no failure of ours:
        # errors.py ends the command quietly with the exit code a closed pipe gives.
        self.quiet = True
        raise BrokenPipeError


def _console(stream: Any) -> Console:
    terminal = stream.isatty() if hasattr(stream, "isatty") else False
    return _Console(
        file=stream,
        width=None if terminal else _PLAIN_WIDTH,
        highlight=False,
        soft_wrap=not terminal,
    )


_consoles: dict[int, tuple[Any, Console]] = {}


def console(stream: Literal["out", "err"] = "out") -> Console:
    """The Rich console of stdout or stderr (as they are now: tests swap them)."""
    target = sys.stdout if stream == "out" else sys.stderr
    key = 1 if stream == "out" else 2
    cached = _consoles.get(key)
    if cached is None or cached[0] is not target:
        cached = (target, _console(target))
        _consoles[key] = cached
    return cached[1]


def is_terminal(stream: Literal["out", "err"] = "out") -> bool:
    return console(stream).is_terminal


def line(text: str = "", *, style: str | None = None) -> None:
    """One line of stdout (markup is not interpreted: file names may hold brackets)."""
    console("out").print(Text(text, style=style or ""), soft_wrap=True)


def note(text: str, *, style: str | None = "dim") -> None:
    """A line for the person watching (progress, hints), on stderr so pipes stay data."""
    console("err").print(Text(text, style=style or ""), soft_wrap=True)


@contextmanager
def status(text: str) -> Iterator[None]:
    """A spinner with ``text`` while the block runs on a terminal; one plain line otherwise."""
    if is_terminal("err"):
        with console("err").status(Text(text)):
            yield
    else:
        note(text, style=None)
        yield


def error_line(text: str) -> None:
    console("err").print(Text(text, style="bold red"), soft_wrap=True)


# --- typed columns --------------------------------------------------------------------------

Kind = Literal["text", "count", "money", "percent", "seconds", "date"]
Total = Literal["sum", "none"]
_UNITS: dict[str, str] = {"percent": "%", "seconds": "s"}


@dataclass(frozen=True)
class Column:
    """One column: its key in the records (and CSV/JSON name), its kind, whether it totals."""

    name: str
    kind: Kind = "text"
    total: Total = "none"
    header: str | None = None
    # Right-aligned although text (figures formatted beforehand, say).
    align_right: bool = False

    @property
    def title(self) -> str:
        """The table header: the name, with the unit where the number has one."""
        title = self.header or self.name
        unit = _UNITS.get(self.kind)
        return f"{title} ({unit})" if unit else title

    @property
    def numeric(self) -> bool:
        return self.kind in {"count", "money", "percent", "seconds"}


def format_cell(column: Column, value: Any) -> str:
    """A value as a table shows it: thousands separators, two decimals for money and rates."""
    if value is None or value == "":
        return "-"
    if column.kind == "count" and isinstance(value, int | Decimal):
        return f"{int(value):,}"
    if column.kind in {"money", "percent"} and isinstance(value, int | float | Decimal):
        return f"{Decimal(value):,.2f}" if not isinstance(value, float) else f"{value:,.2f}"
    if column.kind == "seconds" and isinstance(value, int | float | Decimal):
        return f"{float(value):,.1f}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def totals_of(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The totals row: sums of the summable columns, blank elsewhere."""
    totals: dict[str, Any] = {}
    for column in columns:
        if column.total == "sum":
            totals[column.name] = sum(
                (row[column.name] for row in rows if row.get(column.name) is not None),
                start=Decimal(0) if column.kind == "money" else 0,
            )
    return totals


def table(
    columns: Sequence[Column],
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str | None = None,
    totals: bool = False,
    totals_label: str = "total",
) -> Table:
    """A Rich table of typed rows; with ``totals`` a last row sums the summable columns."""
    view = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        show_footer=False,
        header_style="bold",
    )
    for column in columns:
        view.add_column(
            column.title,
            justify="right" if column.numeric or column.align_right else "left",
            overflow="fold",
            no_wrap=column.kind in {"date", "count", "money", "percent", "seconds"},
        )
    for row in rows:
        view.add_row(*(format_cell(column, row.get(column.name)) for column in columns))
    if totals and rows:
        summed = totals_of(columns, rows)
        cells = [
            format_cell(column, summed[column.name]) if column.name in summed else ""
            for column in columns
        ]
        first_text = next((i for i, c in enumerate(columns) if not c.numeric), None)
        if first_text is not None:
            cells[first_text] = f"{totals_label} ({len(rows):,} row{'' if len(rows) == 1 else 's'})"
        view.add_section()
        view.add_row(*cells, style="bold")
    return view


def show(renderable: Any) -> None:
    """Print a Rich renderable (a table, a panel) to stdout; in a pipe without the padding
    Rich puts after the last column, so that lines end with their last value."""
    out = console("out")
    if out.is_terminal:
        out.print(renderable)
        return
    with out.capture() as captured:
        out.print(renderable)
    write_raw("\n".join(text.rstrip() for text in captured.get().splitlines()))


# --- machine formats ------------------------------------------------------------------------

Format = Literal["table", "csv", "json"]
FORMATS: tuple[str, ...] = ("table", "csv", "json")


def plain_value(value: Any) -> Any:
    """JSON-ready: Decimals stay Decimals (written as exact numbers), dates become ISO text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): plain_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_value(item) for item in value]
    if hasattr(value, "model_dump"):
        return plain_value(value.model_dump(mode="python"))
    return value


def to_json(document: Any) -> str:
    """JSON with real numbers: a money ``Decimal('7103.64')`` is written ``7103.64``, exactly."""
    return str(simplejson.dumps(plain_value(document), use_decimal=True, indent=2))


def to_csv(columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text (header first, ``\\n`` line ends); Decimals written as they are stored."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.name for column in columns])
    for row in rows:
        writer.writerow([_csv_cell(row.get(column.name)) for column in columns])
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def write_raw(text: str) -> None:
    """Text exactly as given (no wrapping, no markup); one final newline at most."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def emit(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    output_format: str,
    *,
    title: str | None = None,
    totals: bool = False,
) -> None:
    """Rows in the format asked for: a table for people, CSV or JSON for programs."""
    if output_format == "json":
        write_raw(to_json([{c.name: row.get(c.name) for c in columns} for row in rows]))
    elif output_format == "csv":
        write_raw(to_csv(columns, rows))
    else:
        if not rows:
            note("(no rows)")
            return
        show(table(columns, rows, title=title, totals=totals))
