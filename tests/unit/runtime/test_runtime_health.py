"""The worker's liveness file, its health check, and the keep-alive settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from shopflow_contracts.messages import KpiCommand
from shopflow_runtime.aws import EcsTaskProtection, FileLiveness
from shopflow_runtime.clients import AwsClientFactory
from shopflow_runtime.health import HealthSettings, problem
from shopflow_runtime.settings import AwsSettings, WorkerSettings
from shopflow_runtime.wiring import build_task_worker
from shopflow_runtime.worker import KeepAlivePolicy


def test_a_fresh_beat_is_healthy_an_old_or_missing_one_is_not(tmp_path: Path) -> None:
    # Given a liveness file beaten just now
    alive = tmp_path / "state" / "alive"
    FileLiveness(alive).beat()
    settings = HealthSettings(health_file=alive, health_max_age_seconds=120)
    beaten = alive.stat().st_mtime
    # Then it is healthy now, and unhealthy once older than the allowed age
    assert problem(settings, now=beaten + 1) is None
    assert "last progress 121s ago" in str(problem(settings, now=beaten + 121))
    # ... and a worker that never beat, or has no file configured, is unhealthy
    assert "does not exist" in str(problem(HealthSettings(health_file=tmp_path / "nope"), 0))
    assert "not set" in str(problem(HealthSettings(), 0))


def test_the_health_check_command_exits_by_the_file_age(tmp_path: Path) -> None:
    # Given the console script's module, run as the container's HEALTHCHECK runs it
    alive = tmp_path / "alive"
    FileLiveness(alive).beat()

    def check(max_age: str) -> subprocess.CompletedProcess[str]:
        environment = {
            **os.environ,
            "SHOPFLOW_HEALTH_FILE": str(alive),
            "SHOPFLOW_HEALTH_MAX_AGE_SECONDS": max_age,
        }
        return subprocess.run(
            [sys.executable, "-c", "import sys, shopflow_runtime.health as h; sys.exit(h.main())"],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )

    old = 1_000_000.0
    os.utime(alive, (old, old))
    # Then an old beat fails the check with a reason, a recent one passes
    stale = check("120")
    assert stale.returncode == 1 and "unhealthy: last progress" in stale.stderr
    FileLiveness(alive).beat()
    assert check("120").returncode == 0


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def worker_settings(**overrides: object) -> WorkerSettings:
    return WorkerSettings.model_validate(
        {"data_bucket": "data", "ledger_table": "ledger", **overrides}
    )


def test_keep_alive_settings_become_the_worker_policy() -> None:
    settings = worker_settings(heartbeat_interval_seconds=10, task_visibility_seconds=45)
    assert settings.keep_alive_policy() == KeepAlivePolicy(
        interval_seconds=10, visibility_seconds=45
    )


def test_a_visibility_window_too_short_for_the_heartbeats_is_refused_at_load() -> None:
    with pytest.raises(ValidationError, match="visibility window"):
        worker_settings(heartbeat_interval_seconds=30, task_visibility_seconds=50)


def test_in_an_ecs_task_the_worker_asks_the_agent_for_scale_in_protection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given the variable ECS sets in every task (no SHOPFLOW_ prefix) and a health file
    monkeypatch.setenv("ECS_AGENT_URI", "http://169.254.170.2/api/task")
    settings = worker_settings(health_file=tmp_path / "alive")
    # When the worker is assembled
    worker = build_task_worker(
        stage="kpi",
        command_type=KpiCommand,
        handle=lambda command: command.payload,
        queue_url="http://127.0.0.1:1/queue/kpi",
        settings=settings,
        clients=AwsClientFactory(AwsSettings(aws_endpoint_url="http://127.0.0.1:1")),
    )
    # Then it holds the agent's protection, beats its liveness file, keeps the policy
    assert isinstance(worker.protection, EcsTaskProtection)
    assert isinstance(worker.liveness, FileLiveness)
    assert worker.keep_alive == KeepAlivePolicy()


def test_outside_ecs_there_is_no_protection_to_ask_for() -> None:
    worker = build_task_worker(
        stage="kpi",
        command_type=KpiCommand,
        handle=lambda command: command.payload,
        queue_url="http://127.0.0.1:1/queue/kpi",
        settings=worker_settings(),
        clients=AwsClientFactory(AwsSettings(aws_endpoint_url="http://127.0.0.1:1")),
    )
    assert worker.protection is None and worker.liveness is None
