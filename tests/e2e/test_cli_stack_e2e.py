"""The local stack's life as ``shopflow up`` runs it: one at a time, its children never
outliving it, dead workers restarted, and its data kept across a restart.

Real processes throughout: ``shopflow up`` in the background, the other commands as their
own processes against it. Every process a test starts is stopped by that test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from shopflow_cli.localstack import StackState

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "thelook-small"
CLI = [sys.executable, "-m", "shopflow_cli.main"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    # A zombie (exited, not yet reaped by its parent) is not running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:.0f}s: {what}"
        time.sleep(0.2)


class Up:
    """One ``shopflow up`` in the background, with its output in a log file."""

    def __init__(self, workdir: Path, *extra: str) -> None:
        self.workdir = workdir
        self.state_file = workdir / ".shopflow" / "stack.json"
        self.log = workdir / f"up-{time.monotonic_ns()}.log"
        with self.log.open("wb") as handle:
            self.process = subprocess.Popen(
                [*CLI, "up", "--batch-window", "1.5", *extra],
                cwd=workdir,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.pids: dict[str, int] = {}

    def ready(self) -> Up:
        def written() -> bool:
            assert self.process.poll() is None, self.text()
            if not self.state_file.exists():
                return False
            return StackState.load(self.state_file).owner_pid == self.process.pid

        wait_for(written, "shopflow up wrote its state file", timeout=120)
        self.pids = dict(StackState.load(self.state_file).pids)
        return self

    def text(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(timeout=10)

    def kill_all(self) -> None:
        """Teardown: whatever is still running of this stack."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for pid in self.pids.values():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[Callable[..., Up]]:
    started: list[Up] = []

    def start(*extra: str) -> Up:
        started.append(Up(tmp_path, *extra))
        return started[-1]

    try:
        yield start
    finally:
        for up in started:
            up.kill_all()


def shopflow(workdir: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_up_restarts_keeps_its_data_and_refuses_a_second_stack(
    tmp_path: Path, stacks: Callable[..., Up]
) -> None:
    # Given a running 'shopflow up'
    first = stacks().ready()
    state = StackState.load(first.state_file)

    # When a second 'shopflow up' starts with the same state file
    second = stacks()
    code = second.process.wait(timeout=60)
    # Then it refuses, saying where the running one is, and leaves its state file alone
    assert code == 1
    assert state.endpoint_url in second.text() and f"pid {first.process.pid}" in second.text()
    assert StackState.load(first.state_file) == state

    # When a worker dies
    os.kill(first.pids["validator"], signal.SIGKILL)
    # Then the stack restarts it (as ECS would) and says so
    wait_for(
        lambda: StackState.load(first.state_file).pids["validator"] != first.pids["validator"],
        "validator restarted",
    )
    assert alive(StackState.load(first.state_file).pids["validator"])
    assert re.search(r"validator exited with code -9 after \d+s; restarting", first.text())

    # When the sample is uploaded with --wait
    uploaded = shopflow(tmp_path, "upload", str(SAMPLE), "--wait")
    # Then it prints every file's accounting of the run that took it
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    (run,) = re.findall(r"^run (\S+) SUCCEEDED", uploaded.stdout, re.MULTILINE)
    for name in ("orders.csv", "order_items.csv", "products.csv"):
        assert re.search(rf"^  landing/{name} \(\w+\): [\d,]+ in = ", uploaded.stdout, re.M)
    # And 'up' told the run's story: started, its stages, its end with the accounting
    wait_for(lambda: f"run {run} SUCCEEDED" in first.text(), "up reported the run's end")
    log = first.text()
    assert f"run {run} started: 3 file(s)" in log
    assert f"run {run}: LoadData" in log and f"run {run}: ValidateData" in log
    assert re.search(r"landing/orders\.csv \(orders\): 3,000 in = ", log)
    days_before = shopflow(tmp_path, "kpis", "days", "--format", "json")
    status_before = shopflow(tmp_path, "status")
    assert days_before.returncode == 0 and len(json.loads(days_before.stdout)) == 42

    # When the stack is stopped and started again
    assert first.stop() == 0, first.text()
    assert not first.state_file.exists()
    again = stacks().ready()
    # Then the KPIs and the status are still there, and 'up' says what it restored
    wait_for(lambda: "Ctrl-C stops everything" in again.text(), "up printed its banner")
    assert "restored from .shopflow/data" in again.text()
    days_after = shopflow(tmp_path, "kpis", "days", "--format", "json")
    assert days_after.stdout == days_before.stdout
    status_after = shopflow(tmp_path, "status")
    assert status_after.returncode == 0
    assert re.search(rf"SUCCEEDED\s+[\d.]+\s+-\s+{run}$", status_after.stdout, re.M)
    assert (
        status_after.stdout.split("file accounting")[1]
        == (status_before.stdout.split("file accounting")[1])
    )
    # And an identical upload of a restored file is recognised as such
    again_orders = shopflow(tmp_path, "upload", str(SAMPLE / "orders.csv"), "--wait")
    assert again_orders.returncode == 0, again_orders.stderr
    assert re.search(r"2,995 duplicates|identical to an earlier upload", again_orders.stdout)
    assert again.stop() == 0

    # When it starts with --fresh, then nothing is left
    fresh = stacks("--fresh").ready()
    empty = shopflow(tmp_path, "kpis", "days", "--format", "json")
    assert json.loads(empty.stdout) == []
    assert fresh.stop() == 0


def test_a_killed_up_leaves_no_process_behind_and_its_state_file_is_replaced(
    tmp_path: Path, stacks: Callable[..., Up]
) -> None:
    # Given a running 'shopflow up'
    killed = stacks().ready()
    children = dict(killed.pids)
    assert set(children) == {"moto", "loader", "validator", "kpi", "api"}
    # When it is killed with SIGKILL (no chance to clean up)
    killed.process.kill()
    killed.process.wait(timeout=10)
    # Then moto and every worker go with it
    wait_for(
        lambda: not any(alive(pid) for pid in children.values()),
        f"children gone: {[n for n, p in children.items() if alive(p)]}",
        timeout=30,
    )
    # And its state file stays behind, pointing at a dead stack
    assert killed.state_file.exists()
    stale = shopflow(tmp_path, "status", timeout=60)
    assert stale.returncode == 1
    assert "Traceback" not in stale.stderr and len(stale.stderr.strip().splitlines()) == 1
    assert "cannot reach http://127.0.0.1" in stale.stderr

    # When 'shopflow up' starts again, then it replaces the stale file and runs
    replaced = stacks().ready()
    wait_for(lambda: "Ctrl-C stops everything" in replaced.text(), "up printed its banner")
    assert "replacing" in replaced.text() and "is no longer running" in replaced.text()
    assert replaced.stop() == 0
