"""What every fault scenario (and the soak) must find at the end, whatever went wrong.

- The KPI tables equal those of a clean run of the same files: nothing lost, nothing counted
  twice. Compared as exported (money and rates with two decimals), both tables in full.
- Every upload is in exactly one run (staged, or skipped as identical content), or was
  recognised by the trigger as identical to an upload already in a run: no file in two
  runs, none in none.
- Every staged file's rows are accounted for: rows_in == accepted + rejected + duplicates +
  pending (a quarantined file's too: none of its rows is applied).
- Nothing is left: no message waiting or in flight on any queue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from shopflow_cli import operations
from shopflow_contracts.kpis import CATEGORY_KPI_COLUMNS, DAY_KPI_COLUMNS
from shopflow_runtime.kpi_versions import PublishedKpis, read_published, visible_rows

from shopflow_bench.reliability.stack import LANDING, FaultStack, Fired, Run, Upload

STATE_OF_STAGE = {"load": "LoadData", "validate": "ValidateData", "kpi": "ComputeKpis"}

KpiRows = list[dict[str, str]]


@dataclass(frozen=True)
class KpiTables:
    """Both KPI tables as exported, sorted by key."""

    days: KpiRows
    categories: KpiRows

    def difference(self, expected: KpiTables) -> list[str]:
        """Human-readable differences (empty when equal)."""
        problems = []
        for name, got, want, key in (
            ("day", self.days, expected.days, ("order_date",)),
            ("category", self.categories, expected.categories, ("category", "order_date")),
        ):
            got_by = {tuple(row[k] for k in key): row for row in got}
            want_by = {tuple(row[k] for k in key): row for row in want}
            for missing in sorted(set(want_by) - set(got_by)):
                problems.append(f"{name} row {missing} missing")
            for extra in sorted(set(got_by) - set(want_by)):
                problems.append(f"{name} row {extra} not expected")
            for both in sorted(set(got_by) & set(want_by)):
                if got_by[both] != want_by[both]:
                    changed = {
                        c: (got_by[both][c], want_by[both][c])
                        for c in got_by[both]
                        if got_by[both][c] != want_by[both][c]
                    }
                    problems.append(f"{name} row {both} differs (got, expected): {changed}")
        return problems

    @property
    def rows(self) -> int:
        return len(self.days) + len(self.categories)


def kpi_tables(stack: FaultStack, published: PublishedKpis | None = None) -> KpiTables:
    """Both tables scanned in full, as their readers see them: at the published version
    (``published``, else the ledger's pointer now). The readers' Query paths are the API's
    and CLI's business; a scan also finds rows those paths would miss, such as a category
    row without a day."""
    outputs = stack.outputs
    if published is None:
        published = read_published(stack.dynamodb, outputs.ledger_table)
    return KpiTables(
        days=_scan(stack, outputs.daily_kpis_table, DAY_KPI_COLUMNS, ("order_date",), published),
        categories=_scan(
            stack,
            outputs.category_kpis_table,
            CATEGORY_KPI_COLUMNS,
            ("category", "order_date"),
            published,
        ),
    )


def _scan(
    stack: FaultStack,
    table: str,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    published: PublishedKpis,
) -> KpiRows:
    deserializer = TypeDeserializer()
    items = [
        {name: deserializer.deserialize(value) for name, value in item.items()}
        for page in stack.dynamodb.get_paginator("scan").paginate(TableName=table)
        for item in page["Items"]
    ]
    records = operations.as_records(visible_rows(items, published), columns)
    return sorted(records, key=lambda row: tuple(row[k] for k in key))


def reference_tables(category_rows: KpiRows, day_rows: KpiRows) -> KpiTables:
    """``tests/reference_kpis.reference_kpis`` output as tables."""
    return KpiTables(days=day_rows, categories=category_rows)


@dataclass
class Accounting:
    """Where each upload went, and what became of each staged file's rows."""

    runs_per_upload: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    trigger_duplicates: Counter[tuple[str, str]] = field(default_factory=Counter)
    rows_in: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    pending: int = 0
    quarantined: int = 0
    problems: list[str] = field(default_factory=list)


def accounting(stack: FaultStack, runs: Sequence[Run], uploads: Sequence[Upload]) -> Accounting:
    """Check that every upload is in exactly one run (or a trigger duplicate) and that every
    file's rows add up. Uploads are told apart by ETag and key: the same bytes uploaded to
    the same key twice are two uploads, and count twice."""
    result = Accounting()
    expected = Counter((upload.key, upload.etag) for upload in uploads)
    placed: dict[tuple[str, str], list[str]] = {}
    for run in runs:
        if run.status != "SUCCEEDED" or run.output is None:
            continue
        for landed in run.input.get("objects", []):
            placed.setdefault((landed["key"], landed["etag"]), []).append(run.name)
        result_files = _validated_files(run.output)
        for file in result_files:
            _add_rows(result, run.name, file)
    result.runs_per_upload = placed
    result.trigger_duplicates = _trigger_duplicates(stack)
    for upload, count in expected.items():
        in_runs = len(placed.get(upload, []))
        as_duplicates = result.trigger_duplicates.get(upload, 0)
        if in_runs + as_duplicates != count:
            result.problems.append(
                f"{upload[0]} (etag {upload[1]}): uploaded {count} time(s), in "
                f"{in_runs} succeeded run(s) {placed.get(upload, [])}, recognised as identical "
                f"{as_duplicates} time(s)"
            )
    for upload, names in placed.items():
        if upload not in expected and upload[0].startswith(LANDING):
            result.problems.append(f"{upload[0]} is in runs {names} but was never uploaded")
    return result


def _validated_files(output: dict[str, Any]) -> list[dict[str, Any]]:
    validation = output.get("validation") or {}
    payload = validation.get("payload") or {}
    files = payload.get("files") or []
    return [file for file in files if isinstance(file, dict)]


def _add_rows(result: Accounting, run_name: str, file: dict[str, Any]) -> None:
    counts = {
        name: int(file.get(name) or 0)
        for name in ("rows_in", "accepted", "rejected", "duplicates", "pending")
    }
    quarantined = counts["rows_in"] if file.get("status") == "quarantined" else 0
    result.rows_in += counts["rows_in"]
    result.accepted += counts["accepted"]
    result.rejected += counts["rejected"]
    result.duplicates += counts["duplicates"]
    result.pending += counts["pending"]
    result.quarantined += quarantined
    # A quarantined file's counts say what validation found; none of its rows is applied.
    settled = counts["accepted"] + counts["rejected"] + counts["duplicates"] + counts["pending"]
    if counts["rows_in"] != settled:
        result.problems.append(
            f"run {run_name}, {file.get('source_key')}: rows_in {counts['rows_in']} != "
            f"accepted + rejected + duplicates + pending {settled}"
        )


def _trigger_duplicates(stack: FaultStack) -> Counter[tuple[str, str]]:
    """Uploads the trigger recognised as identical to one already in a run (its ledger)."""
    found: Counter[tuple[str, str]] = Counter()
    pages = stack.dynamodb.get_paginator("scan").paginate(
        TableName=stack.outputs.ledger_table,
        FilterExpression="begins_with(pk, :arrival) AND outcome = :duplicate",
        ExpressionAttributeValues={
            ":arrival": {"S": "ARRIVAL#"},
            ":duplicate": {"S": "duplicate_content"},
        },
    )
    for page in pages:
        for item in page["Items"]:
            found[(item["key"]["S"], item["etag"]["S"])] += 1
    return found


def nothing_in_flight(stack: FaultStack) -> list[str]:
    return [
        f"{name}: {waiting} waiting, {in_flight} in flight"
        for name, (waiting, in_flight, _) in stack.depths().items()
        if waiting or in_flight
    ]


def failed_runs(runs: Iterable[Run]) -> list[str]:
    return [f"{run.name}: {run.status}" for run in runs if run.status != "SUCCEEDED"]


def recovery_seconds(stack: FaultStack, runs: Sequence[Run], fired: Fired) -> float:
    """How long the pipeline took to get past what the fault interrupted.

    A worker's fault: from the firing to the moment its stage's state was left (the work
    done again, by the restarted worker or another one); zero when the state had been left
    already (the answer was out: only a stale copy of the command came back). A trigger's
    fault: from the firing to the start of the run holding its arrivals.
    """
    where = fired.point.split(".", 1)[0]
    if where == "trigger":
        # The run of the batch it had claimed (the same arrivals form the same batch again),
        # else the last run to start (its arrivals batched otherwise after their return).
        named = [run for run in runs if run.name == fired.context.get("run_id")]
        held = named or list(runs)[-1:]
        return max(0.0, held[0].started.timestamp() - fired.time) if held else float("nan")
    state = STATE_OF_STAGE[where]
    run = _run_of(runs, fired)
    if run is None:
        return float("nan")
    exits: list[float] = [
        event["timestamp"].timestamp()
        for event in stack.history(run)
        if event["type"] == "TaskStateExited"
        and event.get("stateExitedEventDetails", {}).get("name") == state
    ]
    after = [moment for moment in exits if moment >= fired.time]
    if not after:
        return 0.0 if exits else float("nan")
    return after[0] - fired.time


def _run_of(runs: Sequence[Run], fired: Fired) -> Run | None:
    named = fired.context.get("run_id")
    for run in runs:
        if run.name == named:
            return run
    started_before = [run for run in runs if run.started.timestamp() <= fired.time + 1]
    return started_before[-1] if started_before else (runs[0] if runs else None)
