"""Money from its text to exact cents: DuckDB's cast against Python's Decimal, and what is
float noise (not reported) against a real sub-cent amount (reported)."""

from __future__ import annotations

import re
import struct
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shopflow_contracts.rows import FileKind
from shopflow_validator.domain.rules import MONEY_PATTERN, raw, typed_expression
from shopflow_validator.domain.schema import ColumnSpec, ColumnType
from validator_support import ITEMS_HEADER, parquet_rows, validate

CENT = Decimal("0.01")
# Whole cents up to 10 million currency units, the range real shops sell in.
CENTS = st.integers(min_value=0, max_value=10**9)
# FLOAT32 holds the cent (half its unit in the last place under half a cent) below 2^17.
FLOAT32_CENTS = st.integers(min_value=0, max_value=2**17 * 100)
# A third decimal place is more than FLOAT32 noise below 2^14 (half a unit: 2^-11 < 0.001).
SUB_CENT_CENTS = st.integers(min_value=0, max_value=2**14 * 100 - 1)
SPEC = ColumnSpec("sale_price", ColumnType.MONEY, required=True)


def float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def spellings(cents: int) -> list[str]:
    """How exports write an exact amount: FLOAT32 and FLOAT64 renderings, exponent, plain."""
    exact = cents / 100
    return [
        f"{Decimal(cents).scaleb(-2)}",
        repr(exact),
        f"{exact:.17g}",
        f"{exact:.16E}",
        f"{float32(exact):.17g}",
        repr(float32(exact)),
        f"{float32(exact):.16e}",
    ]


def converted(text: str) -> Decimal | None:
    """The validator's conversion of one money cell (round mode)."""
    query = f"SELECT {typed_expression(SPEC, 'round')} FROM (SELECT ?::VARCHAR AS {raw(SPEC)})"
    row = duckdb.execute(query, [text]).fetchone()
    assert row is not None
    value: Decimal | None = row[0]
    return value


def items(prices: list[str]) -> str:
    return (
        ITEMS_HEADER
        + "\n"
        + "".join(
            f"{n},1,10,500,complete,2025-03-30T16:14:26,,,,{price}\n"
            for n, price in enumerate(prices, start=1)
        )
    )


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(
        CENTS.flatmap(lambda cents: st.sampled_from(spellings(cents))),
        st.from_regex(r"\A[+]?[0-9]{1,6}\.[0-9]{3,8}\Z"),
        st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,4})?[eE][+-]?[0-9]\Z"),
    )
)
def test_given_money_text_when_converted_then_it_is_the_decimal_half_away_from_zero(
    text: str,
) -> None:
    assert converted(text) == Decimal(text).quantize(CENT, rounding=ROUND_HALF_UP)


def test_given_exponents_the_plain_cast_misrounds_when_converted_then_they_are_exact() -> None:
    # DuckDB's VARCHAR -> DECIMAL(18,2) cast makes 0.01 of 5E-4: hence the DECIMAL(38,20) path.
    for text, cents in [("5E-4", "0.00"), ("49E-4", "0.00"), ("5E-3", "0.01"), ("1.5E1", "15.00")]:
        assert converted(text) == Decimal(cents), text


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amounts=st.lists(FLOAT32_CENTS, min_size=1, max_size=20))
def test_given_float_renderings_of_exact_cents_when_validated_then_exact_and_not_reported(
    tmp_path_factory: object, amounts: list[int]
) -> None:
    prices = [text for cents in amounts for text in spellings(cents)]
    assert all(re.fullmatch(MONEY_PATTERN, text) for text in prices)
    work = Path(str(tmp_path_factory.mktemp("noise")))  # type: ignore[attr-defined]

    result = validate(work, items(prices), FileKind.ORDER_ITEMS)

    assert (result.accepted, result.rejected) == (len(prices), 0)
    assert result.money_rounding.rows == 0
    assert result.accepted_path is not None
    expected = [Decimal(cents).scaleb(-2) for cents in amounts for _ in spellings(cents)]
    assert [row[0] for row in parquet_rows(result.accepted_path, "sale_price")] == expected


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amounts=st.lists(
        st.tuples(SUB_CENT_CENTS, st.integers(min_value=1, max_value=9)), min_size=1, max_size=20
    )
)
def test_given_real_sub_cent_amounts_when_validated_then_rounded_and_each_reported(
    tmp_path_factory: object, amounts: list[tuple[int, int]]
) -> None:
    # A third decimal place that is not zero: at least 0.001 away from a cent.
    prices = [f"{Decimal(cents).scaleb(-2)}{mill}" for cents, mill in amounts]
    work = Path(str(tmp_path_factory.mktemp("subcent")))  # type: ignore[attr-defined]

    result = validate(work, items(prices), FileKind.ORDER_ITEMS)

    assert result.money_rounding.rows == len(prices)
    assert result.money_rounding.by_column == {"sale_price": len(prices)}
    assert [(row.line, row.text) for row in result.money_rounding_rows] == [
        (line, text) for line, text in enumerate(prices, start=2)
    ]
    assert [row.value for row in result.money_rounding_rows] == [
        Decimal(text).quantize(CENT, rounding=ROUND_HALF_UP) for text in prices
    ]
