"""Dead letters: their depth per queue, and ``shopflow redrive`` moving them back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from shopflow_cli import main as cli
from shopflow_cli.deploy import StackOutputs
from shopflow_cli.localstack import StackState
from shopflow_cli.queues import queue_depths
from shopflow_cli.target import TargetRef

QUEUES = ("arrivals", "loader", "validator", "kpi")


@pytest.fixture
def state_file(
    tmp_path: Path, moto_endpoint: str, aws_client: Callable[[str], Any], unique_name: Any
) -> Path:
    sqs = aws_client("sqs")
    outputs = {name: f"unused-{name}" for name in StackOutputs.model_fields}
    for queue in QUEUES:
        outputs[f"{queue}_queue_url"] = sqs.create_queue(QueueName=unique_name(queue))["QueueUrl"]
        outputs[f"{queue}_dlq_url"] = sqs.create_queue(QueueName=unique_name(f"{queue}-dlq"))[
            "QueueUrl"
        ]
    path = tmp_path / "stack.json"
    StackState(moto_endpoint, "test", outputs, {}).save(path)
    return path


def test_redrive_moves_dead_letters_back_with_their_attributes(
    state_file: Path, aws_client: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given three poison messages in the validator's dead-letter queue
    outputs = StackState.load(state_file).outputs
    sqs = aws_client("sqs")
    for number in range(3):
        sqs.send_message(
            QueueUrl=outputs["validator_dlq_url"],
            MessageBody=json.dumps({"n": number}),
            MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}},
        )
    target = TargetRef(state_file).resolve()
    depths = {depth.name: depth for depth in queue_depths(target)}
    assert depths["validator"].dead_letters == 3 and depths["loader"].dead_letters == 0

    # When one is redriven first, then the rest (named as its DLQ, in another case)
    assert cli.main(["redrive", "validator", "--limit", "1", "--state-file", str(state_file)]) == 0
    assert "moved 1 message(s)" in capsys.readouterr().out
    assert cli.main(["redrive", "Validator-DLQ", "--state-file", str(state_file)]) == 0
    assert "moved 2 message(s)" in capsys.readouterr().out

    # Then the queue holds all three, attributes kept, and the dead-letter queue none
    received = sqs.receive_message(
        QueueUrl=outputs["validator_queue_url"],
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )["Messages"]
    assert sorted(json.loads(m["Body"])["n"] for m in received) == [0, 1, 2]
    assert all(m["MessageAttributes"]["origin"]["StringValue"] == "test" for m in received)
    assert {d.name: d.dead_letters for d in queue_depths(target)}["validator"] == 0


def test_redrive_of_an_unknown_queue_names_the_queues(
    state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["redrive", "billing", "--state-file", str(state_file)]) == 2
    assert "the queues are arrivals, loader, validator, kpi" in capsys.readouterr().err
