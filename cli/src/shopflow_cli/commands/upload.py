"""``shopflow upload PATH...``: put files (or every data file of a folder) under ``landing/``."""

from __future__ import annotations

from pathlib import Path

import click

from shopflow_cli import operations, output
from shopflow_cli.options import target_options
from shopflow_cli.output import UserError
from shopflow_cli.target import TargetRef


def files_to_upload(paths: tuple[Path, ...]) -> list[tuple[Path, str]]:
    """(file, object name) pairs: a file under its own name, a folder's files under their
    path inside it (split exports repeat names across folders)."""
    chosen: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            found = operations.csv_files_under(path)
            if not found:
                raise UserError(f"no data files under {path} (looked for CSV, gzip, TSV, TXT)")
            chosen.extend((file, file.relative_to(path).as_posix()) for file in found)
        elif path.is_file():
            chosen.append((path, path.name))
        else:
            raise UserError(f"no such file or folder: {path}")
    return chosen


@click.command(name="upload")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@target_options
def command(target: TargetRef, paths: tuple[Path, ...]) -> None:
    """Upload files, or every data file of a folder, under landing/ of the data bucket.

    Example: shopflow upload samples/thelook-small
    """
    chosen = files_to_upload(paths)
    resolved = target.resolve()
    keys = operations.upload_files(
        resolved.client("s3"),
        resolved.outputs.data_bucket,
        [file for file, _ in chosen],
        names=[name for _, name in chosen],
    )
    for key in keys:
        output.line(f"s3://{resolved.outputs.data_bucket}/{key}")
