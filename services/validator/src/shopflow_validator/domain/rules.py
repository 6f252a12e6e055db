"""The row rules, as DuckDB SQL over cells read as VARCHAR.

Every cell is read as text and converted here with a format check first and ``TRY_CAST``
second: the regular expression decides what is acceptable (DuckDB's casts are more lenient,
e.g. ``'1.0'`` casts to BIGINT), and ``TRY_CAST`` turns what still cannot be represented (an
overflowing id, 30 February) into NULL instead of aborting the statement. A non-blank cell
whose typed value is NULL breaks a rule.

Money is converted by DuckDB's VARCHAR -> DECIMAL casts, which read the digits of the text
exactly: no binary float is ever involved. Whole cents (at most two places, no exponent) cast
straight to DECIMAL(18,2); any other spelling is read as DECIMAL(38,20) and rounded to the
cent half away from zero by ``round``, because the direct cast mis-rounds some exponents
(``5E-4`` comes out as 0.01). ``tests/unit/validator/test_validator_money.py`` checks both
against Python's ``Decimal``. See ``shopflow_contracts.rows`` for what money may look like
and what counts as float noise.

The first broken rule, in schema column order and then the cross-column rules, is the
rule a rejected row is counted under. Only the columns of ``ROW_REJECTING_COLUMNS`` have
rules that reject: the cell rules of any other column are warnings (``warning_rules``), and
a cell breaking one is nulled in the curated data.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopflow_contracts.report import MoneyMode

from shopflow_validator.domain.schema import ColumnSpec, ColumnType

INTEGER_PATTERN = r"[+-]?[0-9]+"
# A number as numeric exports write it: sign, digits, fraction, exponent (all optional but
# a digit). Its size is the cast's business: more than 16 integer digits do not fit.
MONEY_PATTERN = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
# Whole cents (at most two places, no exponent, 16 integer digits at most): cast directly,
# nothing to round; with ``money_mode=strict``, the only money accepted.
STRICT_MONEY_PATTERN = r"[+-]?[0-9]{1,16}(\.[0-9]{1,2})?"
# A rounding is float noise within max(1e-6, |cents| / (2^24 - 1)): at most half a FLOAT32
# unit in the last place of the amount, what a FLOAT32 (or FLOAT64) rendering leaves.
NOISE_ABSOLUTE = "0.000001"
NOISE_RELATIVE_INVERSE = 2**24 - 1
# ISO-8601 date, 'T' or a space, hh:mm[:ss[.fraction]], optional zone (Z, UTC, +hh[[:]mm]).
TIMESTAMP_PATTERN = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}:[0-9]{2})(:[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r" ?(Z|UTC|[+-][0-9]{2}(?::?[0-9]{2})?)?$"
)
DATE_ONLY_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# Dates an event may not precede: (event column, the rule it breaks).
EVENTS_AFTER_CREATION = (
    ("shipped_at", "shipped_before_created"),
    ("delivered_at", "delivered_before_created"),
    ("returned_at", "returned_before_created"),
)
# How many characters of an offending cell a message quotes.
QUOTED_CELL_CHARS = 80


def sql_text(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def raw(spec: ColumnSpec) -> str:
    """The column holding the trimmed cell text (NULL when blank or absent from the file)."""
    return ident(f"v_{spec.name}")


def typed(spec: ColumnSpec) -> str:
    """The column holding the cell converted to the column's SQL type (NULL when invalid)."""
    return ident(f"t_{spec.name}")


def rounded(spec: ColumnSpec) -> str:
    """The flag column of a money cell rounded by more than float noise (round mode only)."""
    return ident(f"r_{spec.name}")


def warned(spec: ColumnSpec) -> str:
    """The column naming the warning rule a cell of a non-rejecting column broke, if any."""
    return ident(f"w_{spec.name}")


def warned_message(spec: ColumnSpec) -> str:
    return ident(f"wm_{spec.name}")


def _timestamp_parts(spec: ColumnSpec) -> str:
    return ident(f"p_{spec.name}")


def parts_expression(spec: ColumnSpec) -> str | None:
    """A helper column splitting a timestamp cell into date, time, seconds and zone."""
    if spec.type is not ColumnType.TIMESTAMP:
        return None
    groups = "['date', 'hm', 'seconds', 'zone']"
    return f"regexp_extract({raw(spec)}, {sql_text(TIMESTAMP_PATTERN)}, {groups})"


def typed_expression(spec: ColumnSpec, money: MoneyMode) -> str:
    value = raw(spec)
    if spec.type is ColumnType.INTEGER:
        return (
            f"CASE WHEN regexp_full_match({value}, {sql_text(INTEGER_PATTERN)}) "
            f"THEN TRY_CAST({value} AS BIGINT) END"
        )
    if spec.type is ColumnType.MONEY:
        if money == "strict":
            return (
                f"CASE WHEN regexp_full_match({value}, {sql_text(STRICT_MONEY_PATTERN)}) "
                f"THEN TRY_CAST({value} AS DECIMAL(18,2)) END"
            )
        return (
            f"CASE WHEN regexp_full_match({value}, {sql_text(STRICT_MONEY_PATTERN)}) "
            f"THEN TRY_CAST({value} AS DECIMAL(18,2)) "
            f"WHEN regexp_full_match({value}, {sql_text(MONEY_PATTERN)}) "
            f"THEN TRY_CAST(round(TRY_CAST({value} AS DECIMAL(38,20)), 2) AS DECIMAL(18,2)) END"
        )
    if spec.type is ColumnType.TIMESTAMP:
        parts = _timestamp_parts(spec)
        # A zone-less timestamp is UTC by the export convention (shopflow_contracts.rows).
        return (
            f"CASE WHEN {parts}.date <> '' THEN TRY_CAST("
            f"{parts}.date || ' ' || {parts}.hm "
            f"|| CASE WHEN {parts}.seconds = '' THEN ':00' ELSE {parts}.seconds END "
            f"|| CASE WHEN {parts}.zone IN ('', 'Z', 'UTC') THEN '+00:00' ELSE {parts}.zone END "
            f"AS TIMESTAMPTZ) END"
        )
    if spec.type is ColumnType.VOCABULARY:
        allowed = ", ".join(sql_text(word) for word in spec.vocabulary)
        # list_contains, not IN: DuckDB plans a long IN list as a join, and a join keeps no
        # row order, which the direct read's numbering needs (see ``plain``).
        return f"CASE WHEN list_contains([{allowed}], lower({value})) THEN lower({value}) END"
    return value


def rounded_expression(spec: ColumnSpec) -> str:
    """Whether a money cell lost more than float noise on its way to the cents.

    Only cells with a third decimal place (or an exponent) are looked at; their exact value
    is read as DECIMAL(38,20), and the comparison stays in DECIMAL arithmetic.
    """
    value, cents = raw(spec), typed(spec)
    exact = f"TRY_CAST({value} AS DECIMAL(38,20))"
    # Sub-cent digits need a third decimal place or an exponent: LIKE finds those cheaply.
    maybe_sub_cent = f"({value} LIKE '%.___%' OR {value} LIKE '%e%' OR {value} LIKE '%E%')"
    return (
        f"CASE WHEN {cents} IS NOT NULL AND {maybe_sub_cent} "
        f"THEN abs({exact} - {cents}) > {NOISE_ABSOLUTE} "
        f"AND abs({exact} - {cents}) * {NOISE_RELATIVE_INVERSE} > abs({cents}) END"
    )


@dataclass(frozen=True)
class Rule:
    name: str
    broken_when: str
    message: str


def _quoted(spec: ColumnSpec) -> str:
    return f"'\"' || left({raw(spec)}, {QUOTED_CELL_CHARS}) || '\"'"


def _cell_rules(spec: ColumnSpec, money: MoneyMode) -> list[Rule]:
    value, converted, name = raw(spec), typed(spec), spec.name
    rules = []
    if spec.required:
        rules.append(
            Rule(f"missing_required:{name}", f"{value} IS NULL", sql_text(f"{name} is empty"))
        )
    invalid = f"{value} IS NOT NULL AND {converted} IS NULL"
    money_shape = (
        "a number (digits with an optional fraction, sign and exponent; no thousands separator)"
        if money == "round"
        else "a decimal with at most 2 places and no thousands separator"
    )
    if spec.type is ColumnType.INTEGER:
        rules.append(
            Rule(
                f"invalid_integer:{name}",
                invalid,
                f"{sql_text(name + ' ')} || {_quoted(spec)} || ' is not an integer'",
            )
        )
    elif spec.type is ColumnType.MONEY:
        rules.append(
            Rule(
                f"invalid_money:{name}",
                invalid,
                f"{sql_text(name + ' ')} || {_quoted(spec)} || "
                f"{sql_text(' is not ' + money_shape)}",
            )
        )
        rules.append(
            Rule(
                f"negative_money:{name}",
                f"{converted} < 0",
                f"{sql_text(name + ' ')} || {_quoted(spec)} || ' is negative'",
            )
        )
    elif spec.type is ColumnType.TIMESTAMP:
        rules.append(
            Rule(
                f"date_without_time:{name}",
                # The regular expression runs only on the (rare) invalid cells.
                f"{invalid} AND regexp_full_match({value}, {sql_text(DATE_ONLY_PATTERN)})",
                f"{sql_text(name + ' ')} || {_quoted(spec)} || ' is a date without a time of "
                f"day: a timestamp needs at least hh:mm'",
            )
        )
        rules.append(
            Rule(
                f"invalid_timestamp:{name}",
                invalid,
                f"{sql_text(name + ' ')} || {_quoted(spec)} || ' is not an ISO-8601 timestamp'",
            )
        )
    elif spec.type is ColumnType.VOCABULARY:
        rules.append(
            Rule(
                f"unknown_{name}",
                invalid,
                f"{sql_text(name + ' ')} || {_quoted(spec)} || "
                f"{sql_text(' is not one of ' + ', '.join(spec.vocabulary))}",
            )
        )
    return rules


def _row_rules(specs: dict[str, ColumnSpec]) -> list[Rule]:
    rules = []
    if "num_of_item" in specs:
        count = specs["num_of_item"]
        rules.append(
            Rule(
                "num_of_item_below_one",
                f"{typed(count)} < 1",
                f"'num_of_item ' || {_quoted(count)} || ' is below 1'",
            )
        )
    created = specs.get("created_at")
    if created is not None:
        for event, rule in EVENTS_AFTER_CREATION:
            if event in specs:
                happened = specs[event]
                rules.append(
                    Rule(
                        rule,
                        f"{typed(happened)} < {typed(created)}",
                        f"'{event} ' || {_quoted(happened)} || ' is before created_at ' "
                        f"|| {_quoted(created)}",
                    )
                )
    status = specs.get("status")
    if status is not None and "returned" in status.vocabulary and "returned_at" in specs:
        rules.append(
            Rule(
                "returned_without_returned_at",
                f"{typed(status)} = 'returned' AND {raw(specs['returned_at'])} IS NULL",
                sql_text("status is returned but returned_at is empty"),
            )
        )
    return rules


# Columns a batch context adds to an order item: its order's user_id, where that order is.
BATCH_ORDER_USER = ident("b_user_id")
BATCH_ORDER_SOURCE = ident("b_source")
BATCH_ORDER_LINE = ident("b_line")


def user_mismatch_rule(specs: tuple[ColumnSpec, ...]) -> Rule:
    """An item whose ``user_id`` differs from that of its order in the same batch.

    Only checked when the order is in the batch (the ``b_*`` columns are joined in from the
    batch's accepted orders); an order from another batch is checked later, by the KPI stage.
    """
    user = {spec.name: spec for spec in specs}["user_id"]
    return Rule(
        "user_mismatch",
        f"{BATCH_ORDER_USER} IS NOT NULL AND {typed(user)} <> {BATCH_ORDER_USER}",
        f"'user_id ' || {_quoted(user)} || ' differs from user_id ' || {BATCH_ORDER_USER} "
        f"|| ' of its order in this batch (' || {BATCH_ORDER_SOURCE} || ' line ' "
        f"|| {BATCH_ORDER_LINE} || ')'",
    )


def rules_for(specs: tuple[ColumnSpec, ...], money: MoneyMode) -> list[Rule]:
    """Every rule a row of these columns must keep, in the order they are reported."""
    rules = [rule for spec in specs if spec.rejects for rule in _cell_rules(spec, money)]
    return rules + _row_rules({spec.name: spec for spec in specs if spec.rejects})


def warning_rules(spec: ColumnSpec, money: MoneyMode) -> list[Rule]:
    """The cell rules of a column whose bad value is nulled instead of rejecting the row."""
    if spec.rejects:
        return []
    return [rule for rule in _cell_rules(spec, money) if not rule.name.startswith("missing_")]


def first_broken(rules: list[Rule], field: str) -> str:
    """A CASE picking ``name`` or ``message`` of the first broken rule (NULL if none is)."""
    branches = " ".join(
        f"WHEN {rule.broken_when} THEN {sql_text(rule.name) if field == 'name' else rule.message}"
        for rule in rules
    )
    return f"CASE {branches} END" if branches else "NULL"
