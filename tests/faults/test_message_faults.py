"""Poison messages on every queue, and AWS calls failing at 10%.

Issue 14 found a malformed command writing a ``FAILURE#<run id>`` record for a run that does
not exist and reaching the DLQ only after about 3 hours (3 receives x 3600 s visibility).
Now a message that breaks the contract is made visible again within seconds and writes
nothing; a well-formed command of a run that does not exist is dropped as stale.

AWS call faults go through botocore's ``before-send`` hook in every worker process
(``shopflow_runtime.faults.AwsFaultInjector``): throttling and 5xx answers, connection
timeouts before the request left, and lost responses (the call took effect, the client saw a
read timeout and retried it). botocore's retry policy then does what it does against AWS.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from uuid import uuid4

import pytest
from fault_scenarios import Scenarios, seconds_text
from shopflow_bench.reliability.stack import QUEUES, FaultStack, Upload
from shopflow_runtime.faults import AwsFaultKind, AwsFaults, FaultPlan

EXAMPLES = Path(__file__).parents[2] / "contracts" / "examples"
COMMAND_EXAMPLES = {"loader": "load_command", "validator": "validate_command", "kpi": "kpi_command"}
# The redrive policies dead-letter after 5 receives (arrivals) or 3 (work queues), each
# made visible again within seconds: well within two minutes whatever the machine's load.
DLQ_BOUND_SECONDS = 120


def poison_for(queue: str) -> list[str]:
    """Messages no worker can use: not JSON, JSON of the wrong shape, and (work queues) a
    command of a nonexistent run that breaks the contract but carries a task token."""
    bodies = ["this is not json {", json.dumps({"hello": "world"})]
    if queue == "arrivals":
        event = json.loads((EXAMPLES / "s3_object_created_event.json").read_text())
        event["detail"] = {"bucket": {"name": "x"}}
        bodies.append(json.dumps(event))
        return bodies
    command = json.loads((EXAMPLES / f"{COMMAND_EXAMPLES[queue]}.json").read_text())
    command["run_id"] = f"b20990101T000000-nosuchrun{uuid4().hex[:8]}"
    command["payload"] = {"batch_id": 42}
    bodies.append(json.dumps(command))
    return bodies


def stale_for(queue: str) -> str:
    """A well-formed command of a run that does not exist (a leftover of a deleted stack)."""
    command = json.loads((EXAMPLES / f"{COMMAND_EXAMPLES[queue]}.json").read_text())
    command["run_id"] = f"b20990101T000000-norun{uuid4().hex[:10]}"
    command["message_id"] = str(uuid4())
    return json.dumps(command)


def failure_records(stack: FaultStack) -> list[str]:
    pages = stack.dynamodb.get_paginator("scan").paginate(
        TableName=stack.outputs.ledger_table,
        FilterExpression="begins_with(pk, :failure)",
        ExpressionAttributeValues={":failure": {"S": "FAILURE#"}},
    )
    return [item["pk"]["S"] for page in pages for item in page["Items"]]


def test_poison_messages_on_every_queue_reach_their_dlq_and_the_rest_flows(
    scenarios: Scenarios,
) -> None:
    stack = scenarios.stack
    poisoned: dict[str, int] = {}
    stale: dict[str, str] = {}
    sent_at: dict[str, float] = {}
    reached: dict[str, float] = {}

    def act(stack: FaultStack) -> list[Upload]:
        # Given poison on every queue, and on each work queue a well-formed command of a run
        # that does not exist, sent while the sample is uploaded
        for queue in QUEUES:
            bodies = poison_for(queue)
            for body in bodies:
                stack.sqs.send_message(QueueUrl=stack.queue_url(queue), MessageBody=body)
            poisoned[queue] = len(bodies)
            sent_at[queue] = time.time()
            if queue != "arrivals":
                stale[queue] = stale_for(queue)
                stack.sqs.send_message(QueueUrl=stack.queue_url(queue), MessageBody=stale[queue])
        uploads = stack.upload(scenarios.clean.files)
        # (the DLQs watched while the run goes on: a moved message keeps its sent time)
        deadline = time.monotonic() + DLQ_BOUND_SECONDS
        while len(reached) < len(poisoned):
            assert time.monotonic() < deadline, f"not dead-lettered in time: {stack.depths()}"
            for queue, count in poisoned.items():
                if queue not in reached and stack.dlq_messages(queue) >= count:
                    reached[queue] = time.time() - sent_at[queue]
            stack.local.supervise()
            time.sleep(0.5)
        return uploads

    # When everything settles (the poison dead-lettered, the sample's run done)
    outcome = scenarios.run(act=act)

    # Then every poison message reached its queue's DLQ within minutes, and nothing else did
    for queue, count in poisoned.items():
        assert stack.dlq_messages(queue) == count, (queue, stack.depths())
        assert reached[queue] < DLQ_BOUND_SECONDS, (queue, reached[queue])
    # And nothing was written for the runs that do not exist: no failure record at all
    assert failure_records(stack) == []
    # And the well-formed commands of nonexistent runs were dropped as stale, not worked on
    dropped = Counter(record["stage"] for record in scenarios.stale_drops(outcome))
    assert dropped == {"load": 1, "validate": 1, "kpi": 1}
    # And the sample flowed past them: the clean run's KPIs, every row accounted for
    scenarios.assert_survived(outcome)
    for queue, count in poisoned.items():
        scenarios.record(
            f"poison messages on the {queue} queue",
            f"{count} malformed"
            + ("" if queue == "arrivals" else " + 1 well-formed command of no run"),
            f"{seconds_text(reached[queue])} to the DLQ",
            "nothing written (no FAILURE# record)"
            + ("" if queue == "arrivals" else "; the well-formed one dropped as stale"),
        )


AWS_SERVICES = ("s3", "dynamodb", "sqs", "stepfunctions")
# Goes of the sample before a service that drew no fault fails the test (odds ~0.04**4 for sfn).
MAX_FAULT_DRAWS = 4


@pytest.mark.parametrize(
    ("services", "kinds"),
    [
        *(((service,), ("throttle", "server_error")) for service in AWS_SERVICES),
        (AWS_SERVICES, ("timeout", "lost_response")),
    ],
    ids=[*AWS_SERVICES, "all-timeouts-and-lost-responses"],
)
def test_aws_calls_failing_at_ten_percent_change_nothing(
    scenarios: Scenarios, services: tuple[str, ...], kinds: tuple[AwsFaultKind, ...]
) -> None:
    # Given 10% of the workers' calls to the services failing in the given ways. A run makes only
    # a few dozen Step Functions calls and each worker seeds its dice with its PID, so a run may
    # draw no fault at all for a service (about 1 in 25 for stepfunctions): such a run proves
    # nothing, and the sample goes through again with the next seed, a bounded number of times.
    for seed in range(14, 14 + MAX_FAULT_DRAWS):
        plan = FaultPlan(
            aws=AwsFaults(
                rate=0.1,
                services=frozenset(services),
                kinds=kinds,
                seed=seed,
            )
        )

        # When the sample goes through
        outcome = scenarios.run(plan)

        # Then, faults or not, the outcome is the clean run's: its KPIs, every row once, no run
        # failed
        scenarios.assert_survived(outcome)
        injected = Counter((fault["service"], fault["kind"]) for fault in outcome.injected)
        if {service for service, _ in injected} == set(services):
            break
    # And faults were injected into calls of each of those services (at 10% not every kind need
    # come up), of the given kinds only
    assert {service for service, _ in injected} == set(services), (seed, injected)
    assert {kind for _, kind in injected} <= set(kinds), injected
    total = sum(injected.values())
    by_kind = Counter(fault["kind"] for fault in outcome.injected)
    scenarios.record(
        f"10% of {', '.join(services)} calls fail",
        f"{total} injected ({', '.join(f'{n} {kind}' for kind, n in sorted(by_kind.items()))})",
        f"run took {seconds_text(outcome.seconds)}",
        "absorbed by botocore's retries"
        + (
            "; lost responses repeated calls that had taken effect"
            if "lost_response" in kinds
            else ""
        ),
    )
