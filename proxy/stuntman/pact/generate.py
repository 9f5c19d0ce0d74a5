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
  make huge strings), exrex draws from the global random; stuntman.openapi.patterns' maker aims at
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

Date/time expressions: stuntman.pact.when. Strings from a regex: stuntman.pact.regexgen.

"""
from __future__ import annotations

import datetime as dt
import functools
import json
import math
import random
import re
import string
import uuid
from collections.abc import Mapping
from typing import Any

from .javatime import DATE_DEFAULT, TIME_DEFAULT, TimePattern, compile_pattern
from .regexgen import emit, regex_tree
from .when import apply_when, parse_when

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
        steps = parse_when(kind, expression)
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
    try:
        return (regex_tree(regex),)
    except ValueError as exc:
        raise GeneratorError(str(exc)) from None


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
        return pattern.format(apply_when(steps, now))
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
    emit(params[0], rng, {}, out)
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
