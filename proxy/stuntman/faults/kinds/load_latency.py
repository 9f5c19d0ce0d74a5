"""load_latency: a delay that grows with load, `base_ms + per_inflight_ms × in flight`, as a
queueing server's does: what adaptive concurrency limits, timeouts and bulkheads are for.

In flight are the requests this fault fired on that have not ended yet (answered, cut, or their
client gone), counted by `key` like the limits (global by default, session, client or
header:NAME), not counting the request being decided. A request counts itself from the moment the
fault fires on it until its exchange ends, so a client that gives up mid-delay frees its place.
`jitter_ms` adds uniform 0..jitter_ms from the fault's seeded generator (a rerun with the same seed
and request order draws the same); `max_ms` caps the sum. `stage` is latency's: before the
response starts (the default), or before the request goes upstream or is answered. The journal
shows what each request met: `{"inFlight": n, "delayMs": d}`.
"""
from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import Field

from ...config.base import DAY_MS, FaultBase
from ..plan import Plan
from .base import Fault, register
from .limits import LimitKey, kept, key_reader


class LoadLatencyFault(FaultBase):
    """Delay base_ms + per_inflight_ms × the requests in flight (by `key`) when this one arrives."""

    type: Literal["load_latency"]
    base_ms: float = Field(0, ge=0, le=DAY_MS, description="the delay with nothing else in flight")
    per_inflight_ms: float = Field(ge=0, le=DAY_MS, description="added for each request in flight ahead of this one")
    jitter_ms: float = Field(0, ge=0, le=DAY_MS, description="plus uniform 0..jitter_ms, from the fault's seed")
    max_ms: float | None = Field(None, ge=0, le=DAY_MS, description="cap on the delay (default: a day)")
    key: LimitKey = Field("global", description="what the in-flight count is kept by: global (one count), session, "
                                                "client or header:NAME (requests without it share one count)")
    stage: Literal["response", "request"] = "response"


class InFlight:
    """One key's count of the requests in flight."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def leave(self) -> None:
        self.count -= 1

    def busy(self) -> bool:
        return self.count > 0


class LoadLatency(Fault):
    type = "load_latency"
    only_delays = True
    __slots__ = ("base", "per", "jitter", "cap", "stage", "read_key", "keyed", "uses_rng", "needs_session")

    def __init__(self, spec, fault_id, source, state):
        super().__init__(spec, fault_id, source, state)
        self.base, self.per, self.jitter = spec.base_ms, spec.per_inflight_ms, spec.jitter_ms
        self.cap = spec.max_ms if spec.max_ms is not None else DAY_MS
        self.stage = spec.stage
        self.read_key = key_reader(spec.key)
        self.needs_session = spec.key == "session"
        self.uses_rng = self.jitter > 0  # without jitter nothing is drawn: a quick fault, like a limit
        self.keyed = kept(self, state, InFlight, spec.key)

    def apply(self, plan: Plan, rng: random.Random, ex: Any, session: str) -> None:
        here: InFlight = self.keyed.of(self.read_key, ex, session)
        ahead = here.count
        here.count = ahead + 1
        ex.on_leave(here.leave)
        ms = self.base + self.per * ahead
        if self.jitter:
            ms += rng.uniform(0, self.jitter)
        ms = min(ms, self.cap)
        plan.show(self, {"inFlight": ahead, "delayMs": round(ms, 3)})
        plan.add_delay(self.stage, ms)


register(LoadLatencyFault, LoadLatency)
