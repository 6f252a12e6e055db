"""``shopflow-kpi``: runs the ComputeKpis worker until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading

from shopflow_contracts.taskworker import configure_logging

from shopflow_kpi.bootstrap import build_worker
from shopflow_kpi.settings import KpiSettings


def main() -> None:
    settings = KpiSettings()
    configure_logging(settings.log_level)
    worker = build_worker(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # A task in progress finishes (and is answered) before the loop notices the stop.
    worker.run(stop)


if __name__ == "__main__":
    main()
