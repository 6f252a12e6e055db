"""The local stack fixture of the end-to-end tests: one stack per test, stopped after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import BATCH_WINDOW, Pipeline
from shopflow_cli.localstack import LocalStack


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    with LocalStack(
        state_file=tmp_path / "stack" / "stack.json", batch_window_seconds=BATCH_WINDOW
    ) as stack:
        yield Pipeline(stack)
