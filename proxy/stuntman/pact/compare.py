"""A request (or a response) held to a pact interaction, part by part, as the specification says:
the method regardless of case, the path exactly (or by its rule), the query as names and values
(order free between names, kept within one), headers by name regardless of case with unexpected
ones allowed, and the body by its content type (stuntman.pact.body). Every difference is a
Mismatch naming the part, where in it, and what differs; none means the interaction matches.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from .body import compare_body
from .document import Pact, Request, Response, parse_query
from .matchers import holds, shown
from .rules import RuleList, Rules

PARAMETERISED = frozenset(("accept", "content-type"))


@dataclass(frozen=True)
class Mismatch:
    part: str      # method | path | query | header | body | status
    where: str     # the parameter or header name, or the path into the body ("" for the part itself)
    message: str

    def __str__(self) -> str:
        return f"{self.part}{'.' + self.where if self.where and self.part != 'body' else ''}" \
               f"{' ' + self.where if self.part == 'body' and self.where not in ('', '$') else ''}: {self.message}"


class Received:
    """A request as it came in, in the terms the comparison needs: the header dict is asked of
    the exchange only if the interaction names a header (building it is most of a plain match)."""

    __slots__ = ("method", "path", "query_string", "body", "content_type", "_headers", "_ex")

    def __init__(self, method: str, path: str, query_string: str, headers: dict[str, str] | None, body: bytes,
                 content_type: str | None, ex: Any = None):
        self.method, self.path, self.query_string = method, path, query_string
        self.body, self.content_type = body, content_type
        self._headers, self._ex = headers, ex

    @property
    def headers(self) -> dict[str, str]:
        """Lower-case names, repeats joined with ", "."""
        if self._headers is None:
            self._headers = self._ex.headers if self._ex is not None else {}
        return self._headers


def compare_request(pact: Pact, expected: Request, got: Received, json_check: Any = None) -> list[Mismatch]:
    """Every difference (json_check, stuntman.pact.plan: the body's only judged, see compare_body)."""
    out: list[Mismatch] = []
    if expected.method != got.method and expected.method != got.method.upper():  # (load upper-cased it)
        out.append(Mismatch("method", "", f"expected {expected.method}, got {got.method}"))
    if expected.path != got.path or expected.rules.path is not None:
        out += compare_path(expected.path, got.path, expected.rules)
    if got.query_string or expected.query or expected.query_text:
        out += compare_query(pact, expected, got.query_string)
    if expected.headers:
        out += compare_headers(expected.headers, got.headers, expected.rules)
    if expected.body.state != "missing":
        out += [Mismatch("body", where, message) for where, message in
                compare_body(expected.body, got.body, got.content_type, expected.rules, request=True,
                             form_compare=lambda fields, at: _form(fields, expected), json_check=json_check)]
    return out


def compare_response(expected: Response, status: int, headers: dict[str, str], body: bytes) -> list[Mismatch]:
    out: list[Mismatch] = []
    rule = expected.rules.status
    if rule is not None:
        out += [Mismatch("status", "", p) for p in holds(rule, expected.status, status, status=status)]
    elif status != expected.status:
        out.append(Mismatch("status", "", f"expected {expected.status}, got {status}"))
    out += compare_headers(expected.header_values(), headers, expected.rules)
    out += [Mismatch("body", where, message) for where, message in
            compare_body(expected.body, body, headers.get("content-type"), expected.rules, request=False)]
    return out


def compare_path(expected: str, actual: str, rules: Rules) -> list[Mismatch]:
    if rules.path is not None:
        return [Mismatch("path", "", p) for p in holds(rules.path, expected, actual)]
    return [] if expected == actual else [Mismatch("path", "", f"expected {expected}, got {actual}")]


def compare_query(pact: Pact, expected: Request, query_string: str) -> list[Mismatch]:
    if pact.v1_0 and expected.query_text is not None:  # v1.0: the query as a string (decoded)
        want = [unquote_plus(p) for p in expected.query_text.split("&")] if expected.query_text else []
        got = [unquote_plus(p) for p in query_string.split("&")] if query_string else []
        return [] if want == got else \
            [Mismatch("query", "", f"expected {expected.query_text!r}, got {query_string!r}")]
    return _pairs(expected.query or {}, parse_query(query_string), expected.rules.query, "query")


def _form(fields: dict[str, list[str]], expected: Request) -> list[tuple[str, str]]:
    wanted = parse_query(expected.body.content.decode("utf-8", "replace"))
    return [(f"$.{m.where}" if m.where else "$", m.message)
            for m in _pairs(wanted, fields, _form_rules(expected.rules), "body")]


def _form_rules(rules: Rules) -> dict[str, RuleList]:
    """Body rules on a form's fields ($.name) as rules by name."""
    out = {}
    for tokens, rule in rules.body:
        if len(tokens) >= 2 and tokens[1][0] == "field":
            out[str(tokens[1][1])] = rule
    return out


def _pairs(expected: dict[str, list[str]], actual: dict[str, list[str]], rules: dict[str, RuleList],
           part: str) -> list[Mismatch]:
    """Names in any order; each name's values in order (v1.1 onward): a missing or unexpected
    name is a mismatch; a name with a rule holds every actual value to it."""
    out: list[Mismatch] = []
    for name, want in expected.items():
        got = actual.get(name)
        if got is None:
            out.append(Mismatch(part, name, f"expected {_values(want)}, but it is missing"))
            continue
        rule = rules.get(name)
        if rule is not None:
            for i, value in enumerate(got):
                example = want[i] if i < len(want) else (want[0] if want else "")
                for p in holds(rule, example, value):
                    out.append(Mismatch(part, name, p))
            continue
        if len(want) != len(got) or any(w != g for w, g in zip(want, got, strict=False)):
            out.append(Mismatch(part, name, f"expected {_values(want)}, got {_values(got)}"))
    for name in actual:
        if name not in expected:
            out.append(Mismatch(part, name, f"unexpected {'parameter' if part == 'query' else 'field'} "
                                f"({_values(actual[name])})"))
    return out


def _values(values: list[str]) -> str:
    return shown(values[0]) if len(values) == 1 else shown(values)


def compare_headers(expected: dict[str, list[str]], actual: dict[str, str], rules: Rules) -> list[Mismatch]:
    out: list[Mismatch] = []
    for name, want in expected.items():
        got = actual.get(name)
        if got is None:
            out.append(Mismatch("header", name, f"expected {_values(want)}, but it is missing"))
            continue
        rule = rules.header.get(name)
        if rule is not None:
            out += [Mismatch("header", name, p) for p in holds(rule, ", ".join(want), got)]
            continue
        if name in PARAMETERISED:
            if not all(_parameterised(w, g) for w, g in zip(want, _pieces(name, got), strict=False)) \
                    or len(want) != len(_pieces(name, got)):
                out.append(Mismatch("header", name, f"expected {_values(want)}, got {shown(got)}"))
        elif _normal(", ".join(want)) != _normal(got):
            out.append(Mismatch("header", name, f"expected {_values(want)}, got {shown(got)}"))
    return out


def _pieces(name: str, value: str) -> list[str]:
    return [v.strip() for v in value.split(",")] if name == "accept" else [value.strip()]


def _normal(value: str) -> str:
    """A header value as compared: white space around the commas between its values does not count."""
    return ",".join(piece.strip() for piece in value.split(","))


def _parameterised(expected: str, actual: str) -> bool:
    """Content-Type / Accept: the media type exactly, then every parameter the pact names, its value
    regardless of case (charset=utf-8 is charset=UTF-8); parameters in any order, extra ones allowed."""
    want, got = _media(expected), _media(actual)
    if want[0] != got[0]:
        return False
    return all(k in got[1] and got[1][k].lower() == v.lower() for k, v in want[1].items())


@lru_cache(maxsize=1024)  # (a pact's values and the clients' few: read once each)
def _media(value: str) -> tuple[str, dict[str, str]]:
    parts = [p.strip() for p in value.split(";")]
    params: dict[str, str] = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        if k:
            params[k.strip().lower()] = v.strip().strip('"')
    return parts[0], params


def received(ex: Any) -> Received:
    """An exchange's request (stuntman.exchange.Exchange) as the comparison reads it."""
    return Received(ex.method, ex.path, ex.query_string, None, ex.body_bytes, ex.content_type, ex)
