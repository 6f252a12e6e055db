"""Fixtures of the kpi unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from kpi_lake import CuratedLake


@pytest.fixture
def lake(tmp_path: Path) -> CuratedLake:
    return CuratedLake(tmp_path / "lake")
