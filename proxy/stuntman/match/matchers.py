"""Compiled predicates: a `MatcherSpec` becomes a tiny object with `test(value)` and `describe()`.

`value` is None when the thing (header, query parameter, form field) is missing. Adding a matcher
kind means adding a class here and a branch in `compile_matcher` / `compile_body_matcher`.
"""
from __future__ import annotations

import json
from typing import Any, Protocol

import re2

from ..body import BodyView
from ..config.base import BodyMatcherSpec, JsonPathSpec, MatcherSpec


class Matcher(Protocol):
    """What every compiled matcher is: `test` a value (a string, None, a `BodyView`), and say what
    it wants in a near-miss report."""

    def test(self, value: Any, /) -> bool: ...

    def describe(self) -> str: ...


class Equals:
    __slots__ = ("expected", "ignore_case")

    def __init__(self, expected: str, ignore_case: bool = False):
        self.ignore_case = ignore_case
        self.expected = expected.casefold() if ignore_case else expected

    def test(self, value: str | None) -> bool:
        if value is None:
            return False
        return (value.casefold() if self.ignore_case else value) == self.expected

    def describe(self) -> str:
        return f"equals {self.expected!r}" + (" (ignoring case)" if self.ignore_case else "")


class Contains(Equals):
    __slots__ = ()

    def test(self, value: str | None) -> bool:
        if value is None:
            return False
        return self.expected in (value.casefold() if self.ignore_case else value)

    def describe(self) -> str:
        return f"contains {self.expected!r}" + (" (ignoring case)" if self.ignore_case else "")


def user_regex(pattern: str, ignore_case: bool = False) -> Any:
    """A regex from a stub, compiled by RE2: time linear in the text, whatever the pattern (Python's
    `re` backtracks: `(a+)+$` against 30 characters holds the event loop, so every request, for
    seconds). RE2 has no backreferences or lookarounds; `check_regex` refuses them at load time."""
    options = re2.Options()
    options.log_errors = False  # (a bad pattern raises; RE2 would also print it to stderr)
    options.case_sensitive = not ignore_case
    return re2.compile(pattern, options)


def utf8(text: str) -> bytes:
    """What RE2 runs on. The binding's str path costs 2-3x more per call (it maps every offset
    back to characters); surrogatepass: a JSON string may hold a lone surrogate."""
    return text.encode("utf-8", "surrogatepass")


class Regex:
    __slots__ = ("pattern", "source")

    def __init__(self, pattern: str, ignore_case: bool = False):
        self.source = pattern
        self.pattern = user_regex(pattern, ignore_case)

    def test(self, value: str | None) -> bool:
        return value is not None and self.pattern.search(utf8(value)) is not None

    def describe(self) -> str:
        return f"matches /{self.source}/"


class Absent:
    __slots__ = ()

    def test(self, value: str | None) -> bool:
        return value is None

    def describe(self) -> str:
        return "is absent"


class Present:
    __slots__ = ()

    def test(self, value: str | None) -> bool:
        return value is not None

    def describe(self) -> str:
        return "is present"


class AnyOf:
    __slots__ = ("matchers",)

    def __init__(self, matchers: list[Matcher]):
        self.matchers = matchers

    def test(self, value: Any) -> bool:
        return any(m.test(value) for m in self.matchers)

    def describe(self) -> str:
        return "any of (" + "; ".join(m.describe() for m in self.matchers) + ")"


class AllOf(AnyOf):
    __slots__ = ()

    def test(self, value: Any) -> bool:
        return all(m.test(value) for m in self.matchers)

    def describe(self) -> str:
        return "all of (" + "; ".join(m.describe() for m in self.matchers) + ")"


class Not:
    __slots__ = ("inner",)

    def __init__(self, inner: Matcher):
        self.inner = inner

    def test(self, value: Any) -> bool:
        return not self.inner.test(value)

    def describe(self) -> str:
        return f"not ({self.inner.describe()})"


def compile_matcher(spec: MatcherSpec) -> Matcher:
    if spec.equals is not None:
        return Equals(spec.equals, spec.ignore_case)
    if spec.contains is not None:
        return Contains(spec.contains, spec.ignore_case)
    if spec.regex is not None:
        return Regex(spec.regex, spec.ignore_case)
    if spec.absent:
        return Absent()
    if spec.present:
        return Present()
    if spec.any_of is not None:
        return AnyOf([compile_matcher(m) for m in spec.any_of])
    if spec.all_of is not None:
        return AllOf([compile_matcher(m) for m in spec.all_of])
    assert spec.not_ is not None  # the spec holds exactly one kind (validated)
    return Not(compile_matcher(spec.not_))


# -- bodies: `test` receives a `BodyView`, which decodes the raw bytes lazily and once ----------


class BodyText:
    """equals / contains / regex / absent / present applied to the body as text."""

    __slots__ = ("inner",)

    def __init__(self, inner: Matcher):
        self.inner = inner

    def test(self, body: BodyView) -> bool:
        return self.inner.test(body.text if body.raw else None)

    def describe(self) -> str:
        return "body " + self.inner.describe()


def json_equal(expected: Any, actual: Any, ignore_extra: bool, ignore_order: bool) -> bool:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        if not ignore_extra and expected.keys() != actual.keys():
            return False
        return all(k in actual and json_equal(v, actual[k], ignore_extra, ignore_order)
                   for k, v in expected.items())
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        if not ignore_order:
            if len(expected) != len(actual) and not ignore_extra:
                return False
            if len(expected) > len(actual):
                return False
            return all(json_equal(e, a, ignore_extra, ignore_order) for e, a in zip(expected, actual, strict=False))
        if len(expected) != len(actual) and not ignore_extra:
            return False
        return _pairs_up(expected, actual, ignore_extra)
    # JSON numbers: 1 == 1.0, but True is not 1
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return expected == actual


def _pairs_up(expected: list[Any], actual: list[Any], ignore_extra: bool) -> bool:
    """Each expected element takes a distinct actual element it matches (bipartite matching:
    with ignoreExtraElements "matches" is not equality, so a greedy pairing can go wrong)."""
    fits = [[j for j, a in enumerate(actual) if json_equal(e, a, ignore_extra, True)] for e in expected]
    owner: dict[int, int] = {}  # actual index → expected index

    def claim(i: int, seen: set[int]) -> bool:  # Kuhn's augmenting path
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or claim(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return all(claim(i, set()) for i in range(len(expected)))


class BodyJson:
    __slots__ = ("expected", "ignore_extra", "ignore_order")

    def __init__(self, expected: Any, ignore_extra: bool, ignore_order: bool):
        self.expected, self.ignore_extra, self.ignore_order = expected, ignore_extra, ignore_order

    def test(self, body: BodyView) -> bool:
        doc = body.json
        return doc is not BodyView.INVALID and json_equal(
            self.expected, doc, self.ignore_extra, self.ignore_order)

    def describe(self) -> str:
        flags = [f for f, on in (("ignoreExtraElements", self.ignore_extra),
                                 ("ignoreArrayOrder", self.ignore_order)) if on]
        return f"body equals JSON {json.dumps(self.expected, sort_keys=True)}" + (
            f" ({', '.join(flags)})" if flags else "")


# `$[?…]`: a filter selector applied to the root (RFC 9535 allows blank space in between)
ROOT_FILTER = re2.compile(r"^\$\s*\[\s*\?")


class BodyJsonPath:
    """RFC 9535, plus one thing WireMock (Jayway) users rely on: a filter at the root, such as
    `$[?@.amount > 1000]`, also tests a body that is a JSON object itself. RFC 9535 filters only
    the object's member values, so it never matches `{"amount": 5000}`; Jayway, and so WireMock's
    matchesJsonPath, test the object. The RFC's answer is tried first; when it finds nothing in an
    object body, the filter is tried on the object, with `$` still meaning the body."""

    __slots__ = ("source", "path", "root_filter", "inner")

    def __init__(self, expression: str, inner: Matcher | None = None):
        from ..config.jsonpaths import compile_path  # 1.3 MB of RSS: only when a stub uses JSONPath

        self.source = expression
        self.path = compile_path(expression)
        self.root_filter: Any = None
        if ROOT_FILTER.search(expression):
            # python-jsonpath's pseudo root `^` is `$` with the body wrapped in a one-element array,
            # so a filter right after it selects the body itself; `$` inside the filter is the body
            self.root_filter = compile_path("^" + expression[1:])
        self.inner = inner

    def test(self, body: BodyView) -> bool:
        doc = body.json
        if doc is BodyView.INVALID:
            return False
        found = self.path.findall(doc)
        if not found and self.root_filter is not None and isinstance(doc, dict):
            found = self.root_filter.findall(doc)
        if not found:
            return False
        if self.inner is None:
            return True
        value = found[0]
        return self.inner.test(value if isinstance(value, str) else json.dumps(value))

    def describe(self) -> str:
        extra = f" whose value {self.inner.describe()}" if self.inner else ""
        return f"body has JSONPath {self.source}{extra}"


class BodyForm:
    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Matcher]):
        self.fields = fields

    def test(self, body: BodyView) -> bool:
        form = body.form
        for name, matcher in self.fields.items():
            values = form.get(name)
            if not (any(matcher.test(v) for v in values) if values else matcher.test(None)):
                return False
        return True

    def describe(self) -> str:
        return "form " + ", ".join(f"{k} {m.describe()}" for k, m in self.fields.items())


def compile_body_matcher(spec: BodyMatcherSpec) -> Matcher:
    if spec.json_ is not None:
        return BodyJson(spec.json_, spec.ignore_extra_elements, spec.ignore_array_order)
    if spec.json_path is not None:
        jp = spec.json_path
        if isinstance(jp, JsonPathSpec):
            return BodyJsonPath(jp.expression, compile_matcher(jp.matches) if jp.matches else None)
        return BodyJsonPath(jp)
    if spec.form is not None:
        return BodyForm({k: compile_matcher(m) for k, m in spec.form.items()})
    if spec.any_of is not None:
        return AnyOf([compile_body_matcher(m) for m in spec.any_of])
    if spec.all_of is not None:
        return AllOf([compile_body_matcher(m) for m in spec.all_of])
    if spec.not_ is not None:
        return Not(compile_body_matcher(spec.not_))
    text = MatcherSpec(equals=spec.equals, contains=spec.contains, regex=spec.regex,
                       absent=spec.absent, present=spec.present, ignore_case=spec.ignore_case)
    return BodyText(compile_matcher(text))
