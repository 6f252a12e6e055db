"""The KPI state lease as one item of the ledger table, taken with a conditional write."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

LEASE_KEY = {"pk": {"S": "LEASE#kpi-state"}, "sk": {"S": "entry"}}


class DynamoStateLease:
    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        *,
        lease_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ddb = dynamodb_client
        self._table = table_name
        self._lease_seconds = lease_seconds
        self._clock = clock

    def acquire(self, owner: str) -> bool:
        now = int(self._clock())
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item={
                    **LEASE_KEY,
                    "owner": {"S": owner},
                    "expires_at": {"N": str(now + self._lease_seconds)},
                },
                # A holder that died leaves an expired lease behind; it may be taken over.
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR #o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":me": {"S": owner}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release(self, owner: str) -> None:
        # Expired and taken over meanwhile: nothing of ours is left to release.
        with contextlib.suppress(self._ddb.exceptions.ConditionalCheckFailedException):
            self._ddb.delete_item(
                TableName=self._table,
                Key=LEASE_KEY,
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
