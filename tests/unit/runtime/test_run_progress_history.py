"""Reading a run's execution history: which command, if any, does it wait for?"""

from __future__ import annotations

import json
from typing import Any

from shopflow_runtime.aws import command_is_awaited


def scheduled(
    event_id: int, body: object, resource: str = "sendMessage.waitForTaskToken"
) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "TaskScheduled",
        "taskScheduledEventDetails": {
            "resource": resource,
            "parameters": json.dumps({"QueueUrl": "q", "MessageBody": body}),
        },
    }


def test_an_attempt_that_timed_out_is_stale_until_and_after_its_retry_is_sent() -> None:
    # Given a command that timed out (moto's time-out event names no resource) and its retry
    first = scheduled(3, {"message_id": "m-1"})
    timed_out = {"id": 5, "type": "TaskTimedOut", "taskTimedOutEventDetails": {"error": "x"}}
    retry = scheduled(7, {"message_id": "m-2"})
    # Then the first attempt is stale as soon as it timed out, the retry current once sent
    assert command_is_awaited([first, timed_out], "m-1") is False
    assert command_is_awaited([retry, first, timed_out], "m-1") is False
    assert command_is_awaited([first, timed_out, retry], "m-2") is True


def test_a_run_past_its_commands_waits_for_none_and_an_unreadable_one_cannot_be_told() -> None:
    load = scheduled(3, {"message_id": "m-1"})
    announce = scheduled(6, {"Entries": []}, resource="putEvents")
    # A later task of another kind (the run went on to announce the batch)
    assert command_is_awaited([load, announce], "m-1") is False
    # A command whose body names no message id: cannot tell
    assert command_is_awaited([scheduled(3, "not json")], "m-1") is None
    assert command_is_awaited([scheduled(3, {"other": 1})], "m-1") is None
    # A run that has sent no command yet waits for none
    assert command_is_awaited([{"id": 1, "type": "ExecutionStarted"}], "m-1") is False
