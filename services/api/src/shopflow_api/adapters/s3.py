"""Validation reports, from ``reports/batch=<id>/<stem>.report.json`` in the data bucket.

The bucket is the index: reports are listed (ListObjectsV2), and only those whose name can
belong to the file asked about are read (a report's stem is the staged name, ``<n>-`` and the
file name without ``.csv``/``.gz``)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError
from shopflow_contracts.report import ValidationReport

REPORTS_PREFIX = "reports/"
REPORT_SUFFIX = ".report.json"


def file_stem(name: str) -> str:
    stem = name.rsplit("/", 1)[-1]
    for suffix in (".gz", ".csv"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem


def may_be_report_of(report_key: str, file: str) -> bool:
    name = report_key.rsplit("/", 1)[-1]
    return name.endswith(REPORT_SUFFIX) and f"-{file_stem(file)}" in name


def is_report_of(source_key: str, file: str) -> bool:
    """An object key names itself; a bare file name matches it under any prefix."""
    if "/" in file:
        return source_key == file
    return source_key.rsplit("/", 1)[-1] == file


class S3ReportStore:
    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket

    async def reports_of(self, file: str) -> list[dict[str, Any]]:
        candidates: list[tuple[str, Any]] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self._bucket, Prefix=REPORTS_PREFIX):
            for entry in page.get("Contents", []):
                if may_be_report_of(entry["Key"], file):
                    candidates.append((entry["Key"], entry["LastModified"]))
        read = await asyncio.gather(*(self._read(key) for key, _ in candidates))
        reports = []
        for (key, modified), report in zip(candidates, read, strict=True):
            if report is None or not is_report_of(report.source_key, file):
                continue
            reports.append(
                {"report_key": key, "last_modified": modified.isoformat(), **report.model_dump()}
            )
        return sorted(reports, key=lambda found: (found["last_modified"], found["batch_id"]))

    async def _read(self, key: str) -> ValidationReport | None:
        response = await self._s3.get_object(Bucket=self._bucket, Key=key)
        async with response["Body"] as body:
            data = await body.read()
        try:
            return ValidationReport.model_validate_json(data)
        except ValidationError:
            # A report this version cannot read is left out rather than shown half-understood.
            return None
