"""``shopflow-api``: serves the API and the dashboard until SIGTERM/SIGINT (uvicorn's)."""

from __future__ import annotations

import uvicorn
from shopflow_runtime.logs import configure_logging

from shopflow_api.app import create_app
from shopflow_api.settings import ApiSettings


def main() -> None:
    settings = ApiSettings()
    configure_logging(settings.log_level)
    # log_config=None: uvicorn's lines go through the JSON formatter like every other log.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
