"""XML bodies compared as Pact compares them: elements by qualified name (the namespace, not its
prefix), attributes by name (a request may not add any; a response may), child elements grouped
by name (groups in any order, each group in order; a request may not add children, a response
may, and a rule on a child lets any number of them be held to the example's first), and the
trimmed text.

Rule paths name elements and attributes: `$.animals.alligator['@phoneNumber']`,
`$.dates.date['#text']`; some pacts put an index or a star between an element and its children
(`$.myDates[*].date`). Both are tried for each node, and the heavier one applies.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from .matchers import holds, shown
from .paths import show
from .rules import RuleList, Rules

Problem = tuple[str, str]


def compare_xml(expected: bytes, actual: bytes, rules: Rules, request: bool) -> list[Problem]:
    try:
        want = ET.fromstring(expected)
    except ET.ParseError as exc:
        return [("$", f"the pact's XML example cannot be read ({exc})")]
    try:
        got = ET.fromstring(actual)
    except ET.ParseError as exc:
        return [("$", f"expected an XML body, got one that is not XML ({exc})")]
    out: list[Problem] = []
    _Comparer(rules, request, out).element(want, got, ["$"], ["$"])
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Comparer:
    def __init__(self, rules: Rules, request: bool, out: list[Problem]):
        self.rules, self.request, self.out = rules, request, out

    def rule(self, names: list[str], indexed: list[str]) -> tuple[RuleList, bool] | None:
        if not self.rules.body:
            return None
        a, b = self.rules.at(names), self.rules.at(indexed)
        return a if b is None or (a is not None and a[1] <= b[1]) else b

    def element(self, want: ET.Element, got: ET.Element, names: list[str], indexed: list[str]) -> None:
        names, indexed = [*names, _local(want.tag)], [*indexed, _local(want.tag)]
        where = show(names)
        if want.tag != got.tag:
            self.out.append((where, f"expected element <{_local(want.tag)}>, got <{_local(got.tag)}>"))
            return
        own = self.rule(names, indexed)
        if own is not None:
            low, high = own[0].matchers[0].min, own[0].matchers[0].max
            count = len(list(got))
            if low is not None and count < low:
                self.out.append((where, f"expected at least {low} child elements, got {count}"))
            if high is not None and count > high:
                self.out.append((where, f"expected at most {high} child elements, got {count}"))
        self.attributes(want, got, names, indexed)
        self.children(want, got, names, indexed, typed=own is not None)
        self.text(want, got, names, indexed)

    def attributes(self, want: ET.Element, got: ET.Element, names: list[str], indexed: list[str]) -> None:
        for name, value in want.attrib.items():
            at, at_i = [*names, "@" + _local(name)], [*indexed, "@" + _local(name)]
            if name not in got.attrib:
                self.out.append((show(at), f"expected attribute {_local(name)}={value!r}, but it is missing"))
                continue
            rule = self.rule(at, at_i)
            if rule is not None:
                self.out.extend((show(at), p) for p in holds(rule[0], value, got.attrib[name], rule[1]))
            elif got.attrib[name] != value:
                self.out.append((show(at), f"expected {value!r}, got {got.attrib[name]!r}"))
        if self.request:
            extra = [_local(n) for n in got.attrib if n not in want.attrib]
            if extra:
                self.out.append((show(names), f"unexpected attribute{'s' if len(extra) > 1 else ''} "
                                 f"{', '.join(extra)}"))

    def children(self, want: ET.Element, got: ET.Element, names: list[str], indexed: list[str],
                 typed: bool) -> None:
        """typed: a rule covers this element, so its children are held to the example's kinds of
        child (a response may add children of the kinds it has, not of others)."""
        wanted: dict[str, list[ET.Element]] = {}
        for child in want:
            wanted.setdefault(child.tag, []).append(child)
        found: dict[str, list[ET.Element]] = {}
        for child in got:
            found.setdefault(child.tag, []).append(child)
        for tag, expected in wanted.items():
            actual = found.get(tag, [])
            child_names = [*names, _local(tag)]
            ruled = self.rule(child_names, [*indexed, "0", _local(tag)]) is not None
            fewer = len(actual) < len(expected) and not (ruled and actual)
            if fewer or len(actual) > len(expected) and not ruled and self.request:
                self.out.append((show(child_names), f"expected {len(expected)} <{_local(tag)}> element"
                                 f"{'s' if len(expected) > 1 else ''}, got {len(actual)}"))
            for i, child in enumerate(actual):
                if i < len(expected) or ruled:
                    self.element(expected[i] if i < len(expected) else expected[0], child, names,
                                 [*indexed, str(i)])
        if self.request or typed:
            extra = [_local(t) for t in found if t not in wanted]
            if extra:
                self.out.append((show(names), f"unexpected element{'s' if len(extra) > 1 else ''} "
                                 f"{', '.join(f'<{e}>' for e in extra)}"))

    def text(self, want: ET.Element, got: ET.Element, names: list[str], indexed: list[str]) -> None:
        expected, actual = _text(want), _text(got)
        rule = self.rule([*names, "#text"], [*indexed, "#text"])
        if rule is not None:
            self.out.extend((show([*names, "#text"]), p) for p in holds(rule[0], expected, actual, rule[1]))
        elif expected != actual:
            self.out.append((show([*names, "#text"]), f"expected text {shown(expected)}, got {shown(actual)}"))


def _text(element: Any) -> str:
    parts = [element.text or ""] + [child.tail or "" for child in element]
    return "".join(p.strip() for p in parts)
