"""A JSON body's comparison compiled once per interaction into closures that only say yes or no.

Matching a request asks, for each candidate interaction, whether it matches; only a near-miss
report needs to know why (stuntman.pact.body.JsonComparer). The rule that applies to each value
of the example is looked up once, here, and the per-request walk is a call per value with the
rule already in hand. The verdicts are JsonComparer's (tests hold the two to the same answers on
the specification's cases and the pact-stub-server corpus); the rare container rules (values,
eachKey, eachValue, arrayContains) are handed to JsonComparer for their subtree.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .matchers import holds, json_equal, text_of
from .rules import RuleList, Rules

Check = Callable[[Any], bool]
BEYOND = 256  # checks kept per array for elements past the example's (then made each time)
_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean",
          type(None): "null"}


def compile_json(expected: Any, rules: Rules, request: bool) -> Check:
    return _node(expected, ("$",), rules, request)


def _node(expected: Any, at: tuple[str, ...], rules: Rules, request: bool) -> Check:
    found = rules.at(at) if rules.body else None
    if found is None:
        return _plain(expected, at, rules, request)
    rule, cascaded = found
    if rule.containers and not cascaded:
        return _slow(expected, at, rules, request)

    holds_rule = _rule_check(rule, expected, cascaded)

    if isinstance(expected, dict):
        children = {key: _node(value, (*at, key), rules, request) for key, value in expected.items()}
        keys = frozenset(expected)

        def ruled_map(actual: Any) -> bool:
            return holds_rule(actual) and (not isinstance(actual, dict) or _map(children, keys, actual, request))
        return ruled_map
    if isinstance(expected, list):
        elements = [_node(e, (*at, str(i)), rules, request) for i, e in enumerate(expected)]
        beyond: dict[int, Check] = {}

        def element(i: int) -> Check:
            check = beyond.get(i)
            if check is None:
                check = _node(expected[0], (*at, str(i)), rules, request)
                if len(beyond) < BEYOND:
                    beyond[i] = check
            return check

        def ruled_array(actual: Any) -> bool:
            if not holds_rule(actual):
                return False
            if not isinstance(actual, list) or not expected:
                return True
            n = len(elements)
            return all((elements[i] if i < n else element(i))(a) for i, a in enumerate(actual))
        return ruled_array
    return holds_rule


def _plain(expected: Any, at: tuple[str, ...], rules: Rules, request: bool) -> Check:
    if isinstance(expected, dict):
        children = {key: _node(value, (*at, key), rules, request) for key, value in expected.items()}
        keys = frozenset(expected)
        return lambda actual: isinstance(actual, dict) and _map(children, keys, actual, request)
    if isinstance(expected, list):
        elements = [_node(e, (*at, str(i)), rules, request) for i, e in enumerate(expected)]
        size = len(elements)
        return lambda actual: isinstance(actual, list) and len(actual) == size and \
            all(check(a) for check, a in zip(elements, actual, strict=True))
    return lambda actual: json_equal(expected, actual)


def _map(children: dict[str, Check], keys: frozenset[str], actual: dict, request: bool) -> bool:
    if request:
        if actual.keys() != keys:  # (no key missing, none added: a request is compared strictly)
            return False
    elif not keys <= actual.keys():
        return False
    for key, check in children.items():  # noqa: SIM110 - a loop, not all() over a generator: the hot path
        if not check(actual[key]):
            return False
    return True


def _slow(expected: Any, at: tuple[str, ...], rules: Rules, request: bool) -> Check:
    from .body import JsonComparer

    def check(actual: Any) -> bool:
        comparer = JsonComparer(rules, request)
        comparer.walk(expected, actual, at)
        return not comparer.problems
    return check


def _rule_check(rule: RuleList, expected: Any, cascaded: bool) -> Check:
    """One rule list on one value, as a closure: the usual single matchers (type, regex, integer,
    equality) written out, the rest through matchers.holds (the same verdicts)."""
    if len(rule.matchers) == 1:
        m = rule.matchers[0]
        if m.kind == "type" and (cascaded or (m.min is None and m.max is None)):
            wanted = _TYPES.get(type(expected))
            if wanted is not None:
                return lambda actual: _TYPES.get(type(actual)) == wanted
        elif m.kind == "regex":
            fullmatch = m.compiled.fullmatch
            return lambda actual: actual is not None and not isinstance(actual, (dict, list)) and \
                fullmatch(text_of(actual))
        elif m.kind == "integer" and not isinstance(expected, str):
            return lambda actual: type(actual) is int
        elif m.kind == "equality":
            return lambda actual: json_equal(expected, actual)
    return lambda actual: not holds(rule, expected, actual, cascaded)
