"""The soak: a few hundred uploads over minutes, two workers per stage, faults on.

``shopflow bench --soak [--seconds N] [--seed N] [--work-dir DIR]``

The uploads are a TheLook-style export cut into shards (new files), items shards uploaded
before their orders (late items), corrections of orders shards (same key, later wins),
duplicates (the same bytes again, under their key or another name), junk files (each alone,
so that its run fails by itself) and a few poison messages on every queue. Meanwhile workers
are killed at named points, stopped with SIGTERM, and 2% of their AWS calls fail.

At the end: the KPI tables (as readers see them) equal the pandas reference over the final
data; every upload is in exactly one succeeded run (junk: in a failed run of its own); no
message waiting or in flight; every DLQ message is one of the poison messages sent.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopflow_cli.sampledata import generate_sample
from shopflow_runtime.faults import AWS_FAULT_KINDS, AwsFaults, FaultPlan, PointRule

from shopflow_bench import pandas_baseline
from shopflow_bench.reliability.checks import (
    KpiTables,
    accounting,
    kpi_tables,
    nothing_in_flight,
    recovery_seconds,
)
from shopflow_bench.reliability.stack import QUEUES, FaultStack, Fired, Run, Upload, now_utc

JUNK = b"this,is,not,a,shop,export\n1,2,3,4,5,6\n"
KILLS = (
    "load.mid_download",
    "load.after_outputs",
    "validate.mid_duckdb",
    "validate.after_answer",
    "kpi.between_tables",
    "kpi.before_publish",
    "kpi.after_answer",
    "trigger.after_claim",
)
STOPS = ("validate.mid_download", "kpi.mid_download")


@dataclass(frozen=True)
class Step:
    name: str
    body: bytes
    kind: str  # new | late | correction | duplicate | junk


@dataclass
class SoakResult:
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def shards(name: str, body: bytes, count: int) -> list[tuple[str, bytes]]:
    header, *rows = list(csv.reader(io.StringIO(body.decode())))
    stem = name.removesuffix(".csv")
    out = []
    for index in range(count):
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows[index::count])
        out.append((f"{stem}-{index:012d}.csv", text.getvalue().encode()))
    return out


def corrected(body: bytes, rng: random.Random) -> bytes:
    """An orders shard with a few statuses changed (a cancellation, a return)."""
    rows = list(csv.reader(io.StringIO(body.decode())))
    status = rows[0].index("status")
    for row in rng.sample(rows[1:], min(5, len(rows) - 1)):
        row[status] = rng.choice(["Cancelled", "Returned", "Complete"])
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue().encode()


def schedule(directory: Path, rng: random.Random, scale: int) -> list[list[Step]]:
    """Groups of uploads (a group lands within a second; groups a few seconds apart)."""
    manifest = generate_sample(directory, seed=rng.randrange(10**6), orders=scale * 25, days=30)
    orders = shards("orders.csv", manifest.orders_csv.read_bytes(), scale)
    items = shards("order_items.csv", manifest.order_items_csv.read_bytes(), scale + scale // 3)
    late, on_time = items[: len(items) // 5], items[len(items) // 5 :]
    steps = [Step(name, body, "late") for name, body in late]
    steps.append(Step("products.csv", manifest.products_csv.read_bytes(), "new"))
    steps += [Step(name, body, "new") for name, body in [*orders, *on_time]]
    latest = {step.name: step.body for step in steps}
    corrected_keys: set[str] = set()
    for _ in range(scale // 2):
        name, _ = rng.choice(orders)
        latest[name] = corrected(latest[name], rng)
        corrected_keys.add(name)
        steps.insert(
            rng.randrange(len(steps) // 2, len(steps) + 1), Step(name, latest[name], "correction")
        )
    for index in range(scale // 2):
        # The same bytes again: under their key (its latest content), or a copy of a file
        # never corrected under another name (an identical upload, recognised as such).
        name, _ = rng.choice(orders + on_time)
        if index % 2 and name not in corrected_keys:
            steps.append(Step(f"copy-{index}-{name}", latest[name], "duplicate"))
        else:
            position = max(i for i, step in enumerate(steps) if step.name == name)
            steps.insert(
                rng.randrange(position + 1, len(steps) + 1),
                Step(name, _latest_at(steps, name, position), "duplicate"),
            )
    groups = [steps[start : start + 8] for start in range(0, len(steps), 8)]
    for index in range(min(5, len(groups))):
        groups.insert(rng.randrange(1, len(groups)), [Step(f"junk-{index}.csv", JUNK, "junk")])
    return groups


def _latest_at(steps: Sequence[Step], name: str, position: int) -> bytes:
    return [step.body for step in steps[: position + 1] if step.name == name][-1]


def soak_plan(seed: int) -> FaultPlan:
    return FaultPlan(
        points=(
            *(PointRule(id=f"kill-{p.replace('.', '-')}", point=p, times=2) for p in KILLS),
            *(
                PointRule(id=f"stop-{p.replace('.', '-')}", point=p, action="terminate", times=2)
                for p in STOPS
            ),
        ),
        aws=AwsFaults(rate=0.02, kinds=AWS_FAULT_KINDS, seed=seed),
    )


def poison(queue: str, index: int) -> str:
    return json.dumps({"soak_poison": index, "queue": queue})


def run_soak(work_dir: Path, *, seed: int, scale: int, out: Any = print) -> SoakResult:
    rng = random.Random(seed)  # noqa: S311 (a reproducible schedule, not a secret)
    result = SoakResult()
    groups = schedule(work_dir / "data", rng, scale)
    steps = [step for group in groups for step in group]
    with FaultStack(
        root=work_dir / "stack", replicas={"loader": 2, "validator": 2, "kpi": 2}
    ) as stack:
        stack.reset()
        stack.arm(soak_plan(seed))
        since = now_utc()
        started = time.monotonic()
        started_epoch = time.time()
        uploads: list[tuple[Step, Upload]] = []
        sent_poison: Counter[str] = Counter()
        for number, group in enumerate(groups):
            junk = group[0].kind == "junk"
            if junk:
                _wait(stack, stack.batch_window_seconds + 2)
            for step in group:
                (upload,) = stack.upload([(step.name, step.body)])
                uploads.append((step, upload))
            if number % 6 == 3:
                queue = QUEUES[sent_poison.total() % len(QUEUES)]
                stack.sqs.send_message(
                    QueueUrl=stack.queue_url(queue), MessageBody=poison(queue, number)
                )
                sent_poison[queue] += 1
            _wait(stack, stack.batch_window_seconds + 2 if junk else rng.uniform(1.0, 4.0))
            out(f"  {len(uploads)}/{len(steps)} uploads, {len(stack.runs(since))} runs")
        upload_seconds = time.monotonic() - started
        runs = stack.settle(since, expected_runs=1, timeout=900, quiet_seconds=10)
        settled_seconds = time.monotonic() - started
        stack.disarm()
        fired = stack.fired()
        injected = stack.injected()

        junk_keys = {u.key for s, u in uploads if s.kind == "junk"}
        failed = [r for r in runs if r.status != "SUCCEEDED"]
        for run in failed:
            keys = {o["key"] for o in run.input.get("objects", [])}
            if not keys or not keys <= junk_keys:
                result.problems.append(f"run {run.name} {run.status} with {sorted(keys)}")
        # A junk file is skipped in a run with good files, recognised as identical to an
        # earlier junk upload, or fails a run of its own (checked above).
        book = accounting(stack, runs, [u for s, u in uploads if s.kind != "junk" or not failed])
        result.problems += book.problems
        result.problems += nothing_in_flight(stack)
        reference = _reference(
            work_dir / "reference", [(s, u) for s, u in uploads if s.kind != "junk"]
        )
        got = kpi_tables(stack)
        result.problems += got.difference(reference)
        dead = _dead_letters(stack)
        reasons = Counter(_explanation(queue, body, runs, fired) for queue, body in dead)
        result.problems += [f"unexplained dead letter: {r}" for r in reasons if r.startswith("?")]
        poisoned = Counter(queue for queue, body in dead if "soak_poison" in body)
        if poisoned != sent_poison:
            result.problems.append(f"poison dead-lettered {poisoned} != sent {sent_poison}")
        lost, twice = _lost_and_twice(got, reference)
        recoveries = [recovery_seconds(stack, runs, f) for f in fired]
        finite = [r for r in recoveries if r == r]
        worked = _worked(stack, started_epoch)
        result.figures = {
            "uploads": len(uploads),
            "uploads_by_kind": dict(Counter(s.kind for s, _ in uploads)),
            "runs": len(runs),
            "runs_failed": len(failed),
            "rows_in": book.rows_in,
            "rows_accepted": book.accepted,
            "rows_rejected": book.rejected,
            "rows_duplicates": book.duplicates,
            "rows_pending": book.pending,
            "kills_and_stops_by_point": dict(Counter(f.point + ":" + f.action for f in fired)),
            "aws_faults_by_kind": dict(Counter(fault["kind"] for fault in injected)),
            "aws_faults_by_service": dict(Counter(fault["service"] for fault in injected)),
            "poison_messages": dict(sent_poison),
            "dead_letters": dict(reasons),
            "commands_received_again": worked["again"],
            "stale_commands_dropped": worked["stale"],
            "max_recovery_seconds": round(max(finite), 1) if finite else None,
            "rows_lost": lost,
            "rows_counted_twice": twice,
            "kpi_rows": got.rows,
            "upload_seconds": round(upload_seconds, 1),
            "settled_after_seconds": round(settled_seconds, 1),
            "problems": len(result.problems),
        }
    return result


def _wait(stack: FaultStack, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stack.local.supervise()
        time.sleep(0.25)


def _reference(directory: Path, uploads: Sequence[tuple[Step, Upload]]) -> KpiTables:
    """The pandas baseline over every upload in upload order (a later row replaces an
    earlier one, as ``_ingest_seq`` orders them)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for position, (step, _) in enumerate(uploads):
        path = directory / f"{position:05d}-{step.name}"
        path.write_bytes(step.body)
        paths.append(path)
    tables = pandas_baseline.current_tables(pandas_baseline.validate_files(paths))
    days, categories = pandas_baseline.compute_kpis(tables)
    return KpiTables(
        days=sorted(days, key=lambda row: row["order_date"]),
        categories=sorted(categories, key=lambda row: (row["category"], row["order_date"])),
    )


def _dead_letters(stack: FaultStack) -> list[tuple[str, str]]:
    return [
        (queue, message["Body"])
        for queue in QUEUES
        for message in stack.drain(stack.dlq_url(queue))
    ]


STAGE_OF_QUEUE = {"arrivals": "trigger", "loader": "load", "validator": "validate", "kpi": "kpi"}


def _explanation(queue: str, body: str, runs: Sequence[Run], fired: Sequence[Fired]) -> str:
    """Why a message is in its DLQ; starting with "?" when nothing explains it."""
    try:
        message = json.loads(body)
    except ValueError:
        return f"? {queue}: not JSON: {body[:80]}"
    if not isinstance(message, dict):
        return f"? {queue}: {body[:80]}"
    if message.get("queue") == queue and "soak_poison" in message:
        return f"{queue}: poison sent by the soak"
    run_id = message.get("run_id")
    stage = STAGE_OF_QUEUE[queue]
    succeeded = {run.name for run in runs if run.status == "SUCCEEDED"}
    faults = [f for f in fired if f.point.startswith(f"{stage}.")]
    if str(message.get("message_type", "")).endswith(".command") and run_id in succeeded and faults:
        # Its workers died (or were stopped) as often as the redrive policy allows receives;
        # the state's heartbeat time-out and Retry sent the run a fresh command.
        return f"{queue}: command whose workers died at the receive limit; its run succeeded"
    return f"? {queue}: {body[:120]}"


def _lost_and_twice(got: KpiTables, expected: KpiTables) -> tuple[int, int]:
    """Items sold short of (lost) or beyond (counted twice) the reference, over all days."""
    have = {row["order_date"]: int(row["total_items_sold"]) for row in got.days}
    want = {row["order_date"]: int(row["total_items_sold"]) for row in expected.days}
    lost = sum(max(0, want[d] - have.get(d, 0)) for d in want)
    twice = sum(max(0, have[d] - want.get(d, 0)) for d in have)
    return lost, twice


def _worked(stack: FaultStack, started_epoch: float) -> dict[str, int]:
    seen: Counter[tuple[str, str]] = Counter()
    stale = 0
    for instance in stack.workers():
        for record in stack.log_records(instance, started_epoch):
            if str(record.get("message", "")).startswith("stale command dropped"):
                stale += 1
                seen[(str(record.get("run_id")), str(record.get("stage")))] += 1
            elif record.get("outcome") in {"succeeded", "failed"}:
                seen[(str(record.get("run_id")), str(record.get("stage")))] += 1
    return {"again": sum(count - 1 for count in seen.values()), "stale": stale}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shopflow bench --soak")
    parser.add_argument("--scale", type=int, default=60, help="orders shards (uploads ~3x)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--work-dir", type=Path, default=Path("bench/work/soak"))
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    print(f"soak: scale {args.scale}, seed {args.seed}, work dir {args.work_dir}", flush=True)
    result = run_soak(
        args.work_dir.resolve(),
        seed=args.seed,
        scale=args.scale,
        out=lambda text: print(text, flush=True),
    )
    print(json.dumps(result.figures, indent=2))
    for problem in result.problems[:50]:
        print(f"PROBLEM: {problem}")
    if args.out:
        args.out.write_text(
            json.dumps({**result.figures, "problem_list": result.problems}, indent=2) + "\n"
        )
    return 1 if result.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
