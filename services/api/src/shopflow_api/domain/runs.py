"""A run (one Step Functions execution) as readers want it: state, stages, every file's rows.

Built from what Step Functions keeps: the execution's status and times, the states it
entered (its history) and its output, where each stage's result envelope sits under
``$.load``, ``$.validation`` and ``$.kpis``. A run that succeeded but set files aside
(quarantined) is ``PARTIAL``: its KPIs lack those files' rows.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

COUNTS = ("rows_in", "accepted", "rejected", "duplicates", "pending")


@dataclass(frozen=True)
class Execution:
    name: str
    status: str
    started_at: datetime
    stopped_at: datetime | None
    output: str | None = None
    entered_states: Sequence[str] = ()
    failure: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class FileLine:
    source_key: str
    kind: str
    status: str
    counts: dict[str, int]
    reasons: list[dict[str, Any]]
    report_key: str | None
    quarantine: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "source_key": self.source_key,
            "kind": self.kind,
            "status": self.status,
            **self.counts,
            "top_reasons": self.reasons,
            "report_key": self.report_key,
            "quarantine": self.quarantine,
        }


@dataclass(frozen=True)
class RunView:
    execution: Execution
    files: list[FileLine] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.execution.status == "SUCCEEDED" and self.quarantined:
            return "PARTIAL"
        return self.execution.status

    @property
    def quarantined(self) -> list[FileLine]:
        return [line for line in self.files if line.status == "quarantined"]

    def rejects_by_rule(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for line in self.files:
            for reason in line.reasons:
                totals[str(reason["rule"])] += int(reason["count"])
        return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))

    def as_json(self) -> dict[str, Any]:
        run = self.execution
        stopped = run.stopped_at
        totals = {name: sum(line.counts.get(name, 0) for line in self.files) for name in COUNTS}
        return {
            "run_id": run.name,
            "status": self.status,
            "execution_status": run.status,
            "started_at": run.started_at.isoformat(),
            "stopped_at": None if stopped is None else stopped.isoformat(),
            "duration_seconds": None
            if stopped is None
            else round((stopped - run.started_at).total_seconds(), 3),
            "stages": list(run.entered_states),
            "stage": run.entered_states[-1] if run.entered_states else None,
            "files": [line.as_json() for line in self.files],
            "totals": totals,
            "skipped": self.skipped,
            "quarantined": [
                {"source_key": line.source_key, "kind": line.kind, "reason": line.quarantine}
                for line in self.quarantined
            ],
            "rejects_by_rule": self.rejects_by_rule(),
            "failure": None if run.failure is None else dict(run.failure),
        }


def _at(document: Any, *path: str) -> Any:
    for name in path:
        document = document.get(name) if isinstance(document, dict) else None
    return document


def run_view(execution: Execution) -> RunView:
    """Every file of the run with its row accounting (``rows_in = accepted + rejected +
    duplicates + pending``): the validator's counts, with what the kpi stage found settled
    (rows identical to earlier ones are duplicates, items waiting for their order or product
    are pending) moved out of ``accepted``."""
    try:
        document = json.loads(execution.output) if execution.output else {}
    except ValueError:
        document = {}
    settled = {
        str(entry.get("source_key")): entry
        for entry in _at(document, "kpis", "payload", "settled_files") or []
    }
    files = [
        _file_line(item, settled.get(str(item.get("source_key")), {}))
        for item in _at(document, "validation", "payload", "files") or []
    ]
    skipped = [
        {
            "source_key": item.get("source_key"),
            "reason": item.get("reason"),
            "detail": item.get("detail"),
            "first_seen_batch_id": item.get("first_seen_batch_id"),
        }
        for item in _at(document, "load", "payload", "skipped") or []
    ]
    return RunView(execution, files, skipped)


def _file_line(item: Mapping[str, Any], settled: Mapping[str, Any]) -> FileLine:
    counts = {name: int(item.get(name) or 0) for name in COUNTS}
    for moved_to in ("duplicates", "pending"):
        moved = min(int(settled.get(moved_to) or 0), counts["accepted"])
        counts["accepted"] -= moved
        counts[moved_to] += moved
    quarantine = item.get("quarantine")
    return FileLine(
        source_key=str(item.get("source_key", "?")),
        kind=str(item.get("kind", "?")),
        status=str(item.get("status") or "accepted"),
        counts=counts,
        reasons=[
            {"rule": str(reason["rule"]), "count": int(reason["count"])}
            for reason in item.get("top_reasons") or []
        ],
        report_key=item.get("report_key"),
        quarantine=quarantine.get("message") if isinstance(quarantine, dict) else None,
    )


def failure_in(history: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The typed failure a failed run took into its failure path: the failure path keeps the
    stage's error in ``$.error`` (``Error``, ``Cause``; the cause the worker's ``TaskFailure``
    JSON), so the last entered state whose input holds it tells the whole failure."""
    for event in reversed(list(history)):
        entered = event.get("stateEnteredEventDetails") or {}
        try:
            state_input = json.loads(entered.get("input") or "{}")
        except ValueError:
            continue
        error = _at(state_input, "error")
        if not isinstance(error, dict) or not error.get("Error"):
            continue
        failure: dict[str, Any] = {"error": error["Error"]}
        cause = str(error.get("Cause") or "")
        try:
            typed = json.loads(cause)
        except ValueError:
            typed = None
        failure.update(typed if isinstance(typed, dict) else {"reason": cause or None})
        return failure
    return None


def entered_states(history: Iterable[Mapping[str, Any]]) -> list[str]:
    return [
        str(event["stateEnteredEventDetails"]["name"])
        for event in history
        if event.get("stateEnteredEventDetails")
    ]
