"""Curated Parquet read from the data bucket."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from shopflow_contracts.rows import FileKind

from shopflow_kpi.ports import CuratedObject, CuratedObjectsMissingError

_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3CuratedStore:
    """Lists ``curated/<kind>/`` in the data bucket and downloads objects to local disk."""

    def __init__(
        self, s3_client: Any, bucket: str, prefix: str = "curated/", max_workers: int = 8
    ) -> None:
        self._s3 = s3_client
        self._bucket = bucket
        self._prefix = prefix
        self._max_workers = max_workers

    def list_curated(self, kind: FileKind) -> list[CuratedObject]:
        paginator = self._s3.get_paginator("list_objects_v2")
        found = []
        for page in paginator.paginate(Bucket=self._bucket, Prefix=f"{self._prefix}{kind.value}/"):
            for entry in page.get("Contents", []):
                if entry["Key"].endswith(".parquet"):
                    found.append(
                        CuratedObject(
                            kind, self._bucket, entry["Key"], entry.get("ETag", "").strip('"')
                        )
                    )
        return found

    def fetch(self, objects: Sequence[CuratedObject], into: Path) -> Mapping[CuratedObject, Path]:
        # Local names are positional, not the keys: a key may hold characters (brackets,
        # '*', '?') that DuckDB would read as a glob pattern.
        targets = {obj: into / obj.kind.value / f"{n:07d}.parquet" for n, obj in enumerate(objects)}
        for kind in {obj.kind for obj in objects}:
            (into / kind.value).mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=self._max_workers) as pool:
            outcomes = list(pool.map(self._download, targets.items()))
        missing = [obj for obj, present in zip(targets, outcomes, strict=True) if not present]
        if missing:
            raise CuratedObjectsMissingError(missing)
        return targets

    def _download(self, target: tuple[CuratedObject, Path]) -> bool:
        obj, path = target
        try:
            self._s3.download_file(obj.bucket, obj.key, str(path))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING_CODES:
                return False
            raise
        return True


class S3ReportSink:
    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket

    def put_json(self, key: str, document: Mapping[str, object]) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(document, indent=2).encode(),
            ContentType="application/json",
        )
