"""``shopflow``: run the pipeline locally, feed it files, and read its KPIs back.

The root command only wires things: every command lives in its own module under
``shopflow_cli/commands/`` and is registered by being there (see /work/coord/cli-commands.md
or docs/cli.md). Errors end here: a user error, an unreachable stack or a refused AWS call is
one line on stderr and a non-zero exit; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version

import click

from shopflow_cli import errors
from shopflow_cli.commands import register_commands

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _version() -> str:
    try:
        return version("shopflow-cli")
    except PackageNotFoundError:  # pragma: no cover - only a source checkout without install
        return "unknown"


class ShopflowGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # Click would turn it into exit code 1; errors.py ends quietly with 141.
            raise errors.PipeClosedError from None


@click.group(
    cls=ShopflowGroup,
    context_settings=CONTEXT_SETTINGS,
    help="shopflow: run the pipeline locally, feed it files, and read its KPIs back.",
)
@click.version_option(_version(), "--version", "-V", prog_name="shopflow")
@click.option(
    "--debug",
    is_flag=True,
    envvar="SHOPFLOW_DEBUG",
    help="Show the full traceback of an error instead of its one-line summary "
    "(also SHOPFLOW_DEBUG=1).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


register_commands(cli)


def main(argv: list[str] | None = None) -> int:
    """Run one ``shopflow`` command; returns its exit code (never raises but with --debug)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    debug = _debug_requested(arguments)
    return errors.run_guarded(
        lambda: cli.main(arguments, prog_name="shopflow", standalone_mode=False),
        debug=debug,
    )


def _debug_requested(arguments: list[str]) -> bool:
    # Known before parsing, so that even a failing parse can show its traceback.
    before_command = arguments[: next((i for i, a in enumerate(arguments) if a[:1] != "-"), 0)]
    return "--debug" in before_command or os.environ.get("SHOPFLOW_DEBUG", "") not in {"", "0"}


if __name__ == "__main__":
    sys.exit(main())
