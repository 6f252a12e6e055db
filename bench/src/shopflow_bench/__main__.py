"""``python -m shopflow_bench``: the same as ``shopflow bench``."""

import sys

from shopflow_bench import main

sys.exit(main())
