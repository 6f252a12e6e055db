from __future__ import annotations

import hashlib
from typing import Any

_CHUNK = 1024 * 1024


def _version(version_id: str | None) -> dict[str, str]:
    # "null" is what S3 calls the one version of an object written before versioning.
    return {"VersionId": version_id} if version_id and version_id != "null" else {}


class S3ObjectStore:
    def __init__(self, s3_client: Any) -> None:
        self._s3 = s3_client

    def size_of(self, bucket: str, key: str, version_id: str | None = None) -> int | None:
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key, **_version(version_id))
        except self._s3.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return int(head["ContentLength"])

    def read_prefix(
        self, bucket: str, key: str, length: int, version_id: str | None = None
    ) -> bytes:
        response = self._s3.get_object(
            Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}", **_version(version_id)
        )
        return bytes(response["Body"].read())

    def sha256_of(self, bucket: str, key: str, version_id: str | None = None) -> str:
        digest = hashlib.sha256()
        body = self._s3.get_object(Bucket=bucket, Key=key, **_version(version_id))["Body"]
        for chunk in body.iter_chunks(_CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def copy(
        self,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        version_id: str | None = None,
    ) -> None:
        # Managed copy: server-side, multipart above 8 MB, so no data flows through the task.
        source = {"Bucket": source_bucket, "Key": source_key, **_version(version_id)}
        self._s3.copy(source, bucket, key)
