"""The one request matcher: a compiled `request:` (method, path, query, headers, body) and, for a
stub in a scenario, the state it requires.

Routes are request matchers with an answer (`routes.Route`); standalone faults, the admin API's
find/count/verify, replays and stubs-from-recording all compile their `request:` into this same
class. One routine, `accepts`, both decides (stopping at the first condition that fails, the hot
path) and explains (given a list, it writes why each condition fails: the near-miss report), so
the two cannot drift apart.
"""
from __future__ import annotations

import re

# re has no public parser: its own (re._parser, the module behind the deprecated sre_parse) is the
# only way to read a pattern's literal prefix and suffix without writing a regex parser. It is
# used only to index routes; tests/test_route_index.py::test_regex_affixes fails loudly if it moves.
from re import _constants as _re  # type: ignore[attr-defined]
from re import _parser as _re_parser  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..config.base import RequestSpec
from ..exchange import NO_PARAMS  # (shared, never mutated: an exchange's params are replaced)
from .matchers import compile_body_matcher, compile_matcher, user_regex, utf8

if TYPE_CHECKING:
    from ..exchange import Exchange

PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KIND_SCORE = {"exact": 400, "template": 300, "prefix": 200, "regex": 100, "any": 0}
_KIND_WORD = {"exact": "", "template": "template ", "prefix": "prefix ", "regex": "regex ", "any": ""}


class RequestMatcher:
    __slots__ = ("methods", "path_kind", "path_text", "path_re", "query", "headers", "body", "scenario",
                 "required_state", "specificity", "needs_body", "grpc")

    def __init__(self, spec: RequestSpec, scenario: str | None = None, required_state: str | None = None):
        methods = {m.upper() for m in ([spec.method] if isinstance(spec.method, str) else spec.method)}
        # frozenset of method names (GET brings HEAD), or None for ANY
        self.methods = None if "ANY" in methods else frozenset(methods | ({"HEAD"} if "GET" in methods else set()))
        self.grpc = spec.grpc is not None  # only gRPC calls (their path is /service/method)
        if spec.grpc is not None:
            kind, text = spec.grpc.path()
        elif spec.path is not None:
            kind, text = ("template", spec.path) if "{" in spec.path else ("exact", spec.path)
        elif spec.path_regex is not None:
            kind, text = "regex", spec.path_regex
        elif spec.path_prefix is not None:
            kind, text = "prefix", spec.path_prefix
        else:
            kind, text = "any", ""
        self.path_kind, self.path_text = kind, text
        # templates: Python re, built from escaped literals (cannot backtrack badly); pathRegex: RE2
        self.path_re: Any = (template_regex(text) if kind == "template" else user_regex(text) if kind == "regex"
                             else None)
        self.query = [(k, compile_matcher(m)) for k, m in spec.query.items()]
        self.headers = [(k.lower(), compile_matcher(m)) for k, m in spec.headers.items()]
        self.body: Any = compile_body_matcher(spec.body) if spec.body is not None else None
        self.scenario, self.required_state = scenario, required_state
        self.needs_body = self.body is not None  # (a route's answer may need it too)
        score = _KIND_SCORE[kind]
        if kind == "prefix":
            score += min(len(text), 99)
        elif kind == "template":
            score -= min(text.count("{"), 99)
        # ranks routes of equal priority: each condition beyond the path counts more than any path
        self.specificity = (score + 1000 * (self.methods is not None) + 1000 * len(self.query)
                            + 1000 * len(self.headers) + 1000 * (self.body is not None)
                            + 1000 * (required_state is not None))

    def path_params(self, path: str) -> dict[str, str] | None:
        """Path parameters if the path condition holds, else None."""
        kind = self.path_kind
        if kind == "exact":
            return NO_PARAMS if path == self.path_text else None
        if kind == "prefix":
            return NO_PARAMS if path.startswith(self.path_text) else None
        if kind == "any":
            return NO_PARAMS
        if kind == "regex":  # RE2 on bytes: groups come back as bytes
            m = self.path_re.fullmatch(utf8(path))
            return None if m is None else {k: unquote(v.decode("utf-8", "surrogatepass"))
                                           for k, v in m.groupdict().items() if v is not None}
        m = self.path_re.fullmatch(path)  # a template's: every group is a named [^/]+, never None
        if m is None:
            return None
        return m.groupdict() if "%" not in path else {k: unquote(v) for k, v in m.groupdict().items()}

    def matches(self, ex: Exchange, state: Any) -> bool:
        """The path and everything else hold."""
        return self.path_params(ex.path) is not None and self.accepts(ex, state)

    def mismatches(self, ex: Exchange, state: Any) -> list[str]:
        """Why ex is not accepted, one line per condition (the near-miss report); [] if it is."""
        why: list[str] = []
        self.accepts(ex, state, why)
        return why

    def accepts(self, ex: Exchange, state: Any, why: list[str] | None = None) -> bool:
        """Everything but the path (the route index checked it). With `why`, every condition is
        checked, the path too, and each one that fails says so there."""
        if self.grpc and ex.grpc is None:
            if why is None:
                return False
            why.append("protocol: expected a gRPC call, got HTTP")
        if self.methods is not None and ex.method not in self.methods:
            if why is None:
                return False
            why.append(f"method: expected {'|'.join(sorted(self.methods - {'HEAD'}) or ['HEAD'])}, got {ex.method}")
        if why is not None and self.path_params(ex.path) is None:
            why.append(f"path: expected {_KIND_WORD[self.path_kind]}{self.path_text}, got {ex.path}")
        if self.query:
            q = ex.query
            for name, matcher in self.query:
                values = q.get(name)
                if not (any(matcher.test(v) for v in values) if values else matcher.test(None)):
                    if why is None:
                        return False
                    got = ", ".join(repr(v) for v in values) if values else "(absent)"
                    why.append(f"query.{name}: expected {matcher.describe()}, got {got}")
        if self.headers:
            h = ex.headers
            for name, matcher in self.headers:
                value = h.get(name)
                if not matcher.test(value):
                    if why is None:
                        return False
                    why.append(f"headers.{name}: expected {matcher.describe()}, got "
                               f"{'(absent)' if value is None else repr(value)}")
        if self.body is not None and not self.body.test(ex.body_view):
            if why is None:
                return False
            raw = ex.body_view.raw  # (a gRPC message's: its JSON)
            shown = repr(raw[:80].decode("utf-8", "replace")) + ("..." if len(raw) > 80 else "")
            why.append(f"body: expected {self.body.describe()}, got {shown if raw else '(empty)'}")
        if self.required_state is not None:
            current = state.scenario_state(ex, self.scenario)
            if current != self.required_state:
                if why is None:
                    return False
                why.append(f"scenario {self.scenario!r}: needs state {self.required_state!r}, is {current!r}")
        return not why


def template_regex(template: str) -> re.Pattern:
    parts, pos = [], 0
    for m in PARAM.finditer(template):
        parts.append(re.escape(template[pos:m.start()]))
        parts.append(f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts))


def regex_affixes(pattern: str) -> tuple[str, str]:
    """Literal text that every full match of `pattern` must start and end with."""
    try:
        parsed = _re_parser.parse(pattern)
    except re.error:
        return "", ""
    if parsed.state.flags & re.IGNORECASE:
        return "", ""
    items = [(op, av) for op, av in parsed if op is not _re.AT]  # drop ^ and $ anchors
    head = 0
    while head < len(items) and items[head][0] is _re.LITERAL:
        head += 1
    tail = len(items)
    while tail > head and items[tail - 1][0] is _re.LITERAL:
        tail -= 1
    return ("".join(chr(av) for _, av in items[:head]),
            "".join(chr(av) for _, av in items[tail:]))
