"""A worker SIGKILLed at each named point of its task, restarted as ECS would.

Each round kills one loader, one validator and one kpi worker, each at one of its points
(every point of every worker is in some round), during a single run of the sample. Whatever
was interrupted, the run must succeed with the clean run's KPIs and every row accounted
for, and each crash must be recovered from in bounded time: the dead worker's message comes
back after the (shortened) visibility timeout and the restarted worker, or the other replica,
does the work again, or drops it as stale when the run had its answer already.

moto keeps one task token across a state's Retry attempts (AWS issues a new one each time):
so that recovery does not hang on it, the messages return (visibility 5 s) long before the
states' HeartbeatSeconds (180 s) would time the attempt out.
"""

from __future__ import annotations

import os

import pytest
from fault_scenarios import Scenarios, seconds_text
from shopflow_runtime.faults import POINTS, FaultPlan, PointRule

LOAD = ["after_receive", "mid_download", "after_outputs", "after_answer", "before_delete"]
VALIDATE = [
    "after_receive",
    "mid_download",
    "mid_duckdb",
    "after_outputs",
    "after_answer",
    "before_delete",
]
KPI = [
    "after_receive",
    "mid_download",
    "mid_duckdb",
    "between_tables",
    "before_publish",
    "after_outputs",
    "after_answer",
    "before_delete",
]
TRIGGER = ["before_claim", "after_claim", "after_start"]
# Recovery must come well below the states' HeartbeatSeconds (180 s) and TimeoutSeconds.
RECOVERY_BOUND_SECONDS = 60


def rounds() -> list[list[str]]:
    loader = [f"load.{p}" for p in LOAD] + [f"trigger.{p}" for p in TRIGGER]
    validator = [f"validate.{p}" for p in VALIDATE]
    kpi = [f"kpi.{p}" for p in KPI]
    size = max(len(loader), len(validator), len(kpi))
    return [
        [points[i] for points in (loader, validator, kpi) if i < len(points)] for i in range(size)
    ]


def test_the_rounds_cover_every_point_of_every_worker() -> None:
    covered = {point for round_ in rounds() for point in round_}
    assert covered == set(POINTS)


def kill_rule(point: str) -> PointRule:
    # "mid_duckdb" marks where DuckDB starts; the kill lands a moment later, inside it.
    delay = 0.2 if point.endswith("mid_duckdb") else 0.0
    return PointRule(id=point.replace(".", "-"), point=point, delay_seconds=delay)


@pytest.mark.parametrize("points", rounds(), ids=lambda points: "+".join(points))
def test_a_worker_killed_at_a_named_point_is_recovered_from(
    scenarios: Scenarios, points: list[str]
) -> None:
    # Given one kill armed per worker kind, each at a named point of its task
    plan = FaultPlan(points=tuple(kill_rule(point) for point in points))
    restarts_before = sum(scenarios.stack.local.restarts(w) for w in scenarios.stack.workers())

    # When the sample is uploaded and everything settles
    outcome = scenarios.run(plan)

    # Then every kill happened, in a process that is gone and was replaced
    assert sorted(outcome.fired_points()) == sorted(points)
    for fired in outcome.fired:
        with pytest.raises(ProcessLookupError):
            os.kill(fired.pid, 0)
    restarts = sum(scenarios.stack.local.restarts(w) for w in scenarios.stack.workers())
    assert restarts - restarts_before == len(points)
    # And the pipeline survived: the clean run's KPIs, every row accounted for, queues empty
    scenarios.assert_survived(outcome)
    # And a command whose answer was out before the kill came back and was dropped as stale
    answered = [p for p in points if p.endswith((".after_answer", ".before_delete"))]
    dropped = {(r["stage"], r["run_id"]) for r in scenarios.stale_drops(outcome)}
    for point in answered:
        stage = point.split(".", 1)[0]
        assert any(drop[0] == stage for drop in dropped), (point, dropped)
    # And each crash was recovered from in bounded time
    for fired in outcome.fired:
        seconds = outcome.recoveries[fired.rule]
        assert seconds == seconds and seconds < RECOVERY_BOUND_SECONDS, (fired.point, seconds)
        scenarios.record(
            f"SIGKILL at `{fired.point}`",
            "1 kill (with "
            + ", ".join(f"`{p}`" for p in points if p != fired.point)
            + " in the same run)",
            seconds_text(seconds),
            POINTS[fired.point],
        )
