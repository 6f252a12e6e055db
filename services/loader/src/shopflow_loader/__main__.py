"""``shopflow-loader``: runs the arrivals trigger and the LoadData worker until stopped."""

from __future__ import annotations

import logging
import threading

from shopflow_runtime.logs import configure_logging
from shopflow_runtime.signals import stop_on_signals

from shopflow_loader.bootstrap import build_loader
from shopflow_loader.settings import LoaderSettings
from shopflow_loader.trigger import ArrivalTrigger

log = logging.getLogger("shopflow.loader")


def run_trigger(trigger: ArrivalTrigger, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            trigger.run_once()
        except Exception:
            # An unreachable endpoint must not kill the trigger: unanswered arrivals are
            # redelivered, and the next pass decides them again.
            log.exception("trigger pass failed")
            stop.wait(2.0)


def main() -> None:
    settings = LoaderSettings()
    configure_logging(settings.log_level)
    loader = build_loader(settings)
    stop = stop_on_signals()
    trigger_thread = threading.Thread(
        target=run_trigger, args=(loader.trigger, stop), name="arrivals-trigger", daemon=True
    )
    trigger_thread.start()
    loader.worker.run(stop)
    trigger_thread.join(timeout=30)


if __name__ == "__main__":
    main()
