"""Progress of long work: a live display on a terminal, plain lines in a pipe or a log.

On a terminal (stderr is a tty) Rich redraws one line per item in place, with a spinner
while it is not done; elsewhere each change is one line, printed once, so a CI log or a
``tee`` file reads as a story instead of a stream of control characters.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from shopflow_cli import output


class FileProgress:
    """The state of each of a few named items (uploaded files, stages)."""

    def __init__(self, names: list[str], initial: str) -> None:
        self.states = dict.fromkeys(names, initial)
        self.done = dict.fromkeys(names, False)
        self.started = time.monotonic()
        self.live: Live | None = None

    def __enter__(self) -> FileProgress:
        if output.is_terminal("err"):
            # Live re-renders ``self`` (``__rich__``) on each refresh: the clock keeps moving.
            self.live = Live(self, console=output.console("err"), refresh_per_second=8)
            self.live.__enter__()
        else:
            for name, state in self.states.items():
                output.note(f"{name}: {state}", style=None)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.live is not None:
            self.live.refresh()
            self.live.__exit__(kind, error, trace)

    def update(self, name: str, state: str, *, done: bool = False) -> None:
        if self.states.get(name) == state and self.done.get(name) == done:
            return
        self.states[name] = state
        self.done[name] = done
        if self.live is not None:
            self.live.refresh()
        else:
            output.note(f"{name}: {state}", style=None)

    def __rich__(self) -> Table:
        grid = Table.grid(padding=(0, 1))
        elapsed = time.monotonic() - self.started
        for name, state in self.states.items():
            mark = Text("✓", style="green") if self.done[name] else Spinner("dots")
            grid.add_row(mark, Text(name, style="bold"), Text(state))
        grid.add_row("", Text(f"{elapsed:.0f}s elapsed", style="dim"), "")
        return grid
