"""Which shopflow a command talks to: the running local stack, or a deployed stack on AWS."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopflow_cli.deploy import StackOutputs

DEFAULT_STATE_FILE = Path(".shopflow/stack.json")


@dataclass(frozen=True)
class Target:
    """A deployed shopflow: AWS (no endpoint) or a local stack (the moto endpoint)."""

    endpoint_url: str | None
    outputs: StackOutputs
    # The local stack's saved runs (those from before its last restart), when it has any.
    archive_file: Path | None = None

    def client(self, service: str) -> Any:
        from shopflow_cli.clients import aws_client

        return aws_client(service, self.endpoint_url)


@dataclass
class TargetRef:
    """The target options of a command, resolved on first use (``--help`` needs no stack)."""

    state_file: Path
    stack_name: str | None = None
    endpoint_url: str | None = None
    _resolved: Target | None = field(default=None, repr=False)

    def resolve(self) -> Target:
        if self._resolved is None:
            self._resolved = self._resolve()
        return self._resolved

    def _resolve(self) -> Target:
        from shopflow_cli.clients import aws_client
        from shopflow_cli.localstack import StackState

        if self.endpoint_url is None and self.stack_name is None:
            wait_while_starting(self.state_file)
            state = StackState.load(self.state_file)
            return Target(
                state.endpoint_url,
                StackOutputs.model_validate(state.outputs),
                archive_file=Path(state.archive_file) if state.archive_file else None,
            )
        from shopflow_cli.deploy import read_stack_outputs

        stack_name = self.stack_name or "shopflow"
        cloudformation = aws_client("cloudformation", self.endpoint_url)
        return Target(self.endpoint_url, read_stack_outputs(cloudformation, stack_name))


def wait_while_starting(state_file: Path, timeout: float = 180) -> None:
    """If a ``shopflow up`` is starting (it holds the lock, no state file yet), wait for it:
    ``shopflow up & shopflow upload DIR`` then just works."""
    import fcntl
    import time

    lock_path = state_file.with_name(state_file.name + ".lock")
    if state_file.exists() or not lock_path.exists():
        return
    deadline = time.monotonic() + timeout
    noted = False
    with lock_path.open("a") as lock:
        while not state_file.exists():
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not noted:
                    from shopflow_cli.output import note

                    note(f"waiting for the local stack to start ({state_file}) ...")
                    noted = True
                if time.monotonic() > deadline:
                    return
                time.sleep(0.3)
                continue
            fcntl.flock(lock, fcntl.LOCK_UN)  # nobody is starting one
            return
