"""Uploading a directory of exports to the landing prefix (moto server over HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopflow_cli.operations import csv_files_under, upload_files


def test_files_sharing_a_name_in_different_folders_keep_apart(
    aws_client: Any, unique_name: Any, tmp_path: Path
) -> None:
    # Given two pieces of a split export with the same file name in different folders
    s3 = aws_client("s3")
    bucket = unique_name("landing")
    s3.create_bucket(Bucket=bucket)
    for folder, body in (("orders", "a\n"), ("order_items", "b\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "part-0.csv").write_text(body)
    files = csv_files_under(tmp_path)
    # When they are uploaded under their relative paths
    keys = upload_files(
        s3, bucket, files, names=[p.relative_to(tmp_path).as_posix() for p in files]
    )
    # Then both arrive, neither overwriting the other
    assert keys == ["landing/order_items/part-0.csv", "landing/orders/part-0.csv"]
    bodies = [s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys]
    assert bodies == [b"b\n", b"a\n"]
