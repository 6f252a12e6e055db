"""The loader's adapters against moto server: real HTTP, real boto3 clients."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from aws_resources import create_ledger_table
from shopflow_loader.adapters.dynamo import DynamoLedger
from shopflow_loader.adapters.s3 import S3ObjectStore
from shopflow_loader.adapters.stepfunctions import StepFunctionsExecutions
from shopflow_loader.domain.batching import ExecutionState

PASS_MACHINE = json.dumps(
    {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 30, "End": True}}}
)


def test_ledger_claims_are_exclusive_repeatable_and_can_take_over_stale_ones(
    aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> None:
    dynamodb = aws_client("dynamodb")
    table = unique_name("ledger")
    create_ledger_table(dynamodb, table)
    ledger = DynamoLedger(dynamodb, table)
    # Given a claim held by batch b1
    assert ledger.claim("CONTENT#x#1", "b1", {"key": "landing/a.csv"}, replacing=None)
    # Then b1 may claim again (a retry), b2 may not, unless it replaces b1 as stale
    assert ledger.claim("CONTENT#x#1", "b1", {"key": "landing/a.csv"}, replacing=None)
    assert not ledger.claim("CONTENT#x#1", "b2", {"key": "landing/b.csv"}, replacing=None)
    assert not ledger.claim("CONTENT#x#1", "b2", {"key": "landing/b.csv"}, replacing="b0")
    assert ledger.claim("CONTENT#x#1", "b2", {"key": "landing/b.csv"}, replacing="b1")
    entry = ledger.get("CONTENT#x#1")
    assert entry is not None and entry.batch_id == "b2"
    assert entry.attributes["key"] == "landing/b.csv"
    assert ledger.get("CONTENT#missing") is None


def test_executions_start_once_per_name_and_report_their_state(
    aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> None:
    sfn = aws_client("stepfunctions")
    arn = sfn.create_state_machine(
        name=unique_name("hold"),
        definition=PASS_MACHINE,
        roleArn="arn:aws:iam::123456789012:role/states",
    )["stateMachineArn"]
    executions = StepFunctionsExecutions(sfn, arn)
    assert executions.state("b1") is ExecutionState.MISSING
    assert executions.start("b1", "{}") is True
    # Starting the same name again never makes a second run (AWS answers a running one
    # with the same input idempotently, and refuses a closed one).
    executions.start("b1", "{}")
    assert executions.state("b1") is ExecutionState.RUNNING
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1
    sfn.stop_execution(executionArn=executions.execution_arn("b1"))
    assert executions.state("b1") is ExecutionState.ABORTED
    assert executions.start("b1", "{}") is False


def test_object_store_reads_prefixes_hashes_streams_and_copies(
    aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> None:
    s3 = aws_client("s3")
    bucket = unique_name("bucket")
    s3.create_bucket(Bucket=bucket)
    body = b"order_id,user_id\n" + b"1,2\n" * 300_000
    s3.put_object(Bucket=bucket, Key="landing/big.csv", Body=body)
    store = S3ObjectStore(s3)
    assert store.size_of(bucket, "landing/big.csv") == len(body)
    assert store.size_of(bucket, "landing/missing.csv") is None
    assert store.read_prefix(bucket, "landing/big.csv", 16) == body[:16]
    assert store.sha256_of(bucket, "landing/big.csv") == hashlib.sha256(body).hexdigest()
    store.copy(bucket, "landing/big.csv", bucket, "raw/batch=b1/orders/0000-big.csv")
    copied = s3.get_object(Bucket=bucket, Key="raw/batch=b1/orders/0000-big.csv")["Body"].read()
    assert copied == body


def test_object_store_reads_and_copies_the_version_asked_for_not_the_latest(
    aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> None:
    # Given a versioned bucket where a key was uploaded, then overwritten by a correction
    s3 = aws_client("s3")
    bucket = unique_name("versioned")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = b"order_id,user_id\n1,2\n"
    version = s3.put_object(Bucket=bucket, Key="landing/o.csv", Body=first)["VersionId"]
    s3.put_object(Bucket=bucket, Key="landing/o.csv", Body=b"order_id,user_id\n1,3\n9,9\n")
    store = S3ObjectStore(s3)
    # When the first upload's version is read and copied
    # Then it is the first upload's bytes every time, never the correction's
    assert store.size_of(bucket, "landing/o.csv", version) == len(first)
    assert store.read_prefix(bucket, "landing/o.csv", 8, version) == first[:8]
    assert store.sha256_of(bucket, "landing/o.csv", version) == hashlib.sha256(first).hexdigest()
    store.copy(bucket, "landing/o.csv", bucket, "raw/batch=b1/orders/0000-o.csv", version)
    copied = s3.get_object(Bucket=bucket, Key="raw/batch=b1/orders/0000-o.csv")["Body"].read()
    assert copied == first


def test_a_claim_is_released_only_by_its_holder(
    aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> None:
    dynamodb = aws_client("dynamodb")
    table = unique_name("ledger")
    create_ledger_table(dynamodb, table)
    ledger = DynamoLedger(dynamodb, table)
    # Given a claim held by batch b1
    assert ledger.claim("ARRIVAL#a", "b1", {"key": "landing/a.csv"}, replacing=None)
    # When b2 gives it back, nothing happens; when b1 does, the key is free
    ledger.release("ARRIVAL#a", "b2")
    assert ledger.get("ARRIVAL#a") is not None
    ledger.release("ARRIVAL#a", "b1")
    assert ledger.get("ARRIVAL#a") is None
    ledger.release("ARRIVAL#a", "b1")
