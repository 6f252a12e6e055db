"""The stop request of a long-running worker process."""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger("shopflow.worker")


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (how ECS stops a task) or SIGINT (Ctrl-C).

    A worker's loop checks it between tasks: the task in hand finishes and is answered,
    and an unanswered message is redelivered anyway.
    """
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    return stop
