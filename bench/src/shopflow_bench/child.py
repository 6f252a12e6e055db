"""Each measured stage runs in a fresh child interpreter, so stages never share a heap.

``run_child(task, spec)`` starts ``python -m shopflow_bench.child <task> <spec> <out>``
and reaps it with ``os.wait4``, whose resource usage is that one child's alone (unlike
``getrusage(RUSAGE_CHILDREN)``, a running maximum over every child ever reaped).

The peak RSS reported is the child's own ``VmHWM`` from ``/proc/self/status``, read when its
task ends: the high-water mark of the address space ``exec`` created, so the interpreter,
the DuckDB/pandas imports and the stage's work, as a service process would have them. Linux
also folds the *parent's* RSS at fork time into the child's ``ru_maxrss`` (the forked copy
is resident until ``exec``), which would put the orchestrator's own heap under every stage;
``ru_maxrss`` is kept in the result only as a cross-check. The task's timings come back as
JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Spec = dict[str, Any]
HWM_KEY = "_vmhwm_kib"
TaskResult = dict[str, Any]


@dataclass(frozen=True)
class ChildRun:
    task: str
    result: TaskResult
    peak_rss_mib: float
    wall_seconds: float
    """Whole child lifetime, interpreter start-up included."""
    ru_maxrss_mib: float


class ChildFailedError(RuntimeError):
    pass


def _tasks() -> dict[str, Callable[[Spec], TaskResult]]:
    from shopflow_bench import incremental, stages

    return {
        "shopflow_validate": stages.shopflow_validate,
        "shopflow_kpi": stages.shopflow_kpi,
        "pandas_validate": stages.pandas_validate,
        "pandas_kpi": stages.pandas_kpi,
        "pandas_pipeline": stages.pandas_pipeline,
        "plain_validate": stages.plain_validate,
        "plain_kpi": stages.plain_kpi,
        "incremental": incremental.incremental_task,
        "full_recompute": incremental.full_task,
    }


def run_child(task: str, spec: Spec, *, log_dir: Path | None = None) -> ChildRun:
    """Run ``task`` with ``spec`` in a child process; raises ChildFailedError if it fails."""
    with tempfile.TemporaryDirectory(prefix="shopflow-bench-") as scratch:
        spec_path = Path(scratch) / "spec.json"
        out_path = Path(scratch) / "result.json"
        err_path = (log_dir or Path(scratch)) / f"{task}.stderr.log"
        err_path.parent.mkdir(parents=True, exist_ok=True)
        spec_path.write_text(json.dumps(spec))
        started = time.perf_counter()
        with err_path.open("wb") as err:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "shopflow_bench.child",
                    task,
                    str(spec_path),
                    str(out_path),
                ],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
            )
            # wait4 reaps this child only and returns its own rusage (not a running maximum
            # over every child, as getrusage(RUSAGE_CHILDREN) would).
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        if process.returncode != 0:
            tail = err_path.read_text(errors="replace")[-4000:]
            raise ChildFailedError(f"{task} exited with {process.returncode}:\n{tail}")
        result: TaskResult = json.loads(out_path.read_text())
    # Linux reports ru_maxrss (and VmHWM) in KiB.
    ru_maxrss = usage.ru_maxrss / 1024
    hwm = result.pop(HWM_KEY, None)
    peak = hwm / 1024 if isinstance(hwm, int | float) else ru_maxrss
    return ChildRun(task, result, peak, wall, ru_maxrss)


def own_peak_rss_kib() -> int | None:
    """This process's peak RSS (VmHWM) in KiB, or None where /proc is unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    task, spec_path, out_path = argv if argv is not None else sys.argv[1:]
    spec: Spec = json.loads(Path(spec_path).read_text())
    result = _tasks()[task](spec)
    result[HWM_KEY] = own_peak_rss_kib()
    Path(out_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
