"""``shopflow-kpi``: runs the ComputeKpis worker until SIGTERM/SIGINT."""

from __future__ import annotations

from shopflow_runtime.logs import configure_logging
from shopflow_runtime.signals import stop_on_signals

from shopflow_kpi.bootstrap import build_worker
from shopflow_kpi.settings import KpiSettings


def main() -> None:
    settings = KpiSettings()
    configure_logging(settings.log_level)
    worker = build_worker(settings)
    worker.run(stop_on_signals())


if __name__ == "__main__":
    main()
