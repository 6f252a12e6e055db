from __future__ import annotations

import hashlib
from typing import Any

_CHUNK = 1024 * 1024


class S3ObjectStore:
    def __init__(self, s3_client: Any) -> None:
        self._s3 = s3_client

    def size_of(self, bucket: str, key: str) -> int | None:
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key)
        except self._s3.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return int(head["ContentLength"])

    def read_prefix(self, bucket: str, key: str, length: int) -> bytes:
        response = self._s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}")
        return bytes(response["Body"].read())

    def sha256_of(self, bucket: str, key: str) -> str:
        digest = hashlib.sha256()
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        for chunk in body.iter_chunks(_CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def copy(self, source_bucket: str, source_key: str, bucket: str, key: str) -> None:
        # Managed copy: server-side, multipart above 8 MB, so no data flows through the task.
        self._s3.copy({"Bucket": source_bucket, "Key": source_key}, bucket, key)
