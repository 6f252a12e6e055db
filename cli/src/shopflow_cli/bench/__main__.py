"""``python -m shopflow_cli.bench``: the same as ``shopflow bench``."""

import sys

from shopflow_cli.bench import main

sys.exit(main())
