"""The KPI state (``ports.KpiState``): curated data kept in a persistent DuckDB database,
loading each curated file once.

A run reads only the curated files it has not seen (new batches, or objects whose version
changed), so the cost of bringing the data up to date follows the batch, not the history.
The database is a cache of the curated area, never a source of truth: deleting it only
costs one full reload, and ``CuratedState.open`` rebuilds it when its layout changed.

A repository, so an adapter: the KPI definitions stay in the domain. The state exposes the
same ``curated_<kind>`` views as ``register_curated``, so the domain's ``compute_kpis`` and
touched-dates question run unchanged on top of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

import duckdb
from shopflow_contracts.rows import FileKind, columns_of

from shopflow_kpi.domain import CategoryKpi, DayKpi, PendingItem, PendingSummary
from shopflow_kpi.domain.kpis import (
    LATEST_FIRST,
    VERSION_COLUMNS,
    all_order_dates,
    compute_all_kpis,
    compute_kpis,
    prepare_session,
    source_select,
    sql_in_strings,
    touched_dates_of_views,
)
from shopflow_kpi.domain.sources import KPI_INPUTS
from shopflow_kpi.ports import CuratedFileRef

# Bump when the tables below change shape: an older database is then rebuilt from scratch.
STATE_LAYOUT_VERSION = 5


# Items of a suspect set only: those whose key columns point at a missing order or product.
# The anti-joins read two narrow columns of history; the window runs on the suspects alone.
_PENDING_SQL = f"""
CREATE OR REPLACE TEMP TABLE pending_now AS
WITH order_ids AS (SELECT DISTINCT order_id FROM state_orders),
product_ids AS (SELECT DISTINCT id FROM state_products),
suspects AS (
    SELECT DISTINCT id FROM state_order_items
    WHERE order_id NOT IN (SELECT order_id FROM order_ids)
       OR product_id NOT IN (SELECT id FROM product_ids)
),
versions AS (
    SELECT id, order_id, product_id, {VERSION_COLUMNS}, _file_key,
           min(_ingest_seq) OVER (PARTITION BY id) AS first_seq,
           -- an identical re-upload is that file's duplicate, not its pending row
           _row_hash = lag(_row_hash) OVER (PARTITION BY id ORDER BY {VERSION_COLUMNS})
               AS repeated
    FROM state_order_items
    WHERE id IN (SELECT id FROM suspects)
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY {LATEST_FIRST}) = 1
)
SELECT
    v.id, v.order_id, v.product_id, v._source_key, v._source_line, v._file_key,
    coalesce(v.repeated, false) AS repeated,
    -- _ingest_seq starts with the upload's UTC time (see the loader's ingest_seq)
    try_strptime(split_part(v.first_seq, '/', 1), '%Y%m%dT%H%M%S.%fZ') AS since,
    v.order_id NOT IN (SELECT order_id FROM order_ids) AS missing_order,
    v.product_id NOT IN (SELECT id FROM product_ids) AS missing_product
FROM versions AS v
WHERE v.order_id NOT IN (SELECT order_id FROM order_ids)
   OR v.product_id NOT IN (SELECT id FROM product_ids)
"""


class CuratedState:
    """The curated rows of every loaded file, the files' versions, and what the next run owes
    (dirty dates, items pending after the last run)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection

    @classmethod
    def open(cls, connection: duckdb.DuckDBPyConnection) -> CuratedState:
        prepare_session(connection)
        connection.execute(
            "CREATE TABLE IF NOT EXISTS state_meta (name VARCHAR PRIMARY KEY, value VARCHAR)"
        )
        row = connection.execute(
            "SELECT value FROM state_meta WHERE name = 'layout_version'"
        ).fetchone()
        if row is None or row[0] != str(STATE_LAYOUT_VERSION):
            cls._rebuild(connection)
        state = cls(connection)
        state._expose()
        return state

    @staticmethod
    def _rebuild(connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute("DROP TABLE IF EXISTS loaded_files")
        for kind in KPI_INPUTS:
            connection.execute(f"DROP TABLE IF EXISTS state_{kind}")
            # The table takes its shape from the typed select over no file at all.
            connection.execute(
                f"CREATE TABLE state_{kind} AS SELECT *, CAST(NULL AS VARCHAR) AS _file_key "
                f"FROM ({source_select(kind, [], columns_of(kind))})"
            )
        connection.execute(
            "CREATE TABLE loaded_files (key VARCHAR PRIMARY KEY, kind VARCHAR, version VARCHAR)"
        )
        # Items pending after the last run: the next run tells which of them were released.
        # Dates whose data changed in a way no batch announces (a curated file rewritten or
        # deleted): recomputed by the next run, then cleared.
        connection.execute("DROP TABLE IF EXISTS dirty_dates")
        connection.execute("CREATE TABLE dirty_dates (order_date DATE PRIMARY KEY)")
        connection.execute("DROP TABLE IF EXISTS pending_items")
        connection.execute("CREATE TABLE pending_items (id BIGINT PRIMARY KEY)")
        connection.execute(
            "INSERT OR REPLACE INTO state_meta VALUES ('layout_version', ?)",
            [str(STATE_LAYOUT_VERSION)],
        )

    def _expose(self) -> None:
        for kind in KPI_INPUTS:
            self._connection.execute(
                f"CREATE OR REPLACE TEMP VIEW curated_{kind} AS "
                f"SELECT * EXCLUDE (_file_key, _row_hash) FROM state_{kind}"
            )

    def compute_kpis(self, dates: Iterable[date]) -> tuple[list[DayKpi], list[CategoryKpi]]:
        return compute_kpis(self._connection, dates)

    def compute_all_kpis(self) -> tuple[list[date], list[DayKpi], list[CategoryKpi]]:
        return compute_all_kpis(self._connection)

    def order_dates(self) -> list[date]:
        return all_order_dates(self._connection)

    def loaded_versions(self) -> dict[str, str]:
        rows = self._connection.execute("SELECT key, version FROM loaded_files").fetchall()
        return {str(key): str(version) for key, version in rows}

    def load(self, files: Sequence[CuratedFileRef]) -> None:
        """Load (or reload, replacing their earlier rows) ``files`` in one transaction.

        A reloaded file may have changed: the dates its old and its new rows touch are
        marked dirty, so the next computation includes them.
        """
        if not files:
            return
        connection = self._connection
        loaded = self.loaded_versions()
        reloaded = [f.key for f in files if f.key in loaded]
        connection.execute("BEGIN TRANSACTION")
        try:
            before = self.touched_dates(reloaded) if reloaded else []
            # Only a file loaded before has rows to replace (a file's rows and its
            # loaded_files entry are written in one transaction).
            if reloaded:
                self._remove_rows(reloaded)
            for ref in files:
                kind = FileKind(ref.kind)
                select = source_select(kind, [ref.path], columns_of(kind))
                connection.execute(
                    f"INSERT INTO state_{ref.kind} SELECT *, ? AS _file_key FROM ({select})",
                    [ref.key],
                )
                connection.execute(
                    "INSERT OR REPLACE INTO loaded_files VALUES (?, ?, ?)",
                    [ref.key, ref.kind, ref.version],
                )
            after = self.touched_dates(reloaded) if reloaded else []
            self._mark_dirty([*before, *after])
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def forget(self, keys: Iterable[str]) -> None:
        """Drop the rows of files that no longer exist in the store; their dates turn dirty."""
        gone = list(keys)
        if gone:
            self._mark_dirty(self.touched_dates(gone))
            self._remove_rows(gone)
            self._connection.execute("DELETE FROM loaded_files WHERE list_contains(?, key)", [gone])

    def dirty_dates(self) -> list[date]:
        rows = self._connection.execute(
            "SELECT order_date FROM dirty_dates ORDER BY order_date"
        ).fetchall()
        return [row[0] for row in rows]

    def clear_dirty(self, dates: Iterable[date]) -> None:
        """Forget dirty dates once their KPI rows have been written."""
        done = list(dates)
        if done:
            self._connection.execute(
                "DELETE FROM dirty_dates WHERE list_contains(CAST(? AS DATE[]), order_date)",
                [done],
            )

    def _mark_dirty(self, dates: Iterable[date]) -> None:
        marked = sorted(set(dates))
        if marked:
            self._connection.execute(
                "INSERT OR IGNORE INTO dirty_dates SELECT unnest(CAST(? AS DATE[]))", [marked]
            )

    def touched_dates(self, batch_keys: Sequence[str]) -> list[date]:
        """Order dates the given (already loaded) files change; see ``touched_dates``."""
        # A view cannot take parameters: the keys are inlined as quoted literals.
        of_batch = sql_in_strings("_file_key", batch_keys)
        for kind in KPI_INPUTS:
            self._connection.execute(
                f"CREATE OR REPLACE TEMP VIEW batch_{kind} AS "
                f"SELECT * EXCLUDE (_file_key, _row_hash) FROM state_{kind} WHERE {of_batch}"
            )
        return touched_dates_of_views(self._connection)

    def duplicates(self, batch_keys: Sequence[str]) -> dict[str, int]:
        """Rows of the given files identical to the version of their key just before them.

        Identical to the previous version means the upload changed nothing: such a row
        counts once. A repeat of an older, since-corrected version is a correction back.
        """
        of_batch = sql_in_strings("_file_key", batch_keys)
        counts: dict[str, int] = {}
        for kind in KPI_INPUTS:
            key = KPI_INPUTS[kind].key
            rows = self._connection.execute(
                f"""
                WITH versions AS (
                    SELECT _file_key, _row_hash,
                           lag(_row_hash) OVER (
                               PARTITION BY {key} ORDER BY {VERSION_COLUMNS}
                           ) AS previous_hash
                    FROM state_{kind}
                    WHERE {key} IN (
                        SELECT {key} FROM state_{kind} WHERE {of_batch}
                    )
                )
                SELECT _file_key, count(*) FROM versions
                WHERE {of_batch} AND _row_hash = previous_hash
                GROUP BY _file_key
                """
            ).fetchall()
            counts.update({str(file_key): int(count) for file_key, count in rows})
        return counts

    def _remove_rows(self, keys: list[str]) -> None:
        for kind in KPI_INPUTS:
            self._connection.execute(
                f"DELETE FROM state_{kind} WHERE {sql_in_strings('_file_key', keys)}"
            )

    def pending(self, *, now: datetime, grace: timedelta) -> PendingSummary:
        """Items waiting for their order or product, and what changed since the last run."""
        connection = self._connection
        connection.execute(_PENDING_SQL)
        released_row = connection.execute(
            "SELECT count(*) FROM pending_items WHERE id NOT IN (SELECT id FROM pending_now)"
        ).fetchone()
        connection.execute("DELETE FROM pending_items")
        connection.execute("INSERT INTO pending_items SELECT id FROM pending_now")
        by_file = {
            str(key): int(count)
            for key, count in connection.execute(
                "SELECT _file_key, count(*) FROM pending_now WHERE NOT repeated GROUP BY _file_key"
            ).fetchall()
        }
        cutoff = (now - grace).astimezone(UTC).replace(tzinfo=None)
        orphaned = [
            PendingItem(
                item_id=int(item_id),
                order_id=int(order_id),
                product_id=int(product_id),
                missing=" and ".join(
                    name
                    for name, absent in (("order", missing_order), ("product", missing_product))
                    if absent
                ),
                since=None if since is None else since.replace(tzinfo=UTC),
                source_key=str(source_key),
                source_line=int(source_line),
            )
            for (
                item_id,
                order_id,
                product_id,
                source_key,
                source_line,
                since,
                missing_order,
                missing_product,
            ) in connection.execute(
                """
                SELECT id, order_id, product_id, _source_key, _source_line, since,
                       missing_order, missing_product
                FROM pending_now WHERE since < ? ORDER BY since, id
                """,
                [cutoff],
            ).fetchall()
        ]
        total = connection.execute("SELECT count(*) FROM pending_now").fetchone()
        return PendingSummary(
            pending=int(total[0]) if total else 0,
            released=int(released_row[0]) if released_row else 0,
            orphaned=orphaned,
            pending_by_file=by_file,
        )
