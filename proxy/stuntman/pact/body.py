"""Bodies compared as Pact compares them: whether one is there at all, then by content type: JSON
value by value under the matching rules, form fields like a query, XML element by element, and
anything else as text (or bytes) unless a rule covers the whole body.

Requests are compared strictly and responses loosely ("strict with what we send out, loose with
what we accept"): a request's object may not carry keys the pact does not have, a response's may.
Arrays keep their length and order unless a rule covers them (then every actual element is held
to the example's element at its index, or to its first).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..jsontext import loads
from .content import kind, same_type, sniff
from .matchers import holds, json_equal, json_type, shown
from .paths import show
from .rules import RuleList, Rules

Problem = tuple[str, str]  # (path into the body, what differs)
_MAP_KINDS = frozenset(("values", "eachKey", "eachValue"))
_ARRAY_KINDS = frozenset(("arrayContains", "eachValue"))
MAX_PROBLEMS = 50


class JsonComparer:
    """One comparison of an expected JSON value (the pact's example) with an actual one."""

    def __init__(self, rules: Rules, request: bool):
        self.rules, self.request = rules, request
        self.problems: list[Problem] = []

    def compare(self, expected: Any, actual: Any) -> list[Problem]:
        self.walk(expected, actual, ("$",))
        return self.problems

    def say(self, fragments: tuple[str, ...], message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((show(fragments), message))

    def walk(self, expected: Any, actual: Any, at: tuple[str, ...]) -> None:
        found = self.rules.at(at) if self.rules.body else None
        if found is None:
            return self._plain(expected, actual, at)
        rules, cascaded = found
        if rules.containers and not cascaded:
            kinds = rules.kinds
            if isinstance(actual, dict) and kinds & _MAP_KINDS:
                return self._map_by_rule(rules, kinds, expected, actual, at)
            if isinstance(actual, list) and kinds & _ARRAY_KINDS:
                return self._array_by_rule(rules, kinds, expected, actual, at)
        problems = holds(rules, expected, actual, cascaded)
        if problems:
            for p in problems:
                self.say(at, p)
            return
        if isinstance(expected, dict) and isinstance(actual, dict):
            self._map(expected, actual, at, ruled=True)
        elif isinstance(expected, list) and isinstance(actual, list):
            self._array(expected, actual, at, ruled=True)

    def _plain(self, expected: Any, actual: Any, at: tuple[str, ...]) -> None:
        if isinstance(expected, dict) and isinstance(actual, dict):
            return self._map(expected, actual, at, ruled=False)
        if isinstance(expected, list) and isinstance(actual, list):
            return self._array(expected, actual, at, ruled=False)
        if not json_equal(expected, actual):
            if json_type(expected) != json_type(actual) or isinstance(expected, (dict, list)):
                self.say(at, f"expected {shown(expected)} ({json_type(expected)}), got {shown(actual)} "
                         f"({json_type(actual)})")
            else:
                self.say(at, f"expected {shown(expected)}, got {shown(actual)}")

    def _map(self, expected: dict, actual: dict, at: tuple[str, ...], ruled: bool) -> None:
        missing = [k for k in expected if k not in actual]
        if missing:
            self.say(at, f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
        if self.request:
            extra = [k for k in actual if k not in expected]
            if extra:
                self.say(at, f"unexpected key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}")
        for key, value in expected.items():
            if key in actual:
                self.walk(value, actual[key], (*at, key))

    def _array(self, expected: list, actual: list, at: tuple[str, ...], ruled: bool) -> None:
        if not ruled:
            if len(expected) != len(actual):
                self.say(at, f"expected {len(expected)} item{'s' if len(expected) != 1 else ''}, got {len(actual)}")
            for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
                self.walk(e, a, (*at, str(i)))
            return
        if not expected:
            return  # (a rule with an empty example: nothing to hold the elements to)
        for i, a in enumerate(actual):
            self.walk(expected[i] if i < len(expected) else expected[0], a, (*at, str(i)))

    def _map_by_rule(self, rules: RuleList, kinds: frozenset[str], expected: Any, actual: dict,
                     at: tuple[str, ...]) -> None:
        """values / eachKey / eachValue on an object: its keys are free (eachKey holds each key
        to its rules), and each value is held to the example's value for that key, or its first."""
        if not isinstance(expected, dict):
            expected = {}
        first = next(iter(expected.values()), None)
        for m in rules.matchers:
            if m.kind == "eachKey":
                for key in actual:
                    for p in holds(RuleList(m.compiled), key, key):
                        self.say((*at, key), f"key {key!r}: {p}")
        each_value = [m for m in rules.matchers if m.kind == "eachValue"]
        for key, value in actual.items():
            example = expected.get(key, first)
            if each_value:
                for m in each_value:
                    for p in holds(RuleList(m.compiled), example, value):
                        self.say((*at, key), p)
            elif example is not None or key in expected:
                self.walk(example, value, (*at, key))

    def _array_by_rule(self, rules: RuleList, kinds: frozenset[str], expected: Any, actual: list,
                       at: tuple[str, ...]) -> None:
        if not isinstance(expected, list):
            expected = []
        for m in rules.matchers:
            if m.kind == "eachValue":
                example = expected[0] if expected else None
                for i, value in enumerate(actual):
                    for p in holds(RuleList(m.compiled), example, value):
                        self.say((*at, str(i)), p)
            elif m.kind == "arrayContains":
                variants = m.compiled or tuple((i, Rules()) for i in range(len(expected)))
                for index, variant_rules in variants:
                    if index >= len(expected):
                        self.say(at, f"arrayContains variant {index}: the example has no element {index}")
                        continue
                    wanted = expected[index]
                    if not any(not JsonComparer(variant_rules, self.request).compare(wanted, a) for a in actual):
                        self.say(at, f"no element matches {shown(wanted)} (arrayContains variant {index})")
            else:
                for p in holds(RuleList((m,)), expected, actual):
                    self.say(at, p)


# -- a whole body ------------------------------------------------------------------------------

def compare_body(expected: Any, actual: bytes, actual_type: str | None, rules: Rules, request: bool,
                 form_compare: Callable[[dict[str, list[str]], str], list[Problem]] | None = None,
                 json_check: Callable[[Any], bool] | None = None) -> list[Problem]:
    """expected: stuntman.pact.document.Body. actual: the bytes received and their Content-Type
    (None: not sent, then sniffed). [] when they agree. json_check (stuntman.pact.plan): a JSON
    body is only judged, not explained (one problem, without the details, when it differs)."""
    state = expected.state
    if state == "missing":
        return []
    if state in ("empty", "null"):
        return [("$", f"expected an empty body, got {len(actual)} bytes")] if actual else []
    if not actual:
        return [("$", "expected a body, got none")]
    wanted_type = expected.content_type or sniff(expected.content)
    got_type = actual_type or sniff(actual)
    if not _same_type(wanted_type, got_type) and "header" not in _ruled(rules):
        return [("$", f"expected a body of type {wanted_type}, got {got_type}")]
    how = _kind(wanted_type)
    if how == "json":
        try:
            value = loads(actual)
        except (ValueError, RecursionError) as exc:
            return [("$", f"expected a JSON body, got one that is not JSON ({str(exc).splitlines()[0][:80]})")]
        if json_check is not None:
            return [] if json_check(value) else [("$", "differs")]
        return JsonComparer(rules, request).compare(expected.value, value)
    if how == "form" and form_compare is not None:
        from urllib.parse import parse_qsl

        pairs = parse_qsl(actual.decode("utf-8", "replace"), keep_blank_values=True)
        fields: dict[str, list[str]] = {}
        for k, v in pairs:
            fields.setdefault(k, []).append(v)
        return form_compare(fields, "$")
    if how == "xml":
        from .xml import compare_xml

        return compare_xml(expected.content, actual, rules, request)
    found = rules.at(["$"]) if rules.body else None
    text = actual.decode("utf-8", "replace")
    if found is not None:  # (a contentType rule reads the bytes themselves)
        raw = any(m.kind == "contentType" for m in found[0].matchers)
        return [("$", p) for p in holds(found[0], expected.content.decode("utf-8", "replace"),
                                        actual if raw else text)]
    if actual != expected.content:
        return [("$", f"expected {shown(expected.content.decode('utf-8', 'replace'))}, got {shown(text)}")]
    return []


def _ruled(rules: Rules) -> set[str]:
    return {"header"} if "content-type" in rules.header else set()


_kind = lru_cache(maxsize=256)(kind)            # (content types repeat: a few per pact)
_same_type = lru_cache(maxsize=256)(same_type)
