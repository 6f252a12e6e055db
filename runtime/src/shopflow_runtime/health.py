"""``shopflow-healthcheck``: the container health check of a worker (exit 0 = healthy).

A worker touches its health file on every pass of its loop and on every keep-alive of a
running task; the check fails when the file is older than the allowed age (or missing), i.e.
when the loop is stuck. ECS replaces a task whose essential container is unhealthy.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HealthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPFLOW_", extra="ignore")

    health_file: Path | None = None
    health_max_age_seconds: float = Field(
        default=120.0,
        gt=0,
        description="More than a long-poll wait plus a keep-alive interval, with margin.",
    )


def problem(settings: HealthSettings, now: float) -> str | None:
    """Why the worker is unhealthy, or None."""
    if settings.health_file is None:
        return "SHOPFLOW_HEALTH_FILE is not set"
    try:
        age = now - settings.health_file.stat().st_mtime
    except FileNotFoundError:
        return f"{settings.health_file} does not exist (no loop pass yet)"
    if age > settings.health_max_age_seconds:
        return f"last progress {age:.0f}s ago (allowed {settings.health_max_age_seconds:.0f}s)"
    return None


def main() -> int:
    found = problem(HealthSettings(), time.time())
    if found is not None:
        print(f"unhealthy: {found}", file=sys.stderr)
        return 1
    return 0
