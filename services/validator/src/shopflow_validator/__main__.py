"""``shopflow-validator``: run the ValidateData worker until SIGTERM or SIGINT."""

from __future__ import annotations

from shopflow_runtime.logs import configure_logging
from shopflow_runtime.signals import stop_on_signals

from shopflow_validator.bootstrap import build_worker
from shopflow_validator.settings import ValidatorSettings


def main() -> None:
    settings = ValidatorSettings()
    configure_logging(settings.log_level)
    worker = build_worker(settings)
    worker.run(stop_on_signals())


if __name__ == "__main__":
    main()
