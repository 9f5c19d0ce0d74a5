"""stuntman.pact.generate: every Pact generator makes values of the right shape and type, the same
for the same seed; provider-state values and mock server URLs are filled in from the context; date
and time expressions give the Rust reference's results against a fixed clock; invalid generator
objects are refused at load with the field named; Regex output always matches its regex, and no
regex can make the generator hang."""
from __future__ import annotations

import datetime as dt
import random
import re
import warnings
from typing import Any

import pytest

from stuntman.pact.generate import GeneratorError, check, generate
from stuntman.pact.javatime import compile_pattern

NOW = dt.datetime(2000, 1, 1, 10, 0, 0, tzinfo=dt.UTC)  # the Rust tests' base (a Saturday)
CONTEXT = {"id": 42, "name": "Mary", "mockServerUrl": "http://127.0.0.1:8080"}


def gen(spec: dict, example: Any = "example", seed: int = 1, context: dict | None = None,
        now: dt.datetime = NOW) -> Any:
    check(spec)
    return generate(spec, example, random.Random(seed), CONTEXT if context is None else context, now)


# -- shapes ----------------------------------------------------------------------------------------

SHAPES: list[tuple[dict, Any, type, str]] = [
    ({"type": "RandomInt"}, 0, int, r"[0-9]|10"),
    ({"type": "RandomInt", "min": -5, "max": 5}, "3", str, r"-?[0-5]"),
    ({"type": "RandomInt", "min": 100, "max": 200}, 1.5, int, r"1[0-9]{2}|200"),
    ({"type": "RandomDecimal"}, "1.5", str, r"(0|[1-9][0-9]{0,7})\.[0-9]{2,9}"),
    ({"type": "RandomDecimal", "digits": 4}, 1.5, float, r"(0|[1-9][0-9]?)\.[0-9]{1,3}"),  # (59.10 is 59.1)
    ({"type": "RandomDecimal", "digits": 2}, "x", str, r"[0-9]\.[0-9]"),
    ({"type": "RandomDecimal", "digits": 1}, "x", str, r"[0-9]"),
    ({"type": "RandomHexadecimal"}, "x", str, r"[0-9A-F]{10}"),
    ({"type": "RandomHexadecimal", "digits": 40}, 7, str, r"[0-9A-F]{40}"),
    ({"type": "RandomString"}, "x", str, r"[A-Za-z0-9]{10}"),
    ({"type": "RandomString", "size": 3}, "x", str, r"[A-Za-z0-9]{3}"),
    ({"type": "RandomString", "size": 0}, "x", str, r""),
    ({"type": "Regex", "regex": r"\d{3}-[a-z]{2,4}"}, "x", str, r"\d{3}-[a-z]{2,4}"),
    ({"type": "Uuid"}, "x", str, r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
    ({"type": "Uuid", "format": "simple"}, "x", str, r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}"),
    ({"type": "Uuid", "format": "lower-case-hyphenated"}, "x", str, r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}"),
    ({"type": "Uuid", "format": "upper-case-hyphenated"}, "x", str, r"[0-9A-F]{8}-([0-9A-F]{4}-){3}[0-9A-F]{12}"),
    ({"type": "Uuid", "format": "URN"}, "x", str, r"urn:uuid:[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}"),
    ({"type": "Uuid", "format": "simple"}, 12, str, r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}"),  # (not a string)
    ({"type": "Date"}, "x", str, r"2000-01-01"),
    ({"type": "Date", "format": "MM/dd/yyyy"}, "x", str, r"01/01/2000"),
    ({"type": "Time"}, "x", str, r"10:00:00"),
    ({"type": "Time", "format": "HH:mm"}, "x", str, r"10:00"),
    ({"type": "DateTime"}, "x", str, r"2000-01-01T10:00:00\.000\+0000"),
    ({"type": "DateTime", "format": "yyyy-MM-dd'T'HH:mm:ssXXX"}, "x", str, r"2000-01-01T10:00:00Z"),
    ({"type": "RandomBoolean"}, True, bool, r"True|False"),
    ({"type": "RandomBoolean"}, "true", str, r"true|false"),
    ({"type": "ProviderState", "expression": "/api/user/${id}"}, "/api/user/1", str, r"/api/user/42"),
    ({"type": "ProviderState", "expression": "id"}, 1, int, r"42"),
    ({"type": "MockServerURL", "regex": r".*(/orders/\d+)$", "example": "http://localhost:1234/orders/5678"},
     "http://localhost:1234/orders/5678", str, r"http://127\.0\.0\.1:8080/orders/5678"),
]


@pytest.mark.parametrize(("spec", "example", "kind", "shape"), SHAPES)
def test_shape(spec: dict, example: Any, kind: type, shape: str) -> None:
    for seed in range(30):
        value = gen(spec, example, seed)
        assert type(value) is kind, (spec, value)
        assert re.fullmatch(shape, str(value)), (spec, value)


@pytest.mark.parametrize(("spec", "example", "kind", "shape"), SHAPES)
def test_seeded(spec: dict, example: Any, kind: type, shape: str) -> None:
    """The same seed makes the same value; the random generators make different ones from different seeds."""
    assert gen(spec, example, 7) == gen(spec, example, 7)
    random_kind = spec["type"].startswith("Random") or spec["type"] in ("Regex", "Uuid")
    if random_kind and not (spec["type"] == "RandomString" and spec.get("size") == 0):
        assert len({repr(gen(spec, example, seed)) for seed in range(10)}) >= 2


def test_one_rng_gives_a_sequence() -> None:
    rng = random.Random(3)
    values = [generate({"type": "RandomInt", "min": 0, "max": 1_000_000}, 0, rng, {}, NOW) for _ in range(5)]
    assert len(set(values)) == 5
    rng = random.Random(3)
    assert values == [generate({"type": "RandomInt", "min": 0, "max": 1_000_000}, 0, rng, {}, NOW) for _ in range(5)]


def test_random_int_bounds_inclusive() -> None:
    seen = {gen({"type": "RandomInt", "min": 1, "max": 3}, 0, seed) for seed in range(100)}
    assert seen == {1, 2, 3}
    assert gen({"type": "RandomInt", "min": 5, "max": 5}, 0) == 5


def test_random_decimal_digits() -> None:
    for digits in range(1, 30):
        for seed in range(10):
            text = gen({"type": "RandomDecimal", "digits": digits}, "x", seed)
            assert len(text.replace(".", "")) == digits
            assert ("." in text) == (digits > 1)
            assert not re.match(r"0[0-9]", text), text


def test_random_boolean_both() -> None:
    assert {gen({"type": "RandomBoolean"}, False, seed) for seed in range(20)} == {True, False}


# -- provider state -------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "data_type", "context", "expected"), [
    ("/api/user/${id}", None, {"id": 42}, "/api/user/42"),
    ("${id}", None, {"id": 42}, 42),
    ("${a}-${b}", None, {"a": 1, "b": "x"}, "1-x"),
    ("${a}${b}", None, {"a": {"k": [1, 2]}, "b": True}, '{"k":[1,2]}true'),
    ("id", None, {"id": "abc"}, "abc"),
    ("id", None, {"providerState": {"id": 7}, "id": 1}, 7),  # (the `providerState` map first)
    ("id", "STRING", {"id": 42}, "42"),
    ("id", "STRING", {"id": {"a": 1}}, '{"a":1}'),
    ("id", "string", {"id": "x"}, "x"),
    ("id", "INTEGER", {"id": "42"}, 42),
    ("id", "INTEGER", {"id": 4.9}, 4),
    ("id", "INTEGER", {"id": True}, 1),
    ("id", "INTEGER", {"id": None}, 0),
    ("id", "DECIMAL", {"id": "1.5"}, 1.5),
    ("id", "FLOAT", {"id": 2}, 2.0),
    ("id", "BOOLEAN", {"id": "true"}, True),
    ("id", "BOOLEAN", {"id": 0}, False),
    ("id", "BOOLEAN", {"id": 3}, True),
    ("id", "RAW", {"id": {"a": 1}}, {"a": 1}),
    ("/users/${id}", "RAW", {"id": 5}, "/users/5"),
    # what cannot be made leaves the example
    ("id", None, {}, "EXAMPLE"),
    ("/api/${missing}", None, {"id": 1}, "EXAMPLE"),
    ("id", "INTEGER", {"id": "abc"}, "EXAMPLE"),
    ("id", "BOOLEAN", {"id": "yes"}, "EXAMPLE"),
    ("id", "DECIMAL", {"id": [1]}, "EXAMPLE"),
    ("id", "FLOAT", {"id": "nan"}, "EXAMPLE"),
])
def test_provider_state(expression: str, data_type: str | None, context: dict, expected: Any) -> None:
    spec = {"type": "ProviderState", "expression": expression}
    if data_type:
        spec["dataType"] = data_type
    value = gen(spec, "EXAMPLE", context=context)
    assert value == expected and type(value) is type(expected)


# -- mock server URL -------------------------------------------------------------------------------

URL_SPEC = {"type": "MockServerURL", "regex": r".*(/orders/\d+)$", "example": "http://localhost:1234/orders/5678"}


@pytest.mark.parametrize(("context", "expected"), [
    ({"mockServerUrl": "http://127.0.0.1:9000"}, "http://127.0.0.1:9000/orders/5678"),
    ({"mockServer": {"url": "http://stub:80"}}, "http://stub:80/orders/5678"),
    ({"mockServer": {"href": "http://stub:81"}}, "http://stub:81/orders/5678"),
    ({}, "body value"),  # (no URL: the example stays)
])
def test_mock_server_url(context: dict, expected: str) -> None:
    assert gen(URL_SPEC, "body value", context=context) == expected


def test_mock_server_url_regex_not_matching_keeps_its_example() -> None:
    spec = {**URL_SPEC, "example": "http://localhost:1234/other/1"}
    assert gen(spec, "x") == "http://localhost:1234/other/1"


# -- date and time expressions ---------------------------------------------------------------------

ISO = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"


@pytest.mark.parametrize(("expression", "expected"), [
    # the Rust reference's cases (datetime_expressions.rs), base 2000-01-01T10:00Z
    ("", "2000-01-01T10:00:00.000Z"),
    ("now", "2000-01-01T10:00:00.000Z"),
    ("today", "2000-01-01T10:00:00.000Z"),
    ("yesterday", "1999-12-31T10:00:00.000Z"),
    ("tomorrow", "2000-01-02T10:00:00.000Z"),
    ("+ 1 day", "2000-01-02T10:00:00.000Z"),
    ("+ 1 week", "2000-01-08T10:00:00.000Z"),
    ("- 2 weeks", "1999-12-18T10:00:00.000Z"),
    ("+ 4 years", "2004-01-01T10:00:00.000Z"),
    ("tomorrow+ 4 years", "2004-01-02T10:00:00.000Z"),
    ("next week", "2000-01-08T10:00:00.000Z"),
    ("last month", "1999-12-01T10:00:00.000Z"),
    ("next fortnight", "2000-01-15T10:00:00.000Z"),
    ("next monday", "2000-01-03T10:00:00.000Z"),
    ("last wednesday", "1999-12-29T10:00:00.000Z"),
    ("next mon", "2000-01-03T10:00:00.000Z"),
    ("last december", "1999-12-01T10:00:00.000Z"),
    ("next jan", "2001-01-01T10:00:00.000Z"),
    ("next june + 2 weeks", "2000-06-15T10:00:00.000Z"),
    ("last mon + 2 weeks", "2000-01-10T10:00:00.000Z"),
    ("+ 1 day - 2 weeks", "1999-12-19T10:00:00.000Z"),
    ("last december + 2 weeks + 4 days", "1999-12-19T10:00:00.000Z"),
    ("next saturday", "2000-01-08T10:00:00.000Z"),  # (today is a Saturday: the next one)
    ("last saturday", "1999-12-25T10:00:00.000Z"),
    ("- 3 months", "1999-10-01T10:00:00.000Z"),
    ("+ 13 months", "2001-02-01T10:00:00.000Z"),
    ("Tomorrow", "2000-01-02T10:00:00.000Z"),
    ("today @ 1 o'clock", "2000-01-01T13:00:00.000Z"),
    ("yesterday @ midnight", "1999-12-31T00:00:00.000Z"),
    ("yesterday @ midnight - 1 hour", "1999-12-30T23:00:00.000Z"),
    ("tomorrow @ now", "2000-01-02T10:00:00.000Z"),
    ("+ 1 day @ noon", "2000-01-02T12:00:00.000Z"),
    ("+ 1 week @ +1 hour", "2000-01-08T11:00:00.000Z"),
    ("- 2 weeks @ now + 1 hour", "1999-12-18T11:00:00.000Z"),
    ("+ 4 years @ midnight", "2004-01-01T00:00:00.000Z"),
    ("tomorrow+ 4 years @ 3 o'clock + 40 milliseconds", "2004-01-02T15:00:00.040Z"),
    ("next week @ next hour", "2000-01-08T11:00:00.000Z"),
    ("last month @ last hour", "1999-12-01T09:00:00.000Z"),
    ("@ midnight", "2000-01-01T00:00:00.000Z"),
    ("@ noon", "2000-01-01T12:00:00.000Z"),
    ("@ 1 o'clock am", "2000-01-01T01:00:00.000Z"),
    ("@ 1 o'clock pm", "2000-01-01T13:00:00.000Z"),
    ("@ 12 o'clock am", "2000-01-01T00:00:00.000Z"),  # (Rust: 12:00)
    ("@ 12 o'clock pm", "2000-01-01T12:00:00.000Z"),
    ("@ + 4 seconds", "2000-01-01T10:00:04.000Z"),
    ("@ - 2 minutes", "2000-01-01T09:58:00.000Z"),
    ("@ midnight+ 4 minutes", "2000-01-01T00:04:00.000Z"),
    ("@ now + 2 hours - 4 minutes", "2000-01-01T11:56:00.000Z"),
    ("@  + 2 hours - 4 minutes", "2000-01-01T11:56:00.000Z"),
])
def test_datetime_expression(expression: str, expected: str) -> None:
    assert gen({"type": "DateTime", "format": ISO, "expression": expression}) == expected


@pytest.mark.parametrize(("expression", "expected"), [
    ("", "10:00:00"), ("now", "10:00:00"), ("midnight", "00:00:00"), ("noon", "12:00:00"),
    ("1 o'clock", "13:00:00"), ("1 o'clock am", "01:00:00"), ("1 o'clock pm", "13:00:00"),
    ("+ 1 hour", "11:00:00"), ("- 2 minutes", "09:58:00"), ("+ 4 seconds", "10:00:04"),
    ("+ 4 milliseconds", "10:00:00.004"), ("midnight+ 4 minutes", "00:04:00"), ("next hour", "11:00:00"),
    ("last minute", "09:59:00"), ("now + 2 hours - 4 minutes", "11:56:00"), (" + 2 hours - 4 minutes", "11:56:00"),
    ("@ noon", "12:00:00"),
])
def test_time_expression(expression: str, expected: str) -> None:
    assert gen({"type": "Time", "format": "HH:mm:ss.SSS", "expression": expression})[:len(expected)] == expected


@pytest.mark.parametrize(("base", "expression", "expected"), [
    (dt.datetime(2000, 1, 31, 10, tzinfo=dt.UTC), "+ 1 month", "2000-02-29"),  # (Rust: 2000-02-01)
    (dt.datetime(2000, 3, 31, 10, tzinfo=dt.UTC), "- 1 month", "2000-02-29"),
    (dt.datetime(2000, 2, 29, 10, tzinfo=dt.UTC), "+ 1 year", "2001-02-28"),  # (Rust: unchanged)
    (dt.datetime(2000, 12, 15, 10, tzinfo=dt.UTC), "next december", "2001-12-01"),
    (dt.datetime(2000, 12, 15, 10, tzinfo=dt.UTC), "last december", "1999-12-01"),
    (dt.datetime(2000, 12, 15, 10, tzinfo=dt.UTC), "next january", "2001-01-01"),
    (dt.datetime(2000, 12, 15, 10, tzinfo=dt.UTC), "last november", "2000-11-01"),
])
def test_date_expression(base: dt.datetime, expression: str, expected: str) -> None:
    assert gen({"type": "Date", "expression": expression}, now=base) == expected


def test_next_hour_after_noon() -> None:
    """`N o'clock` without am/pm: before noon the afternoon's, after noon the morning's (as Rust)."""
    afternoon = dt.datetime(2000, 1, 1, 15, 30, tzinfo=dt.UTC)
    assert gen({"type": "Time", "expression": "1 o'clock"}, now=afternoon) == "01:00:00"
    assert gen({"type": "Time", "expression": "12 o'clock"}, now=afternoon) == "12:00:00"


def test_context_base() -> None:
    context = {"baseDate": "2020-05-06T07:08:09+02:00", "baseTime": "2020-05-06T07:08:09+02:00",
               "baseDateTime": "2020-05-06T07:08:09+02:00"}
    assert gen({"type": "Date", "expression": "tomorrow"}, context=context) == "2020-05-07"
    assert gen({"type": "Time", "expression": "+ 1 hour"}, context=context) == "08:08:09"
    assert gen({"type": "DateTime", "format": "yyyy-MM-dd'T'HH:mmXXX"}, context=context) == "2020-05-06T07:08+02:00"
    assert gen({"type": "Date"}, "kept", context={"baseDate": "not a date"}) == "kept"


def test_out_of_range_keeps_example() -> None:
    assert gen({"type": "Date", "expression": "+ 9000 years"}, "kept") == "kept"


def test_generated_dates_pass_their_format() -> None:
    for fmt in ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "EEE, dd MMM yyyy HH:mm:ss z", "dd/MM/yy hh:mm a", "HH:mm"):
        for seed in range(5):
            moment = NOW + dt.timedelta(days=seed * 37, minutes=seed * 101)
            assert compile_pattern(fmt).matches(gen({"type": "DateTime", "format": fmt}, now=moment))


# -- invalid generator objects ---------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "named"), [
    ("RandomInt", "object"),
    ({}, "type"),
    ({"type": "Random"}, "'type'"),
    ({"type": "RandomInt", "min": 5, "max": 3}, "'min' (5) is greater than 'max' (3)"),
    ({"type": "RandomInt", "min": "1"}, "'min'"),
    ({"type": "RandomInt", "max": 2.5}, "'max'"),
    ({"type": "RandomInt", "max": True}, "'max'"),
    ({"type": "RandomDecimal", "digits": 0}, "'digits'"),
    ({"type": "RandomHexadecimal", "digits": -1}, "'digits'"),
    ({"type": "RandomString", "size": -1}, "'size'"),
    ({"type": "RandomString", "size": 70000}, "'size'"),
    ({"type": "Regex"}, "'regex'"),
    ({"type": "Regex", "regex": "("}, "'regex'"),
    ({"type": "Regex", "regex": r"\p{L}+"}, "'regex'"),
    ({"type": "Regex", "regex": "(?=a)a"}, "look-around"),
    ({"type": "Regex", "regex": "(?<!a)b"}, "look-around"),
    ({"type": "Regex", "regex": "(a)?(?(1)b|c)"}, "conditional"),
    ({"type": "Regex", "regex": "a{20000}"}, "limit"),
    ({"type": "Regex", "regex": "(a{100}){200}"}, "limit"),
    ({"type": "Regex", "regex": "((((a*)*)*)*)*"}, "limit"),
    ({"type": "Regex", "regex": r"[^\x00-\U0010ffff]"}, "'regex'"),
    ({"type": "Uuid", "format": "hex"}, "'format'"),
    ({"type": "Date", "format": "yyyy-MM-dd B"}, "'format'"),
    ({"type": "Date", "format": 12}, "'format'"),
    ({"type": "DateTime", "format": "yyyy-MM-dd'T"}, "'format'"),
    ({"type": "DateTime", "expression": "next blursday"}, "'expression'"),
    ({"type": "DateTime", "expression": "tomorrow @ 13 o'clock"}, "'expression'"),
    ({"type": "DateTime", "expression": "+ 1 fortnight"}, "'expression'"),
    ({"type": "DateTime", "expression": "+ day"}, "'expression'"),
    ({"type": "DateTime", "expression": "+ 1"}, "'expression'"),
    ({"type": "DateTime", "expression": "now now"}, "'expression'"),
    ({"type": "DateTime", "expression": "@ 1 oclock"}, "'expression'"),
    ({"type": "Date", "expression": "today @ noon"}, "'expression'"),
    ({"type": "Time", "expression": "tomorrow"}, "'expression'"),
    ({"type": "Time", "expression": "+ 1 day"}, "'expression'"),
    ({"type": "ProviderState"}, "'expression'"),
    ({"type": "ProviderState", "expression": "${id"}, "'expression'"),
    ({"type": "ProviderState", "expression": "id", "dataType": "NUMBER"}, "'dataType'"),
    ({"type": "MockServerURL", "regex": ".*", "example": "http://x"}, "'regex'"),
    ({"type": "MockServerURL", "regex": "(", "example": "http://x"}, "'regex'"),
    ({"type": "MockServerURL", "regex": "(.*)"}, "'example'"),
])
def test_invalid(spec: Any, named: str) -> None:
    with pytest.raises(GeneratorError) as info:
        check(spec)
    assert named in str(info.value)
    assert isinstance(info.value, ValueError)


# -- Regex: always a full match --------------------------------------------------------------------

REGEXES = [
    r"\d+", r"\d{4}-\d{2}-\d{2}", r"[A-Z][a-z]{2,8}", r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,4}",
    r"^\d{1,8}$", r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", r"(foo|bar|baz)",
    r"(cat|dog)s?", r"a|b|c|", r"x*", r"x+?y*?z??", r"(ab)+", r"(a|b)*c", r"a{3}", r"a{2,}", r"a{,3}b",
    r"[^a-z]", r"[^/]+(/[^/]+)*", r"\w+", r"\W+", r"\s", r"\S{3}", r"\D\D", r"[\d\s]+", r"[^\d\W]+",
    r".{5}", r".+", r"\.", r"[.]", r"[-a]", r"[a\-z]", r"[\]]", r"\\", r"\$\d+\.\d{2}", r"\(\d{3}\) \d{3}-\d{4}",
    r"(?i)hello", r"(?i:AbC)d", r"(?x) a b c  # comment", r"(?P<x>ab)(?P=x)", r"(\w)\1", r"(?<word>\w+)-\k<word>",
    r"\bword\b", r"\Astart.*", r"end\Z", r"end\z", r"[\u00e9-\u00ff]+", r"é[ü]", r"(?:(?:a|b)c){2,3}",
    r"(a(b(c(d)?)?)?)+", r"[[]", r"a*+b", r"(?>ab|a)c", r"GET|POST|PUT|DELETE", r"/api/v[12]/users/\d+",
    r"[A-Z]{2}\d{2}[A-Z0-9]{1,30}", r"(\+\d{1,3} )?\d{3}[ -]?\d{4}", r"[\x20-\x7e]{10}", r"\t\n\r",
    r"(a+)+$", r"(x|xx)*y",
]


@pytest.mark.parametrize("regex", REGEXES)
def test_regex_output_matches(regex: str) -> None:
    with warnings.catch_warnings():  # (FutureWarning: "possible nested set", for `[[`)
        warnings.simplefilter("ignore")
        compiled = re.compile(regex.replace(r"\z", r"\Z").replace("(?<word>", "(?P<word>")
                              .replace(r"\k<word>", "(?P=word)"))
    spec = {"type": "Regex", "regex": regex}
    outputs = {gen(spec, "x", seed) for seed in range(25)}
    for text in outputs:
        assert compiled.fullmatch(text), (regex, text)
    assert gen(spec, "x", 5) == gen(spec, "x", 5)


def test_regex_repeats_capped_at_twenty() -> None:
    for seed in range(30):
        assert 1 <= len(gen({"type": "Regex", "regex": "a+"}, "x", seed)) <= 21
        assert 5 <= len(gen({"type": "Regex", "regex": "b{5,100}"}, "x", seed)) <= 25


def test_regex_pathological_returns() -> None:
    """Nested and huge repeats are bounded (or refused at load): generation never hangs."""
    for regex in (r"((a{0,20}){0,20}){0,20}", r"(a|aa|aaa)*(b+)*c{9000}", r"(((x*)*)*)", r"((a+)+)+b"):
        check({"type": "Regex", "regex": regex})
        assert len(gen({"type": "Regex", "regex": regex})) <= 10_000
