"""The local stack's moto server, without its access log unless asked for.

``python -m shopflow_cli.motoserver [--access-log] -H HOST -p PORT``: moto's own server, with
werkzeug's one-line-per-request log (thousands of coloured lines for one demo) turned down
to warnings, so the log keeps what matters: moto's errors and tracebacks.
"""

from __future__ import annotations

import logging
import sys


def main(argv: list[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    access_log = "--access-log" in arguments
    arguments = [argument for argument in arguments if argument != "--access-log"]
    if not access_log:
        # werkzeug installs its own INFO handler only while its logger's level is unset.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from moto.server import main as moto_main

    moto_main(arguments)


if __name__ == "__main__":
    main()
