"""The README's session with the local stack, run exactly as written.

The block after ``<!-- readme-session -->`` is run by bash, line by line with ``set -e``,
in a scratch folder that has the repository's ``samples``. Only ``uv run`` is short-cut to
the environment's own scripts (the tests already run inside it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def readme_session() -> str:
    text = (REPO / "README.md").read_text()
    (block,) = re.findall(r"<!-- readme-session -->\n```bash\n(.*?)```", text, re.S)
    return str(block)


def test_the_readme_session_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "samples").symlink_to(REPO / "samples")
    # `uv run X` inside the environment the tests run in is X itself (exec: same pid, so
    # the README's `kill %1` reaches shopflow up as it reaches uv, which passes it on).
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "uv").write_text('#!/bin/bash\n[ "$1" = run ] && shift && exec "$@"\nexit 2\n')
    (shims / "uv").chmod(0o755)
    script = "set -euo pipefail\n" + readme_session()
    environment = {
        **os.environ,
        "PATH": os.pathsep.join([str(shims), str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    environment.pop("SHOPFLOW_STATE_FILE", None)
    try:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=420,
            check=False,
        )
    finally:
        # A failed line leaves the background stack running: stop it by its own pid.
        state = tmp_path / ".shopflow" / "stack.json"
        if state.exists():
            import json
            import signal

            owner = json.loads(state.read_text()).get("owner_pid")
            if owner:
                with __import__("contextlib").suppress(ProcessLookupError):
                    os.kill(owner, signal.SIGTERM)
    up_log = (tmp_path / "up.log").read_text() if (tmp_path / "up.log").exists() else ""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:] + up_log[-2000:]
    out = result.stdout
    assert re.search(r"^run \S+ SUCCEEDED", out, re.MULTILINE)
    assert "arrivals waiting: 0" in out
    assert "Saturday 2025-03-15" in out
    assert "Jeans" in out and "2025-03-07" in out
    assert '"order_date": "2025-03-03"' in out
    assert "item(s) wait for their order or product" in out
    assert "the validator dead-letter queue is empty" in out
    assert "orders.csv: 500 rows" in out
    assert (tmp_path / ".shopflow" / "data" / "saved.json").exists()
    assert "SUCCEEDED" in up_log
