"""Objects one service leaves in the data bucket for another to read, and where they live.

**Uncommitted batches.** The validator writes a batch's curated Parquet under
``curated/<kind>/batch=<batch_id>/``, and only the kpi stage knows whether the run then
succeeds. So, before the first curated object of a batch is written, the validator leaves an
``UncommittedBatch`` marker at ``curated/_uncommitted/batch=<batch_id>.json``; the kpi stage
deletes it once the batch's KPI rows are written (the batch is *committed*). Every KPI run
leaves out the curated files of batches that still have a marker, except those its own
command names: the output of a run that failed after validation (in ComputeKpis, or before it
was reached) never counts, and a retry or a replay of that run counts it again. A batch
without a marker counts: curated data written before markers existed stays in.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import AwareDatetime, Field

from shopflow_contracts.envelope import Contract

CURATED_PREFIX = "curated/"
UNCOMMITTED_PREFIX = f"{CURATED_PREFIX}_uncommitted/"
_BATCH_IN_KEY = re.compile(r"/batch=([A-Za-z0-9_-]{1,80})/")
_MARKER_KEY = re.compile(rf"^{re.escape(UNCOMMITTED_PREFIX)}batch=([A-Za-z0-9_-]{{1,80}})\.json$")


class UncommittedBatch(Contract):
    """A batch whose curated output does not count (yet): its run has not written its KPIs."""

    batch_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,80}$")
    marked_at: AwareDatetime
    order_dates: list[date] = Field(
        default_factory=list,
        description="Dates whose KPI rows the batch's kpi stage was about to write: if it "
        "failed half-way, the next run recomputes them without the batch.",
    )


def uncommitted_key(batch_id: str) -> str:
    return f"{UNCOMMITTED_PREFIX}batch={batch_id}.json"


def batch_of_marker(key: str) -> str | None:
    """The batch an uncommitted marker's key names, or None for any other key."""
    found = _MARKER_KEY.match(key)
    return found.group(1) if found else None


def batch_of_curated(key: str) -> str | None:
    """The batch a curated object's key (``curated/<kind>/batch=<id>/...``) belongs to."""
    found = _BATCH_IN_KEY.search(key)
    return found.group(1) if found else None
