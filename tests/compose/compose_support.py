"""Running compose.yaml's stack from the tests: project, endpoint and docker commands."""

from __future__ import annotations

import json
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKERS = ("loader", "validator", "kpi")
# Every long-running service of compose.yaml: the workers and the API.
SERVICES = (*WORKERS, "api")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ComposeStack:
    project: str
    endpoint_url: str
    environment: dict[str, str]
    api_url: str = ""

    def compose(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "compose", "-p", self.project, *args],
            cwd=REPO_ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def states(self) -> dict[str, dict[str, Any]]:
        listed = self.compose("ps", "--all", "--format", "json").stdout
        rows = [json.loads(line) for line in listed.splitlines() if line.strip()]
        return {row["Service"]: row for row in rows}


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
