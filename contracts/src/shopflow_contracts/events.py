"""The S3 "Object Created" event as EventBridge delivers it (here: into the arrivals queue).

Field names follow the AWS event exactly (``detail-type``, ``request-id``); unknown fields
are ignored because AWS adds fields to its events without notice.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field

from shopflow_contracts.messages import LandedObject


class _AwsEventModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class S3Bucket(_AwsEventModel):
    name: str


class S3Object(_AwsEventModel):
    key: str
    size: int = Field(default=0, ge=0)
    # AWS spells it "etag"; some emulators "eTag".
    etag: str = Field(default="", validation_alias=AliasChoices("etag", "eTag"))
    sequencer: str = ""
    version_id: str | None = Field(default=None, alias="version-id")


class S3ObjectCreatedDetail(_AwsEventModel):
    version: str = "0"
    bucket: S3Bucket
    object: S3Object
    request_id: str | None = Field(default=None, alias="request-id")
    requester: str | None = None
    reason: str | None = None


class S3ObjectCreatedEvent(_AwsEventModel):
    version: str = "0"
    id: str
    detail_type: Literal["Object Created"] = Field(alias="detail-type")
    source: Literal["aws.s3"]
    account: str
    time: AwareDatetime
    region: str
    resources: list[str] = Field(default_factory=list)
    detail: S3ObjectCreatedDetail

    def landed_object(self) -> LandedObject:
        return LandedObject(
            bucket=self.detail.bucket.name,
            key=self.detail.object.key,
            size=self.detail.object.size,
            etag=self.detail.object.etag.strip('"'),
            sequencer=self.detail.object.sequencer,
            event_time=self.time,
            event_id=self.id,
            version_id=self.detail.object.version_id,
        )
