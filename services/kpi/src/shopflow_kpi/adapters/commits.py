"""Uncommitted-batch markers in the data bucket (``shopflow_contracts.storage``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError
from shopflow_contracts.storage import (
    UNCOMMITTED_PREFIX,
    UncommittedBatch,
    batch_of_marker,
    uncommitted_key,
)

log = logging.getLogger("shopflow.kpi")

_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3BatchCommits:
    """One small JSON object per uncommitted batch; deleting it commits the batch."""

    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket

    def uncommitted(self) -> list[UncommittedBatch]:
        found = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=UNCOMMITTED_PREFIX):
            for entry in page.get("Contents", []):
                batch_id = batch_of_marker(entry["Key"])
                if batch_id is None:
                    continue
                marker = self._read(batch_id)
                if marker is not None:
                    found.append(marker)
        return found

    def writing(self, batch_id: str, order_dates: Sequence[date]) -> None:
        earlier = self._read(batch_id)
        # An earlier attempt of the same batch may have written other dates: keep them.
        dates = sorted({*order_dates, *(earlier.order_dates if earlier else [])})
        self._put(
            UncommittedBatch(
                batch_id=batch_id,
                marked_at=earlier.marked_at if earlier else datetime.now(UTC),
                order_dates=dates,
            )
        )

    def recomputed(self, batches: Sequence[UncommittedBatch]) -> None:
        for marker in batches:
            self._put(marker.model_copy(update={"order_dates": []}))

    def commit(self, batch_id: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=uncommitted_key(batch_id))

    def _read(self, batch_id: str) -> UncommittedBatch | None:
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=uncommitted_key(batch_id))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING_CODES:
                return None  # committed between the listing and the read
            raise
        try:
            return UncommittedBatch.model_validate_json(body["Body"].read())
        except ValidationError:
            # Still uncommitted: only the dates it was writing are unknown.
            log.warning("unreadable uncommitted marker of batch %s", batch_id, exc_info=True)
            return UncommittedBatch(batch_id=batch_id, marked_at=datetime.now(UTC))

    def _put(self, marker: UncommittedBatch) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=uncommitted_key(marker.batch_id),
            Body=marker.model_dump_json().encode("utf-8"),
            ContentType="application/json",
        )
