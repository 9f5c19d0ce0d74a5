"""Pact v3/v4 generators: the `generators` of a pact file, which replace an example value with a
fresh one (a random id, today's date, the provider state's id) each time a stub answers.

`check(spec)` validates one generator object at load time (GeneratorError names the field);
`generate(spec, example, rng, context, now)` makes a value. All randomness comes from `rng`, and the
clock from `now`, so a seeded stub answers the same way every run. Once `check` has passed,
`generate` does not raise: what cannot be made at request time (a provider-state key the context
lacks, no mock server URL, a date out of range) leaves the example, as Rust does for any generator
that fails. Values are JSON values; where text is needed (a header) the caller writes them out.

Follows the Rust reference (pact_models generators/mod.rs, datetime_expressions.rs):

* RandomInt `min` (0) `max` (10), inclusive; a string when the example is one.
* RandomDecimal `digits` (10): that many digits with one '.' inside, no leading zero but a lone one;
  a JSON number when the example is a number, else a string.
* RandomHexadecimal `digits` (10): upper-case. Rust draws the digits without replacement (so never
  more than 16, never a repeat); the spec says "a random hexadecimal value of the given number of
  digits", which this follows: `digits` independent digits.
* RandomString `size` (10): ASCII letters and digits.
* Regex `regex`: a string the regex fully matches, made from Python's own parse of it. Unbounded
  repeats run min..min+20 times as in Rust (rand_regex, max_repeat 20), bounded ones too (`{5,100}`
  makes 5..25), and a regex that could still make more than 10,000 characters is refused at load:
  generation never hangs. Anchors and \\b make nothing; back-references repeat their group;
  look-arounds and conditionals are refused (Rust's regex parser refuses them, and back-references
  too). Java's `(?<name>...)`, `\\k<name>` and `\\z` are read. Classes draw from printable ASCII (and
  the class's own ranges). No library: rstr bounds only `*` and `+` (so `a{99999}` or nested repeats
  make huge strings), exrex draws from the global random; stuntman.openapi.generate's maker aims at
  a length and a search, not a full match.
* Uuid `format`: simple, lower-case-hyphenated (the default, as in Rust and pact-jvm; the v3 spec
  text says "simple"), upper-case-hyphenated, URN; a non-string example gets the hyphenated form.
* Date, Time, DateTime `format` (javatime patterns), `expression` (below); the base is the context's
  `baseDate` / `baseTime` / `baseDateTime` (ISO 8601) when given, else `now`. Without a format:
  `yyyy-MM-dd`, `HH:mm:ss`, and Rust's `yyyy-MM-dd'T'HH:mm:ss.SSSZ` (2000-01-01T10:00:00.000+0000).
* RandomBoolean: a bool; a "true"/"false" string when the example is a string (as Rust writes it
  in headers and queries).
* ProviderState `expression` (`/api/user/${id}` or a bare `id`), `dataType` STRING, INTEGER, DECIMAL,
  FLOAT, RAW (default), BOOLEAN: looked up in the context's `providerState` map, else the context
  itself; `${id}` alone keeps the value's JSON type, text around it makes a string.
* MockServerURL `regex`, `example`: the generator's example with the text up to the regex's group 1
  replaced by the mock server URL (context `mockServerUrl`, or Rust's `mockServer.url` / `.href`).

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
import importlib
import json
import math
import random
import re
import string
import uuid
import warnings
from collections.abc import Mapping
from typing import Any

from .javatime import DATE_DEFAULT, TIME_DEFAULT, TimePattern, compile_pattern

DATETIME_GENERATED = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"  # Rust's DateTime default (%Y-%m-%dT%H:%M:%S.%3f%z)

TYPES = ("RandomInt", "RandomDecimal", "RandomHexadecimal", "RandomString", "Regex", "Uuid", "Date", "Time",
         "DateTime", "RandomBoolean", "ProviderState", "MockServerURL")
UUID_FORMATS = ("simple", "lower-case-hyphenated", "upper-case-hyphenated", "URN")
DATA_TYPES = ("STRING", "INTEGER", "DECIMAL", "FLOAT", "RAW", "BOOLEAN")
_MAX_SIZE = 65_535  # Rust reads digits and sizes as u16


class GeneratorError(ValueError):
    """A generator object that cannot be used: unknown type, a bad field (named in the message)."""


# -- the entry points ----------------------------------------------------------------------------

def check(spec: Any) -> None:
    """Raise GeneratorError if the generator object is invalid (the message names the field)."""
    _read(spec)


def generate(spec: dict, example: Any, rng: random.Random, context: Mapping[str, Any], now: dt.datetime) -> Any:
    """A value made by the generator for the place that holds `example` (see the module docstring).
    GeneratorError only for what `check` refuses."""
    kind, params = _read(spec)
    return _MAKERS[kind](params, example, rng, context, now)


# -- reading a generator object ------------------------------------------------------------------

def _read(spec: Any) -> tuple[str, tuple]:
    if not isinstance(spec, Mapping):
        raise GeneratorError(f"a generator must be an object, not {spec!r}")
    kind = spec.get("type")
    if kind not in _READERS:
        raise GeneratorError(f"unknown generator 'type' {kind!r} (known: {', '.join(TYPES)})")
    return kind, _READERS[kind](spec)


def _int(spec: Mapping, name: str, default: int, lowest: int | None = None, highest: int | None = None) -> int:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GeneratorError(f"{spec['type']} generator: '{name}' must be an integer, not {value!r}")
    if (lowest is not None and value < lowest) or (highest is not None and value > highest):
        raise GeneratorError(f"{spec['type']} generator: '{name}' must be from {lowest} to {highest}, not {value}")
    return value


def _text(spec: Mapping, name: str, required: bool = False) -> str | None:
    value = spec.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise GeneratorError(f"{spec['type']} generator: '{name}' must be a string, not {value!r}")
    return value


def _read_random_int(spec: Mapping) -> tuple:
    low, high = _int(spec, "min", 0), _int(spec, "max", 10)
    if low > high:
        raise GeneratorError(f"RandomInt generator: 'min' ({low}) is greater than 'max' ({high})")
    return low, high


def _read_uuid(spec: Mapping) -> tuple:
    fmt = _text(spec, "format") or "lower-case-hyphenated"
    if fmt not in UUID_FORMATS:
        raise GeneratorError(f"Uuid generator: 'format' must be one of {', '.join(UUID_FORMATS)}, not {fmt!r}")
    return (fmt,)


def _read_when(spec: Mapping) -> tuple:
    kind = spec["type"]
    fmt = _text(spec, "format")
    try:
        pattern = compile_pattern(fmt if fmt is not None else _DEFAULT_FORMATS[kind])
    except ValueError as exc:
        raise GeneratorError(f"{kind} generator: 'format' is invalid: {exc}") from None
    expression = _text(spec, "expression") or ""
    try:
        steps = _parse_when(kind, expression)
    except ValueError as exc:
        raise GeneratorError(f"{kind} generator: 'expression' is invalid: {exc}") from None
    return pattern, steps


def _read_provider_state(spec: Mapping) -> tuple:
    expression = _text(spec, "expression", required=True)
    assert expression is not None
    data_type = _text(spec, "dataType") or "RAW"
    if data_type.upper() not in DATA_TYPES:
        raise GeneratorError(f"ProviderState generator: 'dataType' must be one of {', '.join(DATA_TYPES)}, "
                             f"not {data_type!r}")
    try:
        parts = _template(expression)
    except ValueError as exc:
        raise GeneratorError(f"ProviderState generator: 'expression' is invalid: {exc}") from None
    return parts, data_type.upper()


def _read_mock_server_url(spec: Mapping) -> tuple:
    regex, example = _text(spec, "regex", required=True), _text(spec, "example", required=True)
    assert regex is not None and example is not None
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise GeneratorError(f"MockServerURL generator: 'regex' {regex!r} is invalid: {exc}") from None
    if compiled.groups < 1:
        raise GeneratorError(f"MockServerURL generator: 'regex' {regex!r} needs a group (the path to keep)")
    return compiled, example


def _read_regex(spec: Mapping) -> tuple:
    regex = _text(spec, "regex", required=True)
    assert regex is not None
    return (_regex_tree(regex),)


_READERS = {
    "RandomInt": _read_random_int,
    "RandomDecimal": lambda spec: (_int(spec, "digits", 10, 1, _MAX_SIZE),),
    "RandomHexadecimal": lambda spec: (_int(spec, "digits", 10, 1, _MAX_SIZE),),
    "RandomString": lambda spec: (_int(spec, "size", 10, 0, _MAX_SIZE),),
    "Regex": _read_regex,
    "Uuid": _read_uuid,
    "Date": _read_when,
    "Time": _read_when,
    "DateTime": _read_when,
    "RandomBoolean": lambda spec: (),
    "ProviderState": _read_provider_state,
    "MockServerURL": _read_mock_server_url,
}
_DEFAULT_FORMATS = {"Date": DATE_DEFAULT, "Time": TIME_DEFAULT, "DateTime": DATETIME_GENERATED}


# -- making values --------------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _make_random_int(params: tuple, example: Any, rng: random.Random, *_: Any) -> Any:
    value = rng.randint(*params)
    return str(value) if isinstance(example, str) else value


def _decimal(digits: int, rng: random.Random) -> str:
    """`digits` digits with a '.' inside (Rust's shapes: 1 → d, 2 → d.d, else at least two
    decimals) and no leading zero unless the integer part is 0."""
    if digits == 1:
        return rng.choice(string.digits)
    whole = 1 if digits == 2 else rng.randint(1, digits - 2)
    head = rng.choice(string.digits if whole == 1 else "123456789")
    rest = "".join(rng.choices(string.digits, k=digits - 1))
    return f"{head}{rest[:whole - 1]}.{rest[whole - 1:]}"


def _make_random_decimal(params: tuple, example: Any, rng: random.Random, *_: Any) -> Any:
    text = _decimal(params[0], rng)
    if _is_number(example):
        number = float(text)
        return number if math.isfinite(number) else example
    return text


def _make_random_hex(params: tuple, example: Any, rng: random.Random, *_: Any) -> Any:
    return "".join(rng.choices("0123456789ABCDEF", k=params[0]))


def _make_random_string(params: tuple, example: Any, rng: random.Random, *_: Any) -> Any:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=params[0]))


def _make_uuid(params: tuple, example: Any, rng: random.Random, *_: Any) -> Any:
    value = uuid.UUID(int=rng.getrandbits(128), version=4)
    fmt = params[0] if isinstance(example, str) else "lower-case-hyphenated"
    return {"simple": value.hex, "lower-case-hyphenated": str(value), "upper-case-hyphenated": str(value).upper(),
            "URN": value.urn}[fmt]


def _make_boolean(params: tuple, example: Any, rng: random.Random, *_: Any) -> Any:
    value = rng.random() < 0.5
    return ("true" if value else "false") if isinstance(example, str) else value


def _make_when(params: tuple, example: Any, rng: random.Random, context: Mapping[str, Any], now: dt.datetime,
               *, base_key: str) -> Any:
    pattern, steps = params
    assert isinstance(pattern, TimePattern)
    base = context.get(base_key)
    if base is not None:
        try:
            now = base if isinstance(base, dt.datetime) else dt.datetime.fromisoformat(str(base))
        except ValueError:
            return example  # (Rust: the base does not parse, the generator fails)
    try:
        return pattern.format(_apply_when(steps, now))
    except (OverflowError, ValueError):  # a date past year 9999 or before year 1
        return example


def _make_provider_state(params: tuple, example: Any, rng: random.Random, context: Mapping[str, Any],
                         *_: Any) -> Any:
    parts, data_type = params
    nested = context.get("providerState")
    values: Mapping[str, Any] = nested if isinstance(nested, Mapping) else context
    if len(parts) == 1 and parts[0][0] == "text":  # a bare key
        key = parts[0][1]
        if key not in values:
            return example
        value = values[key]
    else:
        pieces = []
        for what, text in parts:
            if what == "key" and text not in values:
                return example
            pieces.append(values[text] if what == "key" else text)
        value = pieces[0] if len(pieces) == 1 else "".join(_json_text(p) for p in pieces)
    try:
        return _convert(value, data_type)
    except ValueError:
        return example


def _make_mock_server_url(params: tuple, example: Any, rng: random.Random, context: Mapping[str, Any],
                          *_: Any) -> Any:
    compiled, url_example = params
    url = context.get("mockServerUrl")
    server = context.get("mockServer")
    if not isinstance(url, str) and isinstance(server, Mapping):
        url = server.get("url") or server.get("href")
    if not isinstance(url, str):
        return example
    return compiled.sub(lambda found: url + (found.group(1) or ""), url_example, count=1)


def _make_regex(params: tuple, example: Any, rng: random.Random, *_: Any) -> Any:
    out: list[str] = []
    _emit(params[0], rng, {}, out)
    return "".join(out)


_MAKERS: dict[str, Any] = {
    "RandomInt": _make_random_int,
    "RandomDecimal": _make_random_decimal,
    "RandomHexadecimal": _make_random_hex,
    "RandomString": _make_random_string,
    "Regex": _make_regex,
    "Uuid": _make_uuid,
    "Date": functools.partial(_make_when, base_key="baseDate"),
    "Time": functools.partial(_make_when, base_key="baseTime"),
    "DateTime": functools.partial(_make_when, base_key="baseDateTime"),
    "RandomBoolean": _make_boolean,
    "ProviderState": _make_provider_state,
    "MockServerURL": _make_mock_server_url,
}


# -- provider-state expressions ---------------------------------------------------------------------

def _template(expression: str) -> tuple[tuple[str, str], ...]:
    """`/api/user/${id}` as (("text", "/api/user/"), ("key", "id")); no `${`: one text part, the key."""
    parts: list[tuple[str, str]] = []
    rest = expression
    while (start := rest.find("${")) >= 0:
        end = rest.find("}", start + 2)
        if end < 0:
            raise ValueError(f"missing closing brace in {expression!r}")
        if start:
            parts.append(("text", rest[:start]))
        if end > start + 2:  # (`${}` stands for nothing, as in Rust)
            parts.append(("key", rest[start + 2:end]))
        rest = rest[end + 1:]
    if rest or not parts:
        parts.append(("text", rest))
    return tuple(parts)


def _json_text(value: Any) -> str:
    """A value as text, as Rust's json_to_string: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _convert(value: Any, data_type: str) -> Any:
    """The value as dataType says (Rust's DataValue::as_json); ValueError when it cannot be."""
    if data_type == "RAW":
        return value
    if data_type == "STRING":
        return _json_text(value)
    if isinstance(value, list | dict):
        raise ValueError(f"{data_type} from {value!r}")
    if data_type == "BOOLEAN":
        if isinstance(value, str):
            if value not in ("true", "false"):
                raise ValueError(f"BOOLEAN from {value!r}")
            return value == "true"
        return value is not None and value > 0
    if value is None or isinstance(value, bool):
        number: float = float(bool(value))
    elif isinstance(value, str):
        if data_type == "INTEGER" and not re.fullmatch(r"[+-]?[0-9]+", value):
            raise ValueError(f"INTEGER from {value!r}")
        number = int(value) if data_type == "INTEGER" else float(value)
    else:
        number = value
    if not math.isfinite(number):
        raise ValueError(f"{data_type} from {value!r}")
    return int(number) if data_type == "INTEGER" else float(number)


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


def _parse_when(kind: str, expression: str) -> tuple:
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


def _apply_when(steps: tuple, moment: dt.datetime) -> dt.datetime:
    date_parsed, time_parsed = steps
    if date_parsed is not None:
        base, date_steps = date_parsed
        moment += dt.timedelta(days={"yesterday": -1, "tomorrow": 1}.get(base, 0))
        for step in date_steps:
            moment = _date_step(moment, step)
    return moment if time_parsed is None else _apply_time(moment, time_parsed)


# -- strings from a regular expression ----------------------------------------------------------------

_sre: Any = importlib.import_module("re._parser")  # the stdlib's own regex parser (re has no public one)
_REPEAT_SPREAD = 20    # a repeat runs min..min+20 times (Rust's rand_regex max_repeat)
_MAX_LENGTH = 10_000   # the longest string a Regex generator may make
_PRINTABLE = ((0x20, 0x7E),)
_WIDER = ((0xA1, 0x24F),)  # Latin-1 and Latin Extended, for a negated class that excludes all of ASCII
_CATEGORIES: dict[str, tuple[tuple[int, int], ...]] = {
    "CATEGORY_DIGIT": ((0x30, 0x39),),
    "CATEGORY_WORD": ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
    "CATEGORY_SPACE": ((0x09, 0x0D), (0x20, 0x20)),
}


def _subtract(universe: tuple[tuple[int, int], ...], ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = list(universe)
    for low, high in ranges:
        out = [piece for a, b in out for piece in ((a, min(b, low - 1)), (max(a, high + 1), b)) if piece[0] <= piece[1]]
    return out


for _name, _ranges in list(_CATEGORIES.items()):
    _CATEGORIES[_name.replace("CATEGORY_", "CATEGORY_NOT_")] = tuple(_subtract(_PRINTABLE, list(_ranges)))


def _from_java(regex: str) -> str:
    """Java/PCRE spellings Python reads differently: (?<name>...), \\k<name>, \\z."""
    regex = re.sub(r"(?<!\\)\(\?<(?![=!])", "(?P<", regex)
    regex = re.sub(r"\\k<(\w+)>", r"(?P=\1)", regex)
    return re.sub(r"(?<!\\)((?:\\\\)*)\\z", r"\1\\Z", regex)


@functools.lru_cache(maxsize=256)
def _regex_tree(regex: str) -> Any:
    """The regex's parse, checked: readable, no look-around or conditional, and no match longer
    than the limit; GeneratorError otherwise."""
    try:
        with warnings.catch_warnings():  # (FutureWarning: "possible nested set", for `[[` in a class)
            warnings.simplefilter("ignore")
            tree = _sre.parse(_from_java(regex))
        longest = _longest(tree, {})
    except (re.error, OverflowError, RecursionError) as exc:
        raise GeneratorError(f"Regex generator: 'regex' {regex!r} is not a regular expression it can use: "
                             f"{exc}") from None
    except GeneratorError as exc:
        raise GeneratorError(f"Regex generator: 'regex' {regex!r}: {exc}") from None
    if longest > _MAX_LENGTH:
        raise GeneratorError(f"Regex generator: 'regex' {regex!r} makes strings of up to {longest} characters "
                             f"(the limit is {_MAX_LENGTH})")
    return tree


def _top(low: int, high: int) -> int:
    return min(high, low + _REPEAT_SPREAD)


def _longest(seq: Any, groups: dict[int, int]) -> int:
    """The longest string `_emit` can make from seq (so a huge one is refused before it is made)."""
    total = 0
    for op, av in seq:
        name = str(op)
        if name in ("LITERAL", "ANY"):
            total += 1
        elif name in ("NOT_LITERAL", "IN"):
            _class_ranges(_class_key(name, av))  # (refuses a class with nothing to draw from)
            total += 1
        elif name == "SUBPATTERN":
            size = _longest(av[3], groups)
            if av[0] is not None:
                groups[av[0]] = size
            total += size
        elif name == "ATOMIC_GROUP":
            total += _longest(av, groups)
        elif name == "BRANCH":
            total += max(_longest(branch, groups) for branch in av[1])
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            total += _top(av[0], av[1]) * _longest(av[2], groups)
        elif name == "GROUPREF":
            total += groups.get(av, 0)
        elif name in ("ASSERT", "ASSERT_NOT"):
            raise GeneratorError("look-around ((?=...), (?!...), (?<=...)) is not supported")
        elif name == "GROUPREF_EXISTS":
            raise GeneratorError("conditional groups ((?(1)...)) are not supported")
        elif name != "AT":
            raise GeneratorError(f"{name} is not supported")
        if total > _MAX_LENGTH:
            return total
    return total


def _class_key(name: str, av: Any) -> tuple:
    """A class (or a negated literal) as a hashable key of (item kind, value)."""
    if name == "NOT_LITERAL":
        return (("NEGATE", None), ("LITERAL", av))
    return tuple((str(op), str(value) if str(op) == "CATEGORY" else value) for op, value in av)


@functools.lru_cache(maxsize=1024)
def _class_ranges(items: tuple) -> tuple[tuple[int, int], ...]:
    """The code point ranges a class ([a-z_], [^/], \\d) draws from: its own, or for a negated
    class printable ASCII (else Latin) less its ranges; never a surrogate."""
    negate = False
    ranges: list[tuple[int, int]] = []
    for name, av in items:
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            ranges.append((av, av))
        elif name == "RANGE":
            ranges.append(av)
        elif name == "CATEGORY" and av in _CATEGORIES:
            ranges.extend(_CATEGORIES[av])
        else:
            raise GeneratorError(f"{name} {av} in a character class is not supported")
    if negate:
        out = _subtract(_PRINTABLE, ranges) or _subtract(_WIDER, ranges)
    else:
        out = _subtract(tuple(ranges), [(0xD800, 0xDFFF)])
    if not out:
        raise GeneratorError("a character class matches no character it can write")
    return tuple(out)


def _draw(ranges: tuple[tuple[int, int], ...], rng: random.Random) -> str:
    pick = rng.randrange(sum(high - low + 1 for low, high in ranges))
    for low, high in ranges:
        if pick <= high - low:
            return chr(low + pick)
        pick -= high - low + 1
    raise AssertionError("unreachable")


def _emit(seq: Any, rng: random.Random, groups: dict[int, str], out: list[str]) -> None:
    """Append a string seq matches (anchors and \\b make nothing)."""
    for op, av in seq:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(av))
        elif name in ("NOT_LITERAL", "IN"):
            out.append(_draw(_class_ranges(_class_key(name, av)), rng))
        elif name == "ANY":
            out.append(_draw(_PRINTABLE, rng))
        elif name == "SUBPATTERN":
            inner: list[str] = []
            _emit(av[3], rng, groups, inner)
            if av[0] is not None:
                groups[av[0]] = "".join(inner)
            out.extend(inner)
        elif name == "ATOMIC_GROUP":
            _emit(av, rng, groups, out)
        elif name == "BRANCH":
            _emit(rng.choice(av[1]), rng, groups, out)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            for _ in range(rng.randint(av[0], _top(av[0], av[1]))):
                _emit(av[2], rng, groups, out)
        elif name == "GROUPREF":
            out.append(groups.get(av, ""))
