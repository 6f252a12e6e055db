from __future__ import annotations

from typing import Any

from shopflow_loader.domain.batching import ExecutionState


class StepFunctionsExecutions:
    def __init__(self, sfn_client: Any, state_machine_arn: str) -> None:
        self._sfn = sfn_client
        self._state_machine_arn = state_machine_arn
        # Execution ARNs are the state machine ARN with the resource type swapped, plus the name.
        self._execution_prefix = state_machine_arn.replace(":stateMachine:", ":execution:", 1)

    def execution_arn(self, name: str) -> str:
        return f"{self._execution_prefix}:{name}"

    def start(self, name: str, input_json: str) -> bool:
        try:
            self._sfn.start_execution(
                stateMachineArn=self._state_machine_arn, name=name, input=input_json
            )
        except self._sfn.exceptions.ExecutionAlreadyExists:
            return False
        return True

    def state(self, name: str) -> ExecutionState:
        try:
            described = self._sfn.describe_execution(executionArn=self.execution_arn(name))
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return ExecutionState.MISSING
        return ExecutionState(described["status"])
