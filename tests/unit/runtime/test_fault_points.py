"""The named fault points: inert without a plan, and exactly as the plan says with one.

A kill is tried in a child interpreter (it would end pytest otherwise).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from shopflow_runtime import faults
from shopflow_runtime.faults import POINTS, FaultPlan, PointRule, fault_point

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _disarmed() -> Iterator[None]:
    faults.deactivate()
    yield
    faults.deactivate()


def write_plan(path: Path, *rules: PointRule) -> Path:
    path.write_text(FaultPlan(points=rules).model_dump_json())
    return path


def run_child(plan: Path, code: str) -> subprocess.CompletedProcess[str]:
    program = (
        "from pathlib import Path\n"
        "from shopflow_runtime import faults\n"
        f"faults.activate(Path({str(plan)!r}))\n" + code
    )
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )


def test_given_no_plan_when_a_point_is_reached_then_nothing_happens(tmp_path: Path) -> None:
    # Given no plan activated (production)
    # When every named point is reached
    for name in POINTS:
        fault_point(name, run_id="r")
    # Then nothing was written anywhere and the process lives on
    assert list(tmp_path.iterdir()) == []


def test_given_a_kill_rule_when_its_point_is_reached_then_the_process_dies_once_and_says_where(
    tmp_path: Path,
) -> None:
    # Given a plan that kills at kpi.mid_duckdb, once
    plan = write_plan(tmp_path / "plan.json", PointRule(id="k1", point="kpi.mid_duckdb"))
    reach = (
        "faults.fault_point('kpi.after_receive')\n"
        "print('before', flush=True)\n"
        "faults.fault_point('kpi.mid_duckdb', run_id='run-7')\n"
        "print('after', flush=True)\n"
    )

    # When a process reaches the point, and then a second one (a restart with the same plan)
    first = run_child(plan, reach)
    second = run_child(plan, reach)

    # Then the first died by SIGKILL right there and the second went through
    assert (first.returncode, first.stdout) == (-9, "before\n")
    assert (second.returncode, second.stdout) == (0, "before\nafter\n")
    # And the firing is recorded with the point, the process and the context
    fired = json.loads((tmp_path / "fired-k1-0.json").read_text())
    assert (fired["point"], fired["action"], fired["run_id"]) == (
        "kpi.mid_duckdb",
        "kill",
        "run-7",
    )
    assert isinstance(fired["pid"], int) and fired["time"] <= time.time()
    assert sorted(p.name for p in tmp_path.glob("fired-*")) == ["fired-k1-0.json"]


def test_given_a_delayed_kill_when_the_point_is_reached_then_the_work_after_it_is_cut_short(
    tmp_path: Path,
) -> None:
    # Given a kill 0.3 s after kpi.mid_duckdb (the kill lands while the work runs)
    plan = write_plan(
        tmp_path / "plan.json", PointRule(id="k", point="kpi.mid_duckdb", delay_seconds=0.3)
    )
    # When the process reaches it and then works for longer than that
    child = run_child(
        plan,
        "import time\n"
        "faults.fault_point('kpi.mid_duckdb')\n"
        "print('working', flush=True)\n"
        "time.sleep(5)\n"
        "print('finished', flush=True)\n",
    )
    # Then it died during the work
    assert (child.returncode, child.stdout) == (-9, "working\n")


def test_given_a_terminate_rule_when_reached_then_the_process_gets_sigterm(tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path / "plan.json", PointRule(id="t", point="validate.mid_duckdb", action="terminate")
    )
    child = run_child(
        plan,
        "import signal, threading\n"
        "stopped = threading.Event()\n"
        "signal.signal(signal.SIGTERM, lambda *_: stopped.set())\n"
        "faults.fault_point('validate.mid_duckdb')\n"
        "print('stop requested' if stopped.wait(5) else 'no signal', flush=True)\n",
    )
    assert (child.returncode, child.stdout) == (0, "stop requested\n")


def test_given_a_rule_for_two_firings_when_three_processes_reach_it_then_two_fire(
    tmp_path: Path,
) -> None:
    # Given a pause rule allowed twice
    write_plan(
        tmp_path / "plan.json",
        PointRule(id="p", point="load.after_receive", action="pause", times=2, pause_seconds=0),
    )
    faults.activate(tmp_path / "plan.json")
    # When the point is reached three times
    for _ in range(3):
        fault_point("load.after_receive")
    # Then exactly two firings were claimed
    assert sorted(p.name for p in tmp_path.glob("fired-*")) == ["fired-p-0.json", "fired-p-1.json"]


def test_given_a_plan_rewritten_while_running_when_reached_then_the_new_plan_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an active plan with nothing in it
    monkeypatch.setattr(faults, "RELOAD_SECONDS", 0.0)
    plan = write_plan(tmp_path / "plan.json")
    faults.activate(plan)
    fault_point("kpi.after_receive")
    assert not list(tmp_path.glob("fired-*"))
    # When the harness rewrites it with a rule
    write_plan(plan, PointRule(id="late", point="kpi.after_receive", action="pause"))
    fault_point("kpi.after_receive")
    # Then the rule fires
    assert [p.name for p in tmp_path.glob("fired-*")] == ["fired-late-0.json"]


def test_every_fault_point_in_the_code_is_a_documented_point() -> None:
    # Given every call of fault_point in the services and the runtime
    sources = [
        *sorted((REPO / "runtime" / "src").rglob("*.py")),
        *sorted((REPO / "services").rglob("*.py")),
    ]
    called: set[str] = set()
    for source in sources:
        text = source.read_text()
        called.update(re.findall(r'fault_point\(\s*"([a-z_]+\.[a-z_]+)"', text))
        for stage_point in re.findall(r'fault_point\(\s*f"\{self\.stage\}\.([a-z_]+)"', text):
            called.update(f"{stage}.{stage_point}" for stage in ("load", "validate", "kpi"))
    # Then each names a point of POINTS, and each point is placed somewhere
    assert called - set(POINTS) == set()
    assert set(POINTS) - called == set()
