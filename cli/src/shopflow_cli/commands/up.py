"""``shopflow up``: the local stack in the foreground until Ctrl-C."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from shopflow_cli import output
from shopflow_cli.options import batch_window_option, state_file_option


@click.command(name="up")
@batch_window_option
@state_file_option
def command(batch_window: float, state_file: Path) -> None:
    """Run the local stack (moto server, loader, validator, kpi) until Ctrl-C or SIGTERM;
    the other commands find it through the state file.

    Example: shopflow up, then in another terminal: shopflow upload samples/thelook-small
    """
    from shopflow_cli.localstack import LocalStack, stop_on_interrupt_or_terminate

    stop = threading.Event()
    stop_on_interrupt_or_terminate()
    try:
        with LocalStack(state_file=state_file, batch_window_seconds=batch_window) as stack:
            outputs = stack.require_outputs()
            output.line(f"shopflow local stack is up at {stack.endpoint_url}")
            output.line(f"  data bucket: {outputs.data_bucket} (upload under landing/)")
            output.line(f"  logs: {state_file.parent / 'logs'}")
            output.line(
                "  try: shopflow upload samples/thelook-small; shopflow status; "
                "shopflow kpis days; shopflow report orders.csv"
            )
            output.line("Ctrl-C stops everything.")
            try:
                while not stop.wait(1.0):
                    stack.check_alive()
            except KeyboardInterrupt:
                output.line("stopping ...")
    except KeyboardInterrupt:
        # Ctrl-C while the stack was still starting: LocalStack has already stopped what it
        # started, which is exactly what the user asked for.
        output.line("stopped before the stack was up")
