"""``shopflow-validator``: run the ValidateData worker until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from shopflow_contracts.taskworker import configure_logging

from shopflow_validator.bootstrap import build_worker
from shopflow_validator.settings import ValidatorSettings

log = logging.getLogger("shopflow.validator")


def main() -> None:
    settings = ValidatorSettings()
    configure_logging(settings.log_level)
    worker = build_worker(settings)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        # The worker finishes the task in hand; an unanswered message is redelivered anyway.
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    worker.run(stop)


if __name__ == "__main__":
    main()
