"""The message envelope every shopflow message travels in.

An envelope carries identity (``message_id``), the pipeline run it belongs to
(``run_id``, the Step Functions execution name), when it was produced, a version
of its own shape, and a typed payload. Commands sent by the state machine also
carry the task token the worker must answer with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1


class Contract(BaseModel):
    """Base of every contract model: immutable, and unknown fields are an error, not noise."""

    model_config = ConfigDict(frozen=True, extra="forbid")


PayloadT = TypeVar("PayloadT", bound=Contract)


class Envelope(Contract, Generic[PayloadT]):
    schema_version: Literal[1] = Field(
        default=SCHEMA_VERSION, description="Version of the envelope and payload shape."
    )
    message_type: str = Field(description="Names the payload type; fixed per concrete message.")
    message_id: UUID
    run_id: str = Field(min_length=1, max_length=80, description="Step Functions execution name.")
    occurred_at: AwareDatetime
    task_token: str | None = Field(
        default=None,
        description="Step Functions callback token, on commands sent with waitForTaskToken.",
    )
    payload: PayloadT


def utc_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
