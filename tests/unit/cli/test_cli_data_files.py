"""Which files of a directory `shopflow demo --data DIR` uploads."""

from __future__ import annotations

from pathlib import Path

from shopflow_cli.operations import csv_files_under


def test_data_files_are_found_whatever_their_names_but_notes_and_hidden_files_are_not(
    tmp_path: Path,
) -> None:
    # Given exports under meaningless names, nested, one gzipped, beside non-data files
    names = [
        "orders.csv",
        "x/7f3a9c",
        "x/y/part-00001.csv.gz",
        "EXPORT.CSV",
        "items.2025-03-30",
        "manifest.json",
        "README.md",
        ".DS_Store",
    ]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("id\n")
    # When the directory is searched
    found = [p.relative_to(tmp_path).as_posix() for p in csv_files_under(tmp_path)]
    # Then every export is there, in a stable order, and nothing else
    assert found == sorted(
        ["orders.csv", "x/7f3a9c", "x/y/part-00001.csv.gz", "EXPORT.CSV", "items.2025-03-30"]
    )
