"""AWS resources that several test layers create the same way as the template does."""

from __future__ import annotations

from typing import Any


def create_ledger_table(dynamodb: Any, name: str) -> str:
    """The ledger table's key schema (``pk`` + ``sk``, both strings), on demand billing."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    )
    return name


class NamedClients:
    """Clients a test made itself, handed to a bootstrap the way the client factory would."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self._clients = clients

    def client(self, service: str) -> Any:
        return self._clients[service]
