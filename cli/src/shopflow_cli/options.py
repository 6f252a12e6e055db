"""Options and argument types shared by the commands, each with its format, unit and example.

A command that talks to a deployed shopflow takes ``@target_options`` and receives a
``target`` (resolved on first use: ``--help`` never needs a stack). Dates are ``DATE``
(``YYYY-MM-DD``), durations ``SECONDS``; a wrong value is answered with the format expected.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from shopflow_cli.output import FORMATS
from shopflow_cli.target import DEFAULT_STATE_FILE, TargetRef

F = TypeVar("F", bound=Callable[..., Any])


class DateType(click.ParamType):  # type: ignore[type-arg]
    """A calendar day written ``YYYY-MM-DD``; anything else names the format expected."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(
                f"{value!r} is not a date: expected YYYY-MM-DD, for example 2025-03-01",
                param,
                ctx,
            )


class SecondsType(click.ParamType):  # type: ignore[type-arg]
    """A non-negative duration in seconds (decimals allowed: 1.5)."""

    name = "SECONDS"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds (for example 2 or 1.5)", param, ctx)
        if seconds < 0:
            self.fail(f"{value!r}: seconds cannot be negative", param, ctx)
        return seconds


DATE = DateType()
SECONDS = SecondsType()


def target_options(function: F) -> F:
    """``--endpoint-url``, ``--stack-name``, ``--state-file``; the command gets ``target``."""

    @click.option(
        "--state-file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=DEFAULT_STATE_FILE,
        show_default=True,
        envvar="SHOPFLOW_STATE_FILE",
        help="Where 'shopflow up' wrote the running local stack's coordinates.",
    )
    @click.option(
        "--stack-name",
        metavar="NAME",
        help="Talk to this deployed CloudFormation stack instead of the local one "
        "(for example shopflow).",
    )
    @click.option(
        "--endpoint-url",
        metavar="URL",
        help="AWS endpoint, for example http://127.0.0.1:5000 (a moto server); "
        "default: AWS itself with --stack-name, else the running local stack.",
    )
    @functools.wraps(function)
    def wrapper(
        *args: Any,
        state_file: Path,
        stack_name: str | None,
        endpoint_url: str | None,
        **kwargs: Any,
    ) -> Any:
        target = TargetRef(state_file=state_file, stack_name=stack_name, endpoint_url=endpoint_url)
        return function(*args, target=target, **kwargs)

    return wrapper  # type: ignore[return-value]


def state_file_option(function: F) -> F:
    """``--state-file`` for the commands that run a local stack themselves."""
    return click.option(
        "--state-file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=DEFAULT_STATE_FILE,
        show_default=True,
        envvar="SHOPFLOW_STATE_FILE",
        help="Where the local stack writes its coordinates (its data and logs go beside it).",
    )(function)


def format_option(choices: tuple[str, ...] = FORMATS, default: str = "table") -> Callable[[F], F]:
    """``--format``: a table for people, csv or json for programs."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices, case_sensitive=False),
        default=default,
        show_default=True,
        help="table for reading; csv or json (exact numbers) for programs.",
    )


def batch_window_option(function: F) -> F:
    return click.option(
        "--batch-window",
        type=SECONDS,
        default=2.0,
        show_default=True,
        help="Seconds the loader waits for more uploads before starting a run with those it "
        "has (for example 1.5).",
    )(function)


def run_wait_options(function: F) -> F:
    """``--wait/--no-wait`` and ``--timeout`` of a command that starts one run."""
    function = click.option(
        "--timeout",
        type=SECONDS,
        default=600,
        show_default=True,
        help="With --wait: seconds to wait for the run before giving up (exit 1).",
    )(function)
    return click.option(
        "--wait/--no-wait",
        default=True,
        show_default=True,
        help="Wait for the run to end and print what it did (exit 1 if it failed).",
    )(function)
