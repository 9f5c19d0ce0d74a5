"""The compiled route table: index by path, then check method, query, headers, body, state.

Lookup cost does not grow with the number of stubs: exact paths are a dict, path templates a
segment trie, and prefix/regex routes (and template segments like `v{n}.json`) are bucketed by
the literal prefix and suffix every match has (one dict probe per distinct pair of lengths).
Candidates come out in rank order (priority, specificity, file order).
"""
from __future__ import annotations

from typing import Any

from ..body import BodyView
from ..config.base import RequestSpec
from .request import PARAM as _PARAM
from .request import RequestMatcher, regex_affixes, template_regex

_EMPTY = BodyView(b"")


class Route(RequestMatcher):
    """One stub, compiled: its request matcher, and `action`, the response source that answers
    what it accepts (see respond/)."""

    __slots__ = (
        "name", "id", "rank", "source", "new_state", "action", "priority", "order", "file",
        "definition", "label", "faults", "fault_headers",
    )

    def __init__(self, request: RequestSpec, *, name: str | None, id: str, file: str, source: str, definition: str,
                 priority: int, order: int, scenario: str | None, required_state: str | None,
                 new_state: str | None, action: Any, faults: tuple = (), fault_headers: bool | None = None):
        super().__init__(request, scenario, required_state)
        self.name, self.id, self.file, self.source = name, id, file, source
        self.definition = definition  # the stub as written (compact JSON), for the admin API
        self.label = name or source   # how reports and metrics name it
        self.priority, self.order = priority, order
        self.new_state = new_state
        self.action = action
        self.faults = faults                # its own, compiled (stuntman.faults.kinds)
        self.fault_headers = fault_headers  # honours X-Stuntman-Delay-Ms/-Abort (None: the global flag)
        # matching waits for the body if the matcher reads it, or a source that picks among routes
        # (a replay) does; a source that only answers with it is called once the request is read anyway
        self.needs_body = self.needs_body or (action.needs_body and action.delegates)
        self.rank = 0


WALK_MEMO_ENTRIES = 4096  # paths whose template routes a table remembers
WALK_MEMO_PATH = 256      # longer paths are walked every time (a memo of them would cost memory)


class _Node:
    __slots__ = ("literal", "param", "patterns", "routes")

    def __init__(self):
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None          # a whole-segment {name}
        # (pattern, child) for segments like v{n}.json; None while there are none (tested per segment)
        self.patterns: AffixIndex | None = None
        self.routes: list[Route] = []


def _segment_walk(node: _Node, segments: list[str], i: int, out: list[Route]) -> int:
    """Append the routes whose template matches segments[i:]; return how many trie leaves gave
    some (more than one: the caller sorts them into rank order). Straight descent in a loop while
    each segment has one way down (the usual table); branches recurse."""
    n = len(segments)
    while i < n:
        seg = segments[i]
        child = node.literal.get(seg)
        param = node.param if seg else None
        if node.patterns is not None or (child is not None and param is not None):
            return _branch(node, seg, segments, i, out)
        node = child if child is not None else param  # type: ignore[assignment]
        if node is None:
            return 0
        i += 1
    out.extend(node.routes)
    return 1 if node.routes else 0


def _branch(node: _Node, seg: str, segments: list[str], i: int, out: list[Route]) -> int:
    leaves = 0
    child = node.literal.get(seg)
    if child is not None:
        leaves += _segment_walk(child, segments, i + 1, out)
    if node.param is not None and seg:
        leaves += _segment_walk(node.param, segments, i + 1, out)
    if node.patterns is not None:
        hits: list = []
        node.patterns.find(seg, hits)
        for pattern, child in hits:
            if pattern.fullmatch(seg):
                leaves += _segment_walk(child, segments, i + 1, out)
    return leaves


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


class _NoFaults:
    """The fault rules of a table built without any."""

    active = False
    needs_body = False
    rules: list = []

    @staticmethod
    def for_request(ex: Any, route: Any, state: Any) -> list:
        return []


NO_FAULTS = _NoFaults()


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
        self._walked: dict[str, tuple[list[Route], int]] = {}  # path → the trie's answer (see candidates)
        self._affixed = AffixIndex()  # pathPrefix and pathRegex routes
        self._anywhere: list[Route] = []
        # gRPC routes, apart: an HTTP request never meets them, a gRPC call meets only them
        self._grpc_exact: dict[str, list[Route]] = {}
        self._grpc_patterns: list[Route] = []
        for route in routes:
            if route.grpc:
                if route.path_kind == "exact":
                    self._grpc_exact.setdefault(route.path_text, []).append(route)
                else:
                    self._grpc_patterns.append(route)
                continue
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
        # the fault rules built with this table (stuntman.faults.rules.FaultRules), swapped with it
        self.faults: Any = faults if faults is not None else NO_FAULTS
        self.contracts: list = []  # the contracts (stuntman.contracts.Contract) these routes serve
        self.monitor: Any = None   # the monitored contracts' operations (stuntman.monitor.Monitor), if any
        self.protos: Any = None    # the --proto services (stuntman.proto.protoset.ProtoSet), swapped with the table
        self.any_needs_body = any(r.needs_body for r in routes) or self.faults.needs_body
        # a gRPC route (or a fault) reads request messages: else no call is read ahead to route it
        self.grpc_reads = self.faults.needs_body or any(
            r.grpc and (r.needs_body or getattr(r.action, "needs_body", False)) for r in routes)

    def grpc_candidates(self, path: str) -> list[Route]:
        """The gRPC routes that may take a call to path (/service/method), in rank order."""
        exact = self._grpc_exact.get(path, [])
        if not self._grpc_patterns:
            return exact
        return sorted([*exact, *(r for r in self._grpc_patterns if r.path_params(path) is not None)],
                      key=lambda r: r.rank)

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
                patterns = node.patterns = node.patterns or AffixIndex()
                for existing, child in patterns.buckets.get((prefix, suffix), ()):
                    if existing.pattern == pattern.pattern:
                        node = child
                        break
                else:
                    child = _Node()
                    patterns.add(prefix, suffix, (pattern, child))
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
            # The table never changes, so the walk's answer for a path never does: paths come back
            # (tests and clients call the same few URLs), and a repeated one costs one dict probe,
            # as an exact path does. Bounded: short paths only, and it starts over when full.
            walked = self._walked.get(path)
            if walked is None:
                routes: list[Route] = []
                walked = (routes, _segment_walk(self._trie, path.split("/"), 1, routes))
                if len(path) <= WALK_MEMO_PATH:
                    if len(self._walked) >= WALK_MEMO_ENTRIES:
                        self._walked.clear()
                    self._walked[path] = walked
            if walked[1]:
                out += walked[0]
                sources += walked[1]
        if self._affixed.shapes:  # (not its __bool__: a Python call per request)
            sources += self._affixed.find(path, out)
        if self._anywhere:
            out.extend(self._anywhere)
            sources += 1
        if sources > 1:
            out.sort(key=_rank)
        return out

def _rank(route: Route) -> int:
    return route.rank


def match_each(ex, state, candidates: list[Route], views: list[BodyView]) -> Route | None:
    """The first candidate that accepts ex with each of views as its body (a gRPC client
    stream: every message; no message is an empty body); applies its scenario transition."""
    path = ex.path
    for route in candidates:
        params = route.path_params(path)
        if params is not None and all(_accepts_as(route, ex, state, view) for view in views or (_EMPTY,)):
            ex.params = params
            if route.new_state is not None:
                state.set_scenario_state(ex, route.scenario, route.new_state)
            return route
    return None


def _accepts_as(route: Route, ex, state, view: BodyView) -> bool:
    ex.see_body_as(view)
    return route.accepts(ex, state)


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
