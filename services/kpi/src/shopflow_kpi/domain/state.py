"""Curated data kept in a persistent DuckDB database, loading each curated file once.

A run reads only the curated files it has not seen (new batches, or objects whose version
changed), so the cost of bringing the data up to date follows the batch, not the history.
The database is a cache of the curated area, never a source of truth: deleting it only
costs one full reload, and ``CuratedState.open`` rebuilds it when its layout changed.

The state exposes the same ``curated_<kind>`` views as ``register_curated``, so
``compute_kpis`` and the touched-dates question run unchanged on top of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

from shopflow_kpi.domain.kpis import (
    KINDS,
    prepare_session,
    source_select,
    sql_string_list,
    touched_dates_of_views,
)

# Bump when the tables below change shape: an older database is then rebuilt from scratch.
STATE_LAYOUT_VERSION = 1


@dataclass(frozen=True)
class CuratedFileRef:
    """A curated Parquet file: its identity in the store, its version, and a local copy."""

    kind: str
    key: str
    version: str
    path: str


class CuratedState:
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
        for kind in KINDS:
            connection.execute(f"DROP TABLE IF EXISTS state_{kind}")
            # The table takes its shape from the typed select over no file at all.
            connection.execute(
                f"CREATE TABLE state_{kind} AS "
                f"SELECT *, CAST(NULL AS VARCHAR) AS _file_key FROM ({source_select(kind, [])})"
            )
        connection.execute(
            "CREATE TABLE loaded_files (key VARCHAR PRIMARY KEY, kind VARCHAR, version VARCHAR)"
        )
        connection.execute(
            "INSERT OR REPLACE INTO state_meta VALUES ('layout_version', ?)",
            [str(STATE_LAYOUT_VERSION)],
        )

    def _expose(self) -> None:
        for kind in KINDS:
            self._connection.execute(
                f"CREATE OR REPLACE TEMP VIEW curated_{kind} AS "
                f"SELECT * EXCLUDE (_file_key) FROM state_{kind}"
            )

    def loaded_versions(self) -> dict[str, str]:
        rows = self._connection.execute("SELECT key, version FROM loaded_files").fetchall()
        return {str(key): str(version) for key, version in rows}

    def load(self, files: Sequence[CuratedFileRef]) -> None:
        """Load (or reload, replacing their earlier rows) ``files`` in one transaction."""
        if not files:
            return
        connection = self._connection
        connection.execute("BEGIN TRANSACTION")
        try:
            self._remove_rows([f.key for f in files])
            for ref in files:
                connection.execute(
                    f"INSERT INTO state_{ref.kind} "
                    f"SELECT *, ? AS _file_key FROM ({source_select(ref.kind, [ref.path])})",
                    [ref.key],
                )
                connection.execute(
                    "INSERT OR REPLACE INTO loaded_files VALUES (?, ?, ?)",
                    [ref.key, ref.kind, ref.version],
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def forget(self, keys: Iterable[str]) -> None:
        """Drop the rows of files that no longer exist in the store."""
        gone = list(keys)
        if gone:
            self._remove_rows(gone)
            self._connection.execute("DELETE FROM loaded_files WHERE list_contains(?, key)", [gone])

    def touched_dates(self, batch_keys: Sequence[str]) -> list[date]:
        """Order dates the given (already loaded) files change; see ``touched_dates``."""
        # A view cannot take parameters: the keys are inlined as quoted literals.
        keys = sql_string_list(batch_keys)
        for kind in KINDS:
            self._connection.execute(
                f"CREATE OR REPLACE TEMP VIEW batch_{kind} AS "
                f"SELECT * EXCLUDE (_file_key) FROM state_{kind} "
                f"WHERE list_contains({keys}, _file_key)"
            )
        return touched_dates_of_views(self._connection)

    def _remove_rows(self, keys: list[str]) -> None:
        for kind in KINDS:
            self._connection.execute(
                f"DELETE FROM state_{kind} WHERE list_contains(?, _file_key)", [keys]
            )
