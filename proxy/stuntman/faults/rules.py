"""Which faults apply to a request: a route's own, and standalone ones (fault files, the admin API,
`--fault`) that target every request, a stub by name, or requests a matcher accepts.

Built with each route table and swapped with it, so a request sees one consistent set. Order:
standalone faults for every request, then those for the stub by name or by matcher, then the
stub's own (each group in file, then API, order).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .kinds import ErrorFault, Fault, FaultState, LatencyFault, compile_fault

if TYPE_CHECKING:
    from ..match.request import RequestMatcher


@dataclass(frozen=True)
class FaultRule:
    """A standalone fault and what it targets (neither a route name nor a matcher: everything)."""

    fault: Fault
    route_name: str | None = None
    matcher: RequestMatcher | None = None  # the requests it applies to
    definition: str = ""           # as written (compact JSON), for the admin API
    origin: str = "file"           # file | api | cli


class FaultRules:
    def __init__(self, rules: list[FaultRule], routes, fault_headers: bool):
        self.rules = rules
        self.everything = tuple(r.fault for r in rules if r.route_name is None and r.matcher is None)
        self.matchers = [(r.matcher, r.fault) for r in rules if r.matcher is not None]
        named: dict[str, list[Fault]] = {}
        for r in rules:
            if r.route_name is not None:
                named.setdefault(r.route_name, []).append(r.fault)
        self.before: dict[str, tuple] = {}  # route id → standalone faults ahead of its own
        self.asks: set[str] = set()         # ids of routes honouring X-Stuntman-Delay-Ms / -Abort
        for route in routes:
            before = self.everything + tuple(named.get(route.name, ()) if route.name else ())
            if before:
                self.before[route.id] = before
            if route.fault_headers if route.fault_headers is not None else fault_headers:
                self.asks.add(route.id)
        # faults naming a stub that no longer exists (deleted through the API, or gone from the
        # files): kept, waiting for a stub of that name to come back, and reported by health
        names = {route.name for route in routes if route.name}
        self.orphans = [r for r in rules if r.route_name is not None and r.route_name not in names]
        self.fault_headers = fault_headers
        self.active = bool(self.everything or self.matchers or self.before or self.asks or fault_headers
                           or any(route.faults for route in routes))
        self.needs_body = any(m.needs_body for m, _ in self.matchers)
        # with no matcher rules, a route's faults are the same for every request it takes, unless
        # the request may ask for more in its headers: those routes' lists are made once, here
        self.fixed: dict[str | None, tuple[Fault, ...]] = {}
        if not self.matchers:
            if not fault_headers:
                self.fixed[None] = self.everything
            for route in routes:
                if route.id not in self.asks:
                    self.fixed[route.id] = self.before.get(route.id, ()) + tuple(route.faults or ())

    def for_request(self, ex, route, state) -> tuple[Fault, ...] | list[Fault]:
        """The faults for this request (the pipeline looks in `fixed` first)."""
        fixed = self.fixed.get(route.id if route is not None else None)
        if fixed is not None:
            return fixed
        if route is None:
            faults = list(self.everything)
            asks = self.fault_headers
        else:
            faults = list(self.before.get(route.id, ()))
            asks = route.id in self.asks
        for matcher, fault in self.matchers:
            if matcher.matches(ex, state):
                faults.append(fault)
        if route is not None and route.faults:
            faults.extend(route.faults)
        if asks:
            faults.extend(asked_for(ex))
        return faults


DELAY_HEADER, ABORT_HEADER = "x-stuntman-delay-ms", "x-stuntman-abort"
_ASKING = FaultState(0)  # faults asked for fire unconditionally: no counters, no windows


def asked_for(ex) -> list[Fault]:
    """Envoy-style faults a request asks for in its headers (when a route or --fault-headers allows)."""
    headers = ex.headers
    out = []
    delay, abort = headers.get(DELAY_HEADER), headers.get(ABORT_HEADER)
    try:
        if delay is not None:
            out.append(compile_fault(LatencyFault(type="latency", fixed_ms=float(delay), name=DELAY_HEADER),
                                     DELAY_HEADER, "request header", _ASKING))
        if abort is not None:
            out.append(compile_fault(ErrorFault(type="error", status=int(abort), name=ABORT_HEADER),
                                     ABORT_HEADER, "request header", _ASKING))
    except ValueError:  # a value out of range or not a number: the request gets what it would have
        pass
    for fault in out:
        fault.unconditional = True
    return out
