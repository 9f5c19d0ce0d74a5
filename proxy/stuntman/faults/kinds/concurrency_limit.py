"""concurrency_limit: at most `max` requests in flight (by `key`, default one count for all the
requests it applies to); one more is turned away at once with 503, or, with `queue: Q`, waits in
line (at most Q waiting, first come first served) up to `queue_timeout_ms`, then is turned away
(a refusal goes at once: the delays of the faults beside the limit are for the requests it lets in).
What a bulkhead or a client-side limiter is tested against.

A request is in flight from the moment the limit lets it in until its exchange ends: its response
is all out, it is cut, or its client leaves. A request that leaves the line before its turn takes
no place. A request let in without waiting is let be: the fault does not fire on it; one that
waited or was turned away is in the journal with the count it met. gRPC requests will be answered
with `grpcStatus` (default UNAVAILABLE).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from ...config.base import DAY_MS, FaultBase
from ...response import Response
from ..plan import Plan
from .base import Flow, register
from .error import GrpcStatus
from .limits import Limit, LimitKey, kept, key_reader, refusal


class ConcurrencyLimitFault(FaultBase):
    """At most `max` in flight by `key`; others wait in a queue (`queue`, `queue_timeout_ms`) or get 503."""

    type: Literal["concurrency_limit"]
    max: int = Field(ge=1, le=1_000_000, description="requests in flight at once")
    queue: int = Field(0, ge=0, le=1_000_000, description="requests that may wait for a place (0: none wait)")
    queue_timeout_ms: float = Field(1000, ge=0, le=DAY_MS, description="how long one may wait, then it is turned away")
    key: LimitKey = "global"
    status: int = Field(503, ge=400, le=599)
    grpc_status: GrpcStatus = Field(14, alias="grpcStatus", description="for gRPC requests (default UNAVAILABLE)")
    body: str | None = Field(None, description="default: a line naming the limit")


class Waiting:
    """A request in line: cancelled when its client leaves (the pipeline's ex.pending), also once
    its turn has come but before it goes on (`timer` is then the call that lets it in)."""

    __slots__ = ("ex", "admitted", "line", "timer")

    def __init__(self, ex: Any, admitted: Callable[[Any], None], line: Line):
        self.ex, self.admitted, self.line = ex, admitted, line
        self.timer: Any = None

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        try:
            self.line.waiting.remove(self)
        except ValueError:  # (its turn came, or it timed out, already)
            pass


class Line:
    """One key's count in flight and its queue: the plan's Queue for the requests that wait."""

    __slots__ = ("limit", "in_flight", "waiting", "release")

    def __init__(self, limit: ConcurrencyLimit):
        self.limit = limit
        self.in_flight = 0
        self.waiting: deque[Waiting] = deque()
        self.release = self.leave  # (one bound method, not one per request)

    def busy(self) -> bool:
        return bool(self.in_flight or self.waiting)

    def enter(self, ex: Any) -> None:
        self.in_flight += 1
        ex.on_leave(self.release)

    def leave(self) -> None:
        self.in_flight -= 1
        if self.waiting:  # the place goes to the first in line
            turn = self.waiting.popleft()
            if turn.timer is not None:
                turn.timer.cancel()
                turn.timer = None
            self.enter(turn.ex)
            turn.timer = turn.ex.down.loop.call_soon(self._let_in, turn)

    @staticmethod
    def _let_in(turn: Waiting) -> None:
        turn.timer = None
        turn.admitted(turn.ex)

    def wait(self, ex: Any, admitted: Callable[[Any], None]) -> Waiting:
        turn = Waiting(ex, admitted, self)
        self.waiting.append(turn)
        turn.timer = ex.down.loop.call_later(self.limit.queue_timeout, self._timed_out, turn)
        return turn

    def _timed_out(self, turn: Waiting) -> None:
        turn.timer = None
        turn.cancel()
        plan = turn.ex.plan
        self.limit.refuse(plan, self, waited=True)
        turn.admitted(turn.ex)


class ConcurrencyLimit(Limit):
    type = "concurrency_limit"
    __slots__ = ("max", "queue", "queue_timeout", "read_key", "keyed", "status", "grpc_status", "body",
                 "needs_session")

    def __init__(self, spec, fault_id, source, state):
        super().__init__(spec, fault_id, source, state)
        self.max, self.queue, self.queue_timeout = spec.max, spec.queue, spec.queue_timeout_ms / 1000
        self.read_key = key_reader(spec.key)
        self.needs_session = spec.key == "session"
        self.status, self.body = refusal(spec.status, spec.body, spec.name or fault_id,
                                         f"concurrency limit of {spec.max} in flight reached")
        self.grpc_status = spec.grpc_status
        self.keyed = kept(self, state, lambda: Line(self), spec.key)

    def admit(self, ex: Any, session: str) -> Line | None:
        """None for a request let in at once (it holds its place until its exchange ends), else
        its key's line, where `rule` queues or refuses it."""
        keyed, read_key = self.keyed, self.read_key
        value = read_key(ex, session) if read_key is not None else ""
        line: Line | None = keyed.by_value.get(value)
        if line is None:
            line = keyed.get(value)
        line.limit = self  # (a reload with the same definition: the newest compiled fault answers)
        if line.in_flight < self.max and not line.waiting:
            line.in_flight += 1
            if ex.leave is None:  # (on_leave, spelt out: this is every request's path)
                ex.leave = line.release
            else:
                ex.on_leave(line.release)
            return None
        return line

    def rule(self, plan: Plan, line: Line, ex: Any) -> bool | None:
        if len(line.waiting) < self.queue:
            plan.queue = line
            plan.show(self, {"max": self.max, "inFlight": line.in_flight, "queued": len(line.waiting) + 1})
            return None
        self.refuse(plan, line, waited=False)
        return None

    def refuse(self, plan: Plan, line: Line, waited: bool) -> None:
        plan.show(self, {"max": self.max, "inFlight": line.in_flight, "queued": len(line.waiting),
                         "refused": "queue timeout" if waited else ("queue full" if self.queue else "no place")})
        plan.turn_away(self)

    def answer(self, ex: Any, flow: Flow) -> None:
        flow.deliver(ex, Response.text(self.status, self.body))


register(ConcurrencyLimitFault, ConcurrencyLimit)
