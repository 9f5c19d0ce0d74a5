"""The compiled route table: index by path, then check method, query, headers, body, state.

Lookup cost does not grow with the number of stubs: exact paths are a dict, path templates a
segment trie, and prefix/regex routes (and template segments like `v{n}.json`) are bucketed by
the literal prefix and suffix every match has (one dict probe per distinct pair of lengths).
Candidates come out in rank order (priority, specificity, file order).
"""
from __future__ import annotations

import re
from re import _constants as _re  # to read a regex's literal prefix/suffix
from re import _parser as _re_parser
from urllib.parse import unquote

from ..faults.rules import FaultRules

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REGEX_META = set(".^$*+?{}[]\\|()")


class Route:
    """One stub, compiled. `action` is a stub responder or a proxy target (see respond/)."""

    __slots__ = (
        "name", "id", "rank", "source", "methods", "path_text", "path_kind", "path_re",
        "query", "headers", "body", "scenario", "required_state", "new_state", "action",
        "needs_body", "specificity", "priority", "order", "file", "definition", "label", "faults",
        "fault_headers",
    )

    def __init__(self, *, name, id, file, source, definition, priority, order, methods, path_kind, path_text, path_re, query,
                 headers, body, scenario, required_state, new_state, action, faults=(), fault_headers=None):
        self.name, self.id, self.file, self.source = name, id, file, source
        self.definition = definition  # the stub as written (compact JSON), for the admin API
        self.label = name or source   # how reports and metrics name it
        self.priority, self.order = priority, order
        self.methods = methods  # frozenset of method names, or None for ANY
        self.path_kind, self.path_text, self.path_re = path_kind, path_text, path_re
        self.query, self.headers, self.body = query, headers, body
        self.scenario, self.required_state, self.new_state = scenario, required_state, new_state
        self.action = action
        self.faults = faults                # its own, compiled (stuntman.faults.kinds)
        self.fault_headers = fault_headers  # honours X-Stuntman-Delay-Ms/-Abort (None: the global flag)
        self.needs_body = body is not None or action.needs_body
        self.rank = 0
        kind_score = {"exact": 400, "template": 300, "prefix": 200, "regex": 100, "any": 0}[path_kind]
        if path_kind == "prefix":
            kind_score += min(len(path_text), 99)
        elif path_kind == "template":
            kind_score -= min(path_text.count("{"), 99)
        self.specificity = (kind_score + 1000 * (methods is not None) + 1000 * len(query)
                            + 1000 * len(headers) + 1000 * (body is not None)
                            + 1000 * (required_state is not None))

    def path_params(self, path: str) -> dict[str, str] | None:
        """Path parameters if this route's path condition holds, else None."""
        kind = self.path_kind
        if kind == "exact":
            return {} if path == self.path_text else None
        if kind == "prefix":
            return {} if path.startswith(self.path_text) else None
        if kind == "any":
            return {}
        m = self.path_re.fullmatch(path)
        return None if m is None else {k: unquote(v) for k, v in m.groupdict().items() if v is not None}

    def matches(self, ex, state) -> bool:
        """Path and everything else: this route (as a request matcher) accepts ex."""
        return self.path_params(ex.path) is not None and self.accepts(ex, state)

    def accepts(self, ex, state) -> bool:
        """Everything but the path (already checked by the index)."""
        if self.methods is not None and ex.method not in self.methods:
            return False
        if self.query:
            q = ex.query
            for name, matcher in self.query:
                values = q.get(name)
                if not (any(matcher.test(v) for v in values) if values else matcher.test(None)):
                    return False
        if self.headers:
            h = ex.headers
            for name, matcher in self.headers:
                if not matcher.test(h.get(name)):
                    return False
        if self.body is not None and not self.body.test(ex.body_view):
            return False
        if self.required_state is not None:
            if state.scenario_state(ex, self.scenario) != self.required_state:
                return False
        return True

    def mismatches(self, ex, state) -> list[str]:
        """Why this route does not match ex, one line per field (the near-miss report)."""
        out = []
        if self.methods is not None and ex.method not in self.methods:
            out.append(f"method: expected {'|'.join(sorted(self.methods - {'HEAD'}) or ['HEAD'])}, got {ex.method}")
        if self.path_params(ex.path) is None:
            what = {"exact": "", "template": "template ", "prefix": "prefix ", "regex": "regex "}[self.path_kind]
            out.append(f"path: expected {what}{self.path_text}, got {ex.path}")
        q = ex.query
        for name, matcher in self.query:
            values = q.get(name)
            if not (any(matcher.test(v) for v in values) if values else matcher.test(None)):
                got = ", ".join(repr(v) for v in values) if values else "(absent)"
                out.append(f"query.{name}: expected {matcher.describe()}, got {got}")
        for name, matcher in self.headers:
            value = ex.headers.get(name)
            if not matcher.test(value):
                out.append(f"headers.{name}: expected {matcher.describe()}, got "
                           f"{'(absent)' if value is None else repr(value)}")
        if self.body is not None and not self.body.test(ex.body_view):
            raw = ex.body_bytes
            shown = repr(raw[:80].decode("utf-8", "replace")) + ("..." if len(raw) > 80 else "")
            out.append(f"body: expected {self.body.describe()}, got {shown if raw else '(empty)'}")
        if self.required_state is not None:
            current = state.scenario_state(ex, self.scenario)
            if current != self.required_state:
                out.append(f"scenario {self.scenario!r}: needs state {self.required_state!r}, is {current!r}")
        return out


class _Node:
    __slots__ = ("literal", "param", "patterns", "routes")

    def __init__(self):
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None          # a whole-segment {name}
        self.patterns = AffixIndex()  # (pattern, child) for segments like v{n}.json
        self.routes: list[Route] = []


def _segment_walk(node: _Node, segments: list[str], i: int, out: list[Route]) -> None:
    if i == len(segments):
        out.extend(node.routes)
        return
    seg = segments[i]
    child = node.literal.get(seg)
    if child is not None:
        _segment_walk(child, segments, i + 1, out)
    if node.param is not None and seg:
        _segment_walk(node.param, segments, i + 1, out)
    if node.patterns:
        hits: list = []
        node.patterns.find(seg, hits)
        for pattern, child in hits:
            if pattern.fullmatch(seg):
                _segment_walk(child, segments, i + 1, out)


def template_regex(template: str) -> re.Pattern:
    parts, pos = [], 0
    for m in _PARAM.finditer(template):
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


def template_affixes(segment: str) -> tuple[str, str]:
    """Literal text around the parameters of one template segment, e.g. ('v', '.json')."""
    return segment[:segment.index("{")], segment[segment.rindex("}") + 1:]


class AffixIndex:
    """Items keyed by a literal (prefix, suffix) that matching text must start and end with.

    A lookup probes one dict entry per distinct (prefix length, suffix length) pair, so it costs
    the same with 1 or 1,000 items, unless many items share both their prefix and suffix.
    """

    def __init__(self):
        self.buckets: dict[tuple[str, str], list] = {}
        self.shapes: list[tuple[int, int]] = []

    def add(self, prefix: str, suffix: str, item) -> None:
        self.buckets.setdefault((prefix, suffix), []).append(item)
        shape = (len(prefix), len(suffix))
        if shape not in self.shapes:
            self.shapes.append(shape)
            self.shapes.sort()

    def find(self, text: str, out: list) -> int:
        """Append the items whose affixes text has; return how many buckets contributed."""
        found = 0
        n = len(text)
        for plen, slen in self.shapes:
            if plen + slen > n:
                continue
            bucket = self.buckets.get((text[:plen], text[n - slen:] if slen else ""))
            if bucket:
                out.extend(bucket)
                found += 1
        return found

    def __bool__(self) -> bool:
        return bool(self.buckets)


class RouteTable:
    """Immutable once built; the server swaps the whole table on reload."""

    def __init__(self, routes: list[Route], faults=None):
        routes = sorted(routes, key=lambda r: (r.priority, -r.specificity, r.order))
        for i, route in enumerate(routes):
            route.rank = i
        self.routes = routes
        self.files = {r.file for r in routes}  # the stub files these routes come from
        self._exact: dict[str, list[Route]] = {}
        self._trie = _Node()
        self._has_templates = False
        self._affixed = AffixIndex()  # pathPrefix and pathRegex routes
        self._anywhere: list[Route] = []
        for route in routes:
            kind = route.path_kind
            if kind == "exact":
                self._exact.setdefault(route.path_text, []).append(route)
            elif kind == "template":
                self._add_template(route)
            elif kind == "any":
                self._anywhere.append(route)
            elif kind == "prefix":
                self._affixed.add(route.path_text, "", route)
            else:
                self._affixed.add(*regex_affixes(route.path_text), route)
        self.faults = faults if faults is not None else FaultRules([], routes, False)
        self.any_needs_body = any(r.needs_body for r in routes) or self.faults.needs_body

    def _add_template(self, route: Route) -> None:
        self._has_templates = True
        node = self._trie
        for seg in route.path_text.split("/")[1:]:
            if _PARAM.fullmatch(seg):
                node.param = node.param or _Node()
                node = node.param
            elif "{" in seg:
                pattern = template_regex(seg)
                prefix, suffix = template_affixes(seg)
                for existing, child in node.patterns.buckets.get((prefix, suffix), ()):
                    if existing.pattern == pattern.pattern:
                        node = child
                        break
                else:
                    child = _Node()
                    node.patterns.add(prefix, suffix, (pattern, child))
                    node = child
            else:
                node = node.literal.setdefault(seg, _Node())
        node.routes.append(route)

    def candidates(self, path: str) -> list[Route]:
        """Routes whose path condition may hold, in rank order."""
        found = self._exact.get(path)
        out = list(found) if found else []
        sources = 1 if found else 0
        if self._has_templates:
            before = len(out)
            _segment_walk(self._trie, path.split("/")[1:], 0, out)
            sources += len(out) > before
        if self._affixed:
            sources += self._affixed.find(path, out)
        if self._anywhere:
            out.extend(self._anywhere)
            sources += 1
        if sources > 1:
            out.sort(key=_rank)
        return out

def _rank(route: Route) -> int:
    return route.rank


def match(ex, state, candidates: list[Route]) -> Route | None:
    """The first candidate (in rank order) that accepts ex; applies its scenario transition."""
    path = ex.path
    for route in candidates:
        params = route.path_params(path)
        if params is not None and route.accepts(ex, state):
            ex.params = params
            if route.new_state is not None:
                state.set_scenario_state(ex, route.scenario, route.new_state)
            return route
    return None
