"""``shopflow up``: the local stack in the foreground until Ctrl-C, telling what it does."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

import click

from shopflow_cli import output
from shopflow_cli.options import batch_window_option, state_file_option


def say(text: str) -> None:
    """One timestamped line: a run started, entered a stage or ended; a worker restarted."""
    output.line(f"{datetime.now():%H:%M:%S}  {text}")


@click.command(name="up")
@click.option(
    "--fresh",
    is_flag=True,
    help="Start empty: delete the data kept from earlier runs of the local stack "
    "(by default uploads, curated data, KPIs, ledger and runs are restored).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where the stack keeps its data between runs [default: a 'data' folder beside the "
    "state file, .shopflow/data].",
)
@click.option(
    "--moto-access-log",
    is_flag=True,
    help="Keep moto's one-line-per-request access log in the moto log (off: thousands of lines).",
)
@click.option(
    "--api-port",
    type=click.IntRange(0, 65_535),
    default=None,
    help="Port of the API and dashboard on 127.0.0.1 [default: 8080 when free, else any free "
    "port; 0: any free port].",
)
@batch_window_option
@state_file_option
def command(
    fresh: bool,
    data_dir: Path | None,
    moto_access_log: bool,
    api_port: int | None,
    batch_window: float,
    state_file: Path,
) -> None:
    """Run the local stack (moto server, loader, validator, kpi, the API) until Ctrl-C or SIGTERM,
    printing a line as each run starts, enters a stage and ends (with its accounting).

    The data (uploads, curated files, KPIs, ledger, runs) is kept in --data-dir and restored
    on the next 'shopflow up'; --fresh starts empty. Only one stack runs per state file.

    Example: shopflow up, then in another terminal: shopflow upload samples/thelook-small
    """
    from shopflow_cli.localstack import (
        DEFAULT_API_PORT,
        LocalStack,
        port_is_free,
        stop_on_interrupt_or_terminate,
    )
    from shopflow_cli.watch import RunWatcher

    stop = threading.Event()
    stop_on_interrupt_or_terminate()
    kept = data_dir or state_file.parent / "data"
    if api_port is None and port_is_free(DEFAULT_API_PORT):
        api_port = DEFAULT_API_PORT
    try:
        with LocalStack(
            state_file=state_file,
            batch_window_seconds=batch_window,
            data_dir=kept,
            fresh=fresh,
            moto_access_log=moto_access_log,
            api_port=api_port or None,
            on_event=say,
        ) as stack:
            outputs = stack.require_outputs()
            output.line(f"shopflow local stack is up at {stack.endpoint_url}")
            output.line(f"  data bucket: {outputs.data_bucket} (upload under landing/)")
            output.line(
                f"  dashboard and API: {stack.api_url}/ (OpenAPI: {stack.api_url}/openapi.json)"
            )
            if stack.restored is not None:
                output.line(f"  restored from {kept}: {stack.restored.describe()}")
            else:
                output.line(f"  data: {kept} (empty; kept across restarts, --fresh to clear)")
            output.line(f"  logs: {stack.logs}")
            output.line(
                "  try: shopflow upload samples/thelook-small --wait; shopflow status; "
                "shopflow kpis summary"
            )
            output.line("Ctrl-C stops everything (the data is kept).")
            watcher = RunWatcher(stack.target, say)
            try:
                while not stop.wait(1.0):
                    stack.check_alive()
                    if watcher.poll():
                        # After each run: a SIGKILL later loses at most the run after it.
                        started = time.monotonic()
                        saved = stack.save()
                        if saved is not None:
                            say(f"saved {saved.describe()} in {time.monotonic() - started:.1f}s")
            except KeyboardInterrupt:
                output.line("stopping ...")
    except KeyboardInterrupt:
        # Ctrl-C while the stack was still starting: LocalStack has already stopped what it
        # started, which is exactly what the user asked for.
        output.line("stopped before the stack was up")
