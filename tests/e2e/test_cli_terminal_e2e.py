"""The progress display as a person sees it: ``shopflow`` in a real terminal (tmux).

The command runs in a detached tmux pane against a running local stack; the pane is captured
while it works and after, and the assertions are on the text on the screen: a live display
redrawn in place (one line per file, a tick when done, a moving clock), then the result.
The same command in a pipe prints plain lines instead (checked by the other e2e tests).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_stack import SAMPLE, Pipeline

pytestmark = pytest.mark.e2e


def tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout


@pytest.fixture
def pane(tmp_path: Path) -> object:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed for the terminal test (apt-get install tmux; make test does)")
    session = f"shopflow-{tmp_path.name}"
    tmux("-L", session, "new-session", "-d", "-s", session, "-x", "160", "-y", "50", "bash --norc")
    try:
        yield session
    finally:
        subprocess.run(["tmux", "-L", session, "kill-server"], check=False, timeout=30)


def screen(session: str) -> str:
    return tmux("-L", session, "capture-pane", "-p", "-t", session)


def test_upload_wait_shows_a_live_display_then_the_accounting(
    pipeline: Pipeline, pane: str, tmp_path: Path
) -> None:
    session = pane
    state_file = pipeline.stack.state_file
    # Given 'shopflow upload --wait' typed into a terminal
    command = (
        " ".join(
            shlex.quote(part)
            for part in [
                sys.executable,
                "-m",
                "shopflow_cli.main",
                "upload",
                str(SAMPLE),
                "--wait",
                "--batch-window",
                "1.5",
                "--state-file",
                str(state_file),
            ]
        )
        + '; echo "EX""IT=$?"'
    )  # fmt: skip  (the typed line must not hold the marker)
    tmux("-L", session, "send-keys", "-t", session, command, "Enter")
    # When it works, the screen shows each file with its state and a running clock
    seen: list[str] = []
    deadline = time.monotonic() + 240
    while "EXIT=" not in (shown := screen(session)):
        assert time.monotonic() < deadline, shown
        seen.append(shown)
        time.sleep(0.3)
    live = [text for text in seen if "elapsed" in text]
    assert live, "no live display seen:\n" + "\n---\n".join(seen[-3:])
    clocks = {line.split()[0] for text in live for line in text.splitlines() if "elapsed" in line}
    assert len(clocks) >= 2, f"the clock did not move: {clocks}"
    assert any("run b" in text for text in live), "no run shown while it ran"
    # Then the display was redrawn in place: each file is on the screen once, ticked,
    # followed by the accounting and exit code 0
    final = screen(session)
    assert "EXIT=0" in final
    for name in ("orders.csv", "order_items.csv", "products.csv"):
        progress_lines = [
            line
            for line in final.splitlines()
            if line.strip().startswith(("✓", "⠋")) and name in line
        ]
        assert len(progress_lines) == 1, (name, final)
        assert progress_lines[0].lstrip().startswith("✓")
        assert f"landing/{name} (" in final and " in = " in final
    assert "SUCCEEDED" in final
