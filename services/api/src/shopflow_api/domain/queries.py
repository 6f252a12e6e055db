"""What a request asks for, checked: dates, ranges, limits, pages.

Every refusal is a :class:`BadRequest` naming the parameter and what was wrong with it, so
the HTTP layer answers 400 with a sentence a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")


class BadRequest(ValueError):  # noqa: N818 (the HTTP status it becomes)
    def __init__(self, parameter: str, message: str, **details: object) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message
        self.details = details


class NotFound(LookupError):  # noqa: N818 (the HTTP status it becomes)
    pass


def parse_date(parameter: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            parameter, f"{text!r} is not a date; write it as YYYY-MM-DD", value=text
        ) from None


@dataclass(frozen=True)
class DateRange:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def years(self) -> list[str]:
        """The partition keys of the day table the range spans, oldest first."""
        return [f"{year:04d}" for year in range(self.first.year, self.last.year + 1)]


def parse_range(from_text: str | None, to_text: str | None, *, default_days: int) -> DateRange:
    """``from``..``to`` inclusive. One side missing: ``default_days`` ending at ``to`` or
    starting at ``from``; both missing is refused (there is no "today" in the data)."""
    if from_text is None and to_text is None:
        raise BadRequest("from", "give from and/or to (YYYY-MM-DD)")
    first = parse_date("from", from_text) if from_text is not None else None
    last = parse_date("to", to_text) if to_text is not None else None
    if first is None and last is not None:
        first = last - timedelta(days=default_days - 1)
    if last is None and first is not None:
        last = first + timedelta(days=default_days - 1)
    assert first is not None and last is not None
    if first > last:
        raise BadRequest(
            "from",
            f"from ({first.isoformat()}) is after to ({last.isoformat()})",
            **{"from": first.isoformat(), "to": last.isoformat()},
        )
    return DateRange(first, last)


def parse_limit(text: str | None, *, default: int, maximum: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest("limit", f"{text!r} is not a whole number", value=text) from None
    if not 1 <= value <= maximum:
        raise BadRequest("limit", f"must be from 1 to {maximum}, not {value}", value=value)
    return value


@dataclass(frozen=True)
class Page(Generic[T]):
    """At most ``limit`` items of a range; ``next_from`` is where the next page starts."""

    items: list[T]
    next_from: date | None


def page_of(rows: Sequence[T], limit: int, date_of: Callable[[T], date]) -> Page[T]:
    """The first ``limit`` of ``rows`` (in date order); the store is asked for one row more
    than the page holds, so a further row means a next page, starting on its date."""
    if len(rows) > limit:
        return Page(list(rows[:limit]), date_of(rows[limit]))
    return Page(list(rows), None)


def check_category(category: str, known: Sequence[str]) -> None:
    if category not in known:
        raise BadRequest(
            "category",
            f"unknown category {category!r}; known: {', '.join(sorted(known)) or 'none yet'}",
            known=sorted(known),
        )
