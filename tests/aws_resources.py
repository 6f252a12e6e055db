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


def create_kpi_tables(
    dynamodb: Any, daily: str, category: str, index_projection: str = "KEYS_ONLY"
) -> None:
    """The two KPI tables with the template's keys and the ``by_order_date`` index.

    The index projects keys only unless told otherwise, so a service that reads attributes
    from it fails here; the template projects ALL, which readers of the index rows (the CLI)
    are tested against."""
    dynamodb.create_table(
        TableName=daily,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "order_year", "AttributeType": "S"},
            {"AttributeName": "order_date", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "order_year", "KeyType": "HASH"},
            {"AttributeName": "order_date", "KeyType": "RANGE"},
        ],
    )
    dynamodb.create_table(
        TableName=category,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "category", "AttributeType": "S"},
            {"AttributeName": "order_date", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "category", "KeyType": "HASH"},
            {"AttributeName": "order_date", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_order_date",
                "KeySchema": [
                    {"AttributeName": "order_date", "KeyType": "HASH"},
                    {"AttributeName": "category", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": index_projection},
            }
        ],
    )


class NamedClients:
    """Clients a test made itself, handed to a bootstrap the way the client factory would."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self._clients = clients

    def client(self, service: str) -> Any:
        return self._clients[service]
