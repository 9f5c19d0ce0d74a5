"""Pact's date/time expressions, as the Date, Time and DateTime generators take them (Rust:
pact_models generators/datetime_expressions.rs): parsed at load (`parse_when`, ValueError for one
that is not an expression) into steps, applied to a base moment per answer (`apply_when`).

Date/time expressions (case-insensitive): `today`, `now`, `yesterday`, `tomorrow`, `+ N day(s)`,
`- N week(s)`, `month(s)`, `year(s)`, `next`/`last` `day|week|fortnight|month|year|<weekday>|<month>`
(a weekday: the next/previous one strictly after/before; a month: its 1st day), then after `@`:
`now`, `midnight`, `noon`, `N o'clock [am|pm]` (without am/pm: the next one, Rust's rule),
`± N hour(s)|minute(s)|second(s)|millisecond(s)`, `next|last hour|minute|...`; e.g.
`tomorrow @ 1 o'clock`, `last december + 2 weeks + 4 days`, `@ midnight + 4 minutes`.

Deviations from Rust in expressions: a month or year step that lands on a missing day ends on the
month's last day (Jan 31 + 1 month = Feb 28/29, as pact-jvm's plusMonths; Rust gives Feb 1, or leaves
Feb 29 + 1 year unchanged); `12 o'clock am` is midnight and `12 o'clock pm` noon (Rust: 12:00, and
the time unchanged); words must be separated by blanks or signs (`nextmonday` is an error); a Time
generator's expression may start with `@`.
"""
from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from collections.abc import Mapping

# -- date/time expressions --------------------------------------------------------------------------

_WEEKDAYS = {name: i for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                                "sunday")) for name in (full, full[:3])}
_WEEKDAYS.update(tues=1, thurs=3)
del _WEEKDAYS["tue"], _WEEKDAYS["thu"]  # (Rust's words: mon, tues, wed, thurs, fri, sat, sun)
_MONTH_WORDS = {name: i for i, full in enumerate(("january", "february", "march", "april", "may", "june", "july",
                                                  "august", "september", "october", "november", "december"), 1)
                for name in (full, full[:3])}
_DATE_UNITS = {"day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month", "months": "month",
               "year": "year", "years": "year"}
_TIME_UNITS = {f"{unit}{s}": unit for unit in ("hour", "minute", "second", "millisecond") for s in ("", "s")}
_TOKEN = re.compile(r"\s*(?:([0-9]+)|([+-])|([a-z][a-z']*)|(\S))")

Step = tuple[int, str, int]  # (+1 or -1, unit, amount)


def _tokens(text: str) -> list[str | int]:
    out: list[str | int] = []
    for number, sign, word, other in _TOKEN.findall(text.lower()):
        if other:
            raise ValueError(f"unexpected {other!r} in {text!r}")
        out.append(int(number) if number else sign or word)
    return out


def _adjustments(tokens: list[str | int], i: int, units: Mapping[str, str], text: str) -> list[Step]:
    """`± N unit` repeated to the end."""
    steps: list[Step] = []
    while i < len(tokens):
        if tokens[i] not in ("+", "-"):
            raise ValueError(f"expected + or - but found {tokens[i]!r} in {text!r}")
        if i + 2 >= len(tokens):
            raise ValueError(f"expected a number and a unit after {tokens[i]!r} in {text!r}")
        amount, unit = tokens[i + 1], tokens[i + 2]
        if not isinstance(amount, int):
            raise ValueError(f"expected a number but found {amount!r} in {text!r}")
        if unit not in units:
            raise ValueError(f"expected one of {', '.join(sorted(set(units.values())))} but found {unit!r} "
                             f"in {text!r}")
        steps.append((1 if tokens[i] == "+" else -1, units[str(unit)], amount))
        i += 3
    return steps


@functools.lru_cache(maxsize=256)
def _parse_date(text: str) -> tuple[str, tuple[Step, ...]]:
    """A date expression as its base (now, today, yesterday, tomorrow) and its steps."""
    tokens = _tokens(text)
    if not tokens:
        return "now", ()
    first, i = tokens[0], 1
    steps: list[Step] = []
    if first in ("now", "today", "yesterday", "tomorrow"):
        base = str(first)
    elif first in ("next", "last"):
        base, word = "now", tokens[1] if len(tokens) > 1 else None
        sign = 1 if first == "next" else -1
        if word in ("day", "week", "month", "year"):
            steps.append((sign, str(word), 1))
        elif word == "fortnight":
            steps.append((sign, "week", 2))
        elif word in _WEEKDAYS:
            steps.append((sign, "weekday", _WEEKDAYS[str(word)]))
        elif word in _MONTH_WORDS:
            steps.append((sign, "monthname", _MONTH_WORDS[str(word)]))
        else:
            raise ValueError(f"expected day, week, fortnight, month, year, a weekday or a month after {first!r} "
                             f"in {text!r}")
        i = 2
    elif first in ("+", "-"):
        base, i = "now", 0
    else:
        raise ValueError(f"expected one of now, today, yesterday, tomorrow, +, -, next or last in {text!r}")
    return base, tuple(steps + _adjustments(tokens, i, _DATE_UNITS, text))


@functools.lru_cache(maxsize=256)
def _parse_time(text: str) -> tuple[tuple[str, int], tuple[Step, ...]]:
    """A time expression as its base (now, midnight, noon, (am|pm|next, hour)) and its steps."""
    tokens = _tokens(text)
    if not tokens:
        return ("now", 0), ()
    first, i = tokens[0], 1
    steps: list[Step] = []
    if first in ("now", "midnight", "noon"):
        base = (str(first), 0)
    elif isinstance(first, int):
        if len(tokens) < 2 or tokens[1] != "o'clock":
            raise ValueError(f"expected o'clock after {first} in {text!r}")
        if not 1 <= first <= 12:
            raise ValueError(f"expected an hour from 1 to 12, not {first}, in {text!r}")
        clock = tokens[2] if len(tokens) > 2 and tokens[2] in ("am", "pm") else "next"
        base, i = (str(clock), first), 2 if clock == "next" else 3
    elif first in ("next", "last"):
        word = tokens[1] if len(tokens) > 1 else None
        if word not in _TIME_UNITS:
            raise ValueError(f"expected hour, minute, second or millisecond after {first!r} in {text!r}")
        base, i = ("now", 0), 2
        steps.append((1 if first == "next" else -1, _TIME_UNITS[str(word)], 1))
    elif first in ("+", "-"):
        base, i = ("now", 0), 0
    else:
        raise ValueError(f"expected one of now, midnight, noon, 1-12 o'clock, +, -, next or last in {text!r}")
    return base, tuple(steps + _adjustments(tokens, i, _TIME_UNITS, text))


def parse_when(kind: str, expression: str) -> tuple:
    """The parsed expression of a Date (date part only), Time (time part only) or DateTime
    (`date @ time`) generator."""
    if kind == "Date":
        return _parse_date(expression), None
    if kind == "Time":  # (a leading `@`, as in a DateTime's time part, is allowed: Rust refuses it)
        return None, _parse_time(expression.lstrip().removeprefix("@"))
    date_part, at, time_part = expression.partition("@")
    return _parse_date(date_part), _parse_time(time_part) if at else None


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _date_step(moment: dt.datetime, step: Step) -> dt.datetime:
    sign, unit, amount = step
    if unit == "day":
        return moment + dt.timedelta(days=sign * amount)
    if unit == "week":
        return moment + dt.timedelta(weeks=sign * amount)
    if unit == "month":
        return _add_months(moment, sign * amount)
    if unit == "year":
        return _add_months(moment, 12 * sign * amount)
    if unit == "weekday":  # the next (previous) such day, never today
        days = (amount - moment.weekday()) % 7 if sign > 0 else (moment.weekday() - amount) % 7
        return moment + dt.timedelta(days=sign * (days or 7))
    # monthname: the 1st of the next (previous) such month, never this month
    year = moment.year + (1 if sign > 0 and amount <= moment.month else -1 if sign < 0 and amount >= moment.month
                          else 0)
    return moment.replace(year=year, month=amount, day=1)


_TIME_STEP = {"hour": dt.timedelta(hours=1), "minute": dt.timedelta(minutes=1), "second": dt.timedelta(seconds=1),
              "millisecond": dt.timedelta(milliseconds=1)}


def _apply_time(moment: dt.datetime, parsed: tuple[tuple[str, int], tuple[Step, ...]]) -> dt.datetime:
    (base, hour), steps = parsed
    on_the_hour = moment.replace(minute=0, second=0, microsecond=0)
    if base == "midnight":
        moment = on_the_hour.replace(hour=0)
    elif base == "noon":
        moment = on_the_hour.replace(hour=12)
    elif base == "am":
        moment = on_the_hour.replace(hour=hour % 12)
    elif base == "pm":
        moment = on_the_hour.replace(hour=hour % 12 + 12)
    elif base == "next":  # Rust: before noon the afternoon's hour, after it the morning's
        moment = on_the_hour.replace(hour=12 if hour == 12 else hour + 12 if moment.hour < 12 else hour)
    for sign, unit, amount in steps:
        moment += sign * amount * _TIME_STEP[unit]
    return moment


def apply_when(steps: tuple, moment: dt.datetime) -> dt.datetime:
    date_parsed, time_parsed = steps
    if date_parsed is not None:
        base, date_steps = date_parsed
        moment += dt.timedelta(days={"yesterday": -1, "tomorrow": 1}.get(base, 0))
        for step in date_steps:
            moment = _date_step(moment, step)
    return moment if time_parsed is None else _apply_time(moment, time_parsed)


