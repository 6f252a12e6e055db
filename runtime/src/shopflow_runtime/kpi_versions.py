"""Published KPI versions: both KPI tables change together for their readers.

A KPI run rewrites rows of two tables (days, categories) with many writes; DynamoDB has no
transaction that large. So every row carries the *version* of the run that wrote it, and
the ledger item ``PUBLISHED#kpi`` names the last version whose writes all went through. A
run (holding the KPI state lease, so one at a time):

1. ``begin``: takes the next version number and records it as pending. A pending version
   left by a run that died before publishing is marked *aborted*: its rows never show.
2. writes each row as ``staged_row`` (its new values, its version, and ``previous``: what
   readers of the published version see of it) and each deleted row as a tombstone;
3. ``publish``: flips the pointer to its version (conditional: only from the version it
   began on), after both tables are written.

A reader reads the pointer once (``read_published``) and passes every item it reads through
``visible``: a row of a published version as written, of a pending or aborted one as it was
before (``previous``), a tombstone not at all. Readers therefore see the old version of both
tables until the flip, then the new version of both, whatever the writer's crash point.

Items are plain Python values (boto3's ``TypeDeserializer`` output, numbers ``Decimal``).
Rows without a version (written before versions existed) are shown as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PUBLISHED_KEY = {"pk": {"S": "PUBLISHED#kpi"}, "sk": {"S": "entry"}}
VERSION = "kpi_version"
PREVIOUS = "previous"
PREVIOUS_ABSENT = "previous_absent"
DELETED = "deleted"
_META = frozenset({VERSION, PREVIOUS, PREVIOUS_ABSENT, DELETED})


class PublishConflictError(Exception):
    """Another run began or published a version meanwhile (the lease was lost); retry."""


@dataclass(frozen=True)
class PublishedKpis:
    """What readers may see: rows of ``version`` or older, except aborted versions."""

    version: int = 0
    batch_id: str | None = None
    published_at: str | None = None
    aborted: frozenset[int] = field(default_factory=frozenset)
    pending: int | None = None

    def shows(self, version: int | None) -> bool:
        return version is None or (version <= self.version and version not in self.aborted)


NOTHING_PUBLISHED = PublishedKpis()
# Every row as last written (deleted ones hidden): for tools that look at the tables
# themselves, not for readers of KPIs (they follow ``read_published``).
AS_WRITTEN = PublishedKpis(version=2**62)


def read_published(dynamodb_client: Any, ledger_table: str) -> PublishedKpis:
    """The published version (strongly consistent read of the ledger's pointer)."""
    return published_from_item(
        dynamodb_client.get_item(
            TableName=ledger_table, Key=PUBLISHED_KEY, ConsistentRead=True
        ).get("Item")
    )


def published_from_item(item: Mapping[str, Any] | None) -> PublishedKpis:
    """The pointer from its ledger item as DynamoDB returns it (None: nothing published
    yet). Async readers GetItem ``PUBLISHED_KEY`` (ConsistentRead) themselves and parse here."""
    if item is None:
        return NOTHING_PUBLISHED
    return PublishedKpis(
        version=int(item["version"]["N"]),
        batch_id=item.get("batch_id", {}).get("S"),
        published_at=item.get("published_at", {}).get("S"),
        aborted=frozenset(int(v) for v in item.get("aborted", {}).get("NS", [])),
        pending=int(item["pending"]["N"]) if "pending" in item else None,
    )


def visible(item: Mapping[str, Any], published: PublishedKpis) -> dict[str, Any] | None:
    """The row as readers of ``published`` see it; None when it does not exist for them."""
    version = item.get(VERSION)
    if published.shows(None if version is None else int(version)):
        return None if item.get(DELETED) else row_values(item)
    if item.get(PREVIOUS_ABSENT):
        return None
    previous = item.get(PREVIOUS)
    return dict(previous) if isinstance(previous, Mapping) else None


def visible_rows(
    items: Iterable[Mapping[str, Any]], published: PublishedKpis
) -> list[dict[str, Any]]:
    return [row for row in (visible(item, published) for item in items) if row is not None]


def row_values(item: Mapping[str, Any]) -> dict[str, Any]:
    """The row's own attributes (keys and KPIs), without the versioning ones."""
    return {name: value for name, value in item.items() if name not in _META}


# --- the writer's side ---------------------------------------------------------------------


def staged_row(
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    version: int,
    published: PublishedKpis,
) -> dict[str, Any]:
    """``values`` written by ``version``, keeping what readers of ``published`` see."""
    return {**values, VERSION: version, **_before(current, published)}


def tombstone(
    key: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    version: int,
    published: PublishedKpis,
) -> dict[str, Any] | None:
    """The row ``key`` deleted by ``version``; None when no reader sees it nor will."""
    before = _before(current, published)
    if current is None or (before.get(PREVIOUS_ABSENT) and current.get(DELETED)):
        return None
    return {**key, VERSION: version, DELETED: True, **before}


def _before(current: Mapping[str, Any] | None, published: PublishedKpis) -> dict[str, Any]:
    if current is None:
        return {PREVIOUS_ABSENT: True}
    version = current.get(VERSION)
    if not published.shows(None if version is None else int(version)):
        # Written by a version readers never saw (pending or aborted): what they see stays.
        if current.get(PREVIOUS_ABSENT):
            return {PREVIOUS_ABSENT: True}
        return {PREVIOUS: dict(current.get(PREVIOUS) or {})}
    if current.get(DELETED):
        return {PREVIOUS_ABSENT: True}
    return {PREVIOUS: row_values(current)}


@dataclass(frozen=True)
class KpiVersion:
    """The version a run writes, and the published one it began on."""

    number: int
    published: PublishedKpis


def begin(dynamodb_client: Any, ledger_table: str) -> KpiVersion:
    """Take the next version number; a version still pending (its run died) is aborted."""
    published = read_published(dynamodb_client, ledger_table)
    aborted = set(published.aborted)
    if published.pending is not None and published.pending > published.version:
        aborted.add(published.pending)
    number = max(published.version, published.pending or 0) + 1
    after = PublishedKpis(
        published.version, published.batch_id, published.published_at, frozenset(aborted)
    )
    _put_pointer(dynamodb_client, ledger_table, after, pending=number, expected=published)
    return KpiVersion(number, after)


def publish(dynamodb_client: Any, ledger_table: str, version: KpiVersion, batch_id: str) -> None:
    """Flip the pointer to ``version``: from now on readers see all its rows."""
    began = version.published
    pending_state = PublishedKpis(
        began.version, began.batch_id, began.published_at, began.aborted, version.number
    )
    now = PublishedKpis(
        version.number, batch_id, datetime.now(UTC).isoformat(), began.aborted, None
    )
    _put_pointer(dynamodb_client, ledger_table, now, pending=None, expected=pending_state)


def _put_pointer(
    dynamodb_client: Any,
    ledger_table: str,
    state: PublishedKpis,
    *,
    pending: int | None,
    expected: PublishedKpis,
) -> None:
    item: dict[str, Any] = {**PUBLISHED_KEY, "version": {"N": str(state.version)}}
    if state.batch_id is not None:
        item["batch_id"] = {"S": state.batch_id}
    if state.published_at is not None:
        item["published_at"] = {"S": state.published_at}
    if state.aborted:
        item["aborted"] = {"NS": [str(v) for v in sorted(state.aborted)]}
    if pending is not None:
        item["pending"] = {"N": str(pending)}
    values: dict[str, Any] = {":version": {"N": str(expected.version)}}
    if expected == NOTHING_PUBLISHED:
        condition = "attribute_not_exists(pk)"
        values = {}
    elif expected.pending is None:
        condition = "version = :version AND attribute_not_exists(pending)"
    else:
        condition = "version = :version AND pending = :pending"
        values[":pending"] = {"N": str(expected.pending)}
    try:
        dynamodb_client.put_item(
            TableName=ledger_table,
            Item=item,
            ConditionExpression=condition,
            **({"ExpressionAttributeValues": values} if values else {}),
        )
    except dynamodb_client.exceptions.ConditionalCheckFailedException as conflict:
        raise PublishConflictError(
            f"the KPI version pointer moved (expected version {expected.version}, pending "
            f"{expected.pending})"
        ) from conflict
