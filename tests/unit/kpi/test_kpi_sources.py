"""The KPI stage knows every file kind, and reads them as the row contracts type them."""

from __future__ import annotations

from shopflow_contracts.rows import PRIMARY_KEYS, ROW_MODELS, FileKind
from shopflow_kpi.domain.sources import KPI_INPUTS, NOT_READ, VERSION_COLUMN_TYPES


def test_every_file_kind_is_read_by_the_kpis_or_declared_not_read() -> None:
    # Given the file kinds of the contracts
    kinds = set(FileKind)
    # When the KPI stage's inputs are compared with them
    read, not_read = set(KPI_INPUTS), set(NOT_READ)
    # Then each kind is decided on exactly once: a new kind fails here, not in a run
    assert read | not_read == kinds, f"undecided kinds: {sorted(kinds - read - not_read)}"
    assert not read & not_read


def test_each_input_reads_its_primary_key_and_only_row_model_columns() -> None:
    for kind, source in KPI_INPUTS.items():
        # Given one kind's KPI input
        schema = set(ROW_MODELS[kind].model_fields)
        # Then its key is the contract's, and every column it reads exists in the row model
        assert source.key == PRIMARY_KEYS[kind]
        assert set(source.columns) - set(VERSION_COLUMN_TYPES) <= schema
        assert list(source.columns)[-len(VERSION_COLUMN_TYPES) :] == list(VERSION_COLUMN_TYPES)


def test_curated_types_follow_the_row_models() -> None:
    # Given the items input
    columns = KPI_INPUTS[FileKind.ORDER_ITEMS].columns
    # Then money, ids, statuses and timestamps are typed from their annotations
    assert columns["sale_price"] == "DECIMAL(18,2)"
    assert columns["id"] == "BIGINT"
    assert columns["status"] == "VARCHAR"
    assert KPI_INPUTS[FileKind.ORDERS].columns["created_at"] == "TIMESTAMPTZ"
    assert KPI_INPUTS[FileKind.ORDERS].vocabulary_columns == {"status"}
