"""Settings every shopflow process shares, read from ``SHOPFLOW_*`` environment variables.

Each service subclasses :class:`WorkerSettings` (an HTTP service :class:`AwsSettings`) and adds
its own fields; the shared ones are spelled, bounded and documented once, here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopflow_runtime.worker import KeepAlivePolicy

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
AddressingStyle = Literal["auto", "path", "virtual"]


class AwsSettings(BaseSettings):
    """How a process reaches AWS (or an emulator) and how it logs."""

    model_config = SettingsConfigDict(env_prefix="SHOPFLOW_", extra="ignore", populate_by_name=True)

    aws_endpoint_url: str | None = Field(
        default=None, description="Unset on AWS; the moto server URL on a laptop or in compose."
    )
    aws_region: str = "us-east-1"
    aws_retry_mode: Literal["standard", "adaptive"] = Field(
        default="standard",
        description="botocore retry mode: 'adaptive' also rate-limits the client on throttling.",
    )
    aws_max_attempts: int = Field(
        default=5, ge=1, le=20, description="Attempts per call, the first one included."
    )
    aws_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    aws_read_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=900,
        description="Must exceed the SQS long-poll wait, or every empty poll times out.",
    )
    s3_addressing_style: AddressingStyle | None = Field(
        default=None,
        description="Unset: path-style against an endpoint URL (emulators such as the moto "
        "server only understand it), AWS's own choice otherwise.",
    )
    log_level: LogLevel = "INFO"
    fault_plan: Path | None = Field(
        default=None,
        description="Testing only (tests/faults, the soak): a fault plan file that arms the "
        "named fault points and AWS call faults of shopflow_runtime.faults. Unset in production.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def effective_s3_addressing_style(self) -> AddressingStyle:
        if self.s3_addressing_style is not None:
            return self.s3_addressing_style
        return "path" if self.aws_endpoint_url else "auto"

    def client_config_options(self) -> dict[str, Any]:
        """Keyword arguments for ``botocore.config.Config`` (or aiobotocore's ``AioConfig``).

        A dict rather than a ``Config`` so an asyncio client factory builds its own config
        class from the same values.
        """
        return {
            "region_name": self.aws_region,
            "retries": {"mode": self.aws_retry_mode, "total_max_attempts": self.aws_max_attempts},
            "connect_timeout": self.aws_connect_timeout_seconds,
            "read_timeout": self.aws_read_timeout_seconds,
            "s3": {"addressing_style": self.effective_s3_addressing_style},
        }


class WorkerSettings(AwsSettings):
    """What every queue worker shares: its poll, the data bucket and the ledger table."""

    poll_wait_seconds: int = Field(
        default=20, ge=0, le=20, description="SQS long-poll wait (20 s is SQS's maximum)."
    )
    data_bucket: str
    ledger_table: str = Field(
        description="Holds the typed failures (FAILURE#<run id>) the state machine's failure "
        "path reads, and each service's own ledger items."
    )
    state_machine_arn: str | None = Field(
        default=None,
        description="The pipeline's state machine: a worker reads a run's history to drop a "
        "redelivered command the run no longer waits for. Unset: every command is worked on.",
    )

    heartbeat_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="While a task runs: SendTaskHeartbeat and a visibility extension this often.",
    )
    task_visibility_seconds: int = Field(
        default=90,
        ge=2,
        le=43_200,
        description="Each keep-alive hides the message this long: a dead task's message is "
        "redelivered this long after its last keep-alive. Shorter than the state machine's "
        "HeartbeatSeconds.",
    )
    ecs_agent_uri: str | None = Field(
        default=None,
        # Set by ECS itself in every task, without our prefix.
        validation_alias=AliasChoices("ECS_AGENT_URI", "SHOPFLOW_ECS_AGENT_URI"),
        description="Unset outside ECS: then there is no scale-in protection to ask for.",
    )
    scale_in_protection_minutes: int = Field(
        default=70,
        ge=1,
        le=2880,
        description="A held task's protection expires after this even if never released.",
    )
    health_file: Path | None = Field(
        default=None,
        description="Touched while the worker makes progress; read by shopflow-healthcheck.",
    )

    @model_validator(mode="after")
    def _read_timeout_outlasts_the_poll(self) -> Self:
        if self.aws_read_timeout_seconds <= self.poll_wait_seconds:
            raise ValueError(
                f"aws_read_timeout_seconds ({self.aws_read_timeout_seconds}) must exceed "
                f"poll_wait_seconds ({self.poll_wait_seconds})"
            )
        self.keep_alive_policy()
        return self

    def keep_alive_policy(self) -> KeepAlivePolicy:
        return KeepAlivePolicy(
            interval_seconds=self.heartbeat_interval_seconds,
            visibility_seconds=self.task_visibility_seconds,
        )
