"""The runs' history, from Step Functions: ListExecutions, DescribeExecution (the output
with every stage's result) and GetExecutionHistory (the states entered, a failure's cause)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from shopflow_api.domain.runs import Execution, entered_states, failure_in

LISTED_FOR_CHANGES = 10


class StepFunctionsRunHistory:
    def __init__(self, sfn_client: Any, state_machine_arn: str) -> None:
        self._sfn = sfn_client
        self._state_machine_arn = state_machine_arn

    async def _listed(self, limit: int) -> list[dict[str, Any]]:
        response = await self._sfn.list_executions(
            stateMachineArn=self._state_machine_arn, maxResults=limit
        )
        listed = list(response.get("executions", []))
        # AWS lists newest first; not every endpoint does, so the order is made sure of.
        return sorted(listed, key=lambda execution: execution["startDate"], reverse=True)

    async def recent(self, limit: int) -> list[Execution]:
        listed = await self._listed(limit)
        return list(await asyncio.gather(*(self._execution(entry) for entry in listed)))

    async def latest_change(self) -> str:
        listed = await self._listed(LISTED_FOR_CHANGES)
        text = "|".join(f"{entry['name']}:{entry['status']}" for entry in listed)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    async def _execution(self, entry: dict[str, Any]) -> Execution:
        arn = entry["executionArn"]
        described, history = await asyncio.gather(
            self._sfn.describe_execution(executionArn=arn), self._history(arn)
        )
        status = str(described.get("status") or entry["status"])
        return Execution(
            name=str(entry["name"]),
            status=status,
            started_at=described.get("startDate") or entry["startDate"],
            stopped_at=described.get("stopDate") or entry.get("stopDate"),
            output=described.get("output"),
            entered_states=entered_states(history),
            failure=failure_in(history) if status not in {"SUCCEEDED", "RUNNING"} else None,
        )

    async def _history(self, arn: str) -> list[dict[str, Any]]:
        # Oldest first, read whole (a run's history is short): not every endpoint honours
        # reverseOrder.
        events: list[dict[str, Any]] = []
        paginator = self._sfn.get_paginator("get_execution_history")
        async for page in paginator.paginate(executionArn=arn):
            events.extend(page.get("events", []))
        return events
