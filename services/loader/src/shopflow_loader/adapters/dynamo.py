from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shopflow_loader.ports import LedgerEntry

_KEY_SORT = "entry"


class DynamoLedger:
    """The ledger table: one item per claim, keyed ``pk`` = claim key, ``sk`` = "entry"."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self._table = table_name

    def get(self, key: str) -> LedgerEntry | None:
        response = self._ddb.get_item(
            TableName=self._table,
            Key={"pk": {"S": key}, "sk": {"S": _KEY_SORT}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None:
            return None
        attributes = {
            name: value["S"]
            for name, value in item.items()
            if name not in {"pk", "sk", "batch_id"} and "S" in value
        }
        return LedgerEntry(key=key, batch_id=item["batch_id"]["S"], attributes=attributes)

    def claim(
        self, key: str, batch_id: str, attributes: dict[str, str], *, replacing: str | None
    ) -> bool:
        condition = "attribute_not_exists(pk) OR batch_id = :mine"
        values: dict[str, Any] = {":mine": {"S": batch_id}}
        if replacing is not None:
            condition += " OR batch_id = :stale"
            values[":stale"] = {"S": replacing}
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=self._item(key, batch_id, attributes),
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release(self, key: str, batch_id: str) -> None:
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key={"pk": {"S": key}, "sk": {"S": _KEY_SORT}},
                ConditionExpression="batch_id = :mine",
                ExpressionAttributeValues={":mine": {"S": batch_id}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return

    def record(self, key: str, batch_id: str, attributes: dict[str, str]) -> None:
        self._ddb.put_item(TableName=self._table, Item=self._item(key, batch_id, attributes))

    @staticmethod
    def _item(key: str, batch_id: str, attributes: dict[str, str]) -> dict[str, Any]:
        item: dict[str, Any] = {name: {"S": value} for name, value in attributes.items()}
        item.update(
            {
                "pk": {"S": key},
                "sk": {"S": _KEY_SORT},
                "batch_id": {"S": batch_id},
                "recorded_at": {"S": datetime.now(UTC).isoformat()},
            }
        )
        return item
