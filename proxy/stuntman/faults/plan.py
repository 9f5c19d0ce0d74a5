"""What the faults that fired on one request will do to it: built by `decide`, carried out by
the pipeline and `faults.enact` (delays, answers, the shape and pace of the body) and the upstream
call (timeouts), whatever the protocol."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Queue(Protocol):
    """Where a request waits for admission (a concurrency limit): `wait` calls `admitted` once the
    request may go on (its plan's answer set if it was turned away) and returns what cancels the
    wait when the client leaves first."""

    def wait(self, ex: Any, admitted: Callable[[Any], None]) -> Any: ...


class Plan:
    # Defaults as class attributes: a plan is made per request a fault applies to, and most
    # fields stay at their default (a fault sets one or two), so __init__ sets only the lists.
    delay_request = 0.0                     # seconds before the request goes upstream (or is answered)
    delay_response = 0.0                    # seconds before the response starts
    answer: Any = None                      # an Error, Reset, Close or Hang fault: replaces the response
    upstream_timeout: float | None = None
    rate: int | None = None                 # bytes/s
    dribble: tuple[int, float] | None = None  # (chunks, seconds)
    truncate: int | None = None             # body bytes sent before the close
    corrupt: Any = None                     # (mode, random.Random)
    queue: Queue | None = None              # admission to wait for before anything else happens
    states: dict[str, dict] | None = None   # fault id → its state when it fired, for the journal
    at_once = False                         # a limit turned the request away: no fault's delay applies
    message_delay: Callable[[], float] | None = None  # ms before each response message after the first
    abort: Any = None                       # an AbortStream fault: ends a gRPC stream after some messages

    def __init__(self) -> None:
        self.fired: list[Any] = []          # the Faults that acted, in the order they fired
        self.headers: list[tuple[bytes, bytes]] = []  # X-Stuntman-Fault, RateLimit-*, ...

    @property
    def delay(self) -> float:
        return 0.0 if self.at_once else self.delay_request + self.delay_response

    def add_delay(self, stage: str, ms: float) -> None:
        """A delay before the response starts (stage "response", and "message": the first
        message's) or before the request goes upstream or is answered ("request")."""
        if stage == "request":
            self.delay_request += ms / 1000
        else:
            self.delay_response += ms / 1000

    def pace_messages(self, sample: Callable[[], float]) -> None:
        """Another delay (ms, drawn per message) before each response message after the first."""
        before = self.message_delay
        self.message_delay = sample if before is None else (lambda: before() + sample())

    def turn_away(self, limit: Any) -> None:
        """A limit refuses the request: its answer, unless an answer decided already, and at once (the
        request is refused, not served: the delays of the faults beside the limit do not apply)."""
        if self.answer is None:
            self.answer = limit
            self.at_once = True

    @property
    def reshapes_body(self) -> bool:
        """The whole body is needed first (a proxied one is buffered): dribble, truncate, corrupt."""
        return self.dribble is not None or self.truncate is not None or self.corrupt is not None

    def show(self, fault: Any, state: dict) -> None:
        """What a fault's state was when it fired on this request (tokens left, in flight, phase)."""
        if self.states is None:
            self.states = {}
        self.states[fault.id] = state

    def describe(self) -> list[dict]:
        """For the journal: which faults fired, with their parameters (and state, where they keep one)."""
        states = self.states or {}
        out = []
        for f in self.fired:
            entry = {"id": f.id, "name": f.name, "type": f.type, "params": f.params()}
            if f.id in states:
                entry["state"] = states[f.id]
            out.append(entry)
        return out


def decide(faults, ex, counters: dict, session_of: Callable[[Any], str]) -> Plan | None:
    """Run each fault's selection in order; a Plan if any fired, else None. A limit (`admits`)
    lets most requests through without a plan (a place it holds is on the exchange: on_leave);
    only its ruling on the others (refused, queued, RateLimit-* fields) goes into one. A plan with
    nothing fired is kept only for what it carries (headers, a queue).

    The request's session is looked up once, and only for a fault whose selection or kind needs it:
    a `quick` fault (no selection options, no generator, not keyed by session) skips selection,
    which is what keeps a limit that is not limiting cheap."""
    plan = None
    session = None
    for fault in faults:
        if fault.quick:
            rng = None
        else:
            if session is None:
                session = session_of(ex)
            counter = fault.fires(ex, counters, session)
            if counter is None:
                continue
            rng = counter.rng
        if fault.admits:  # a limit: most requests go on untouched, and need no plan at all
            ruling = fault.admit(ex, session)
            if ruling is None:
                continue
            if plan is None:
                plan = Plan()
            if fault.rule(plan, ruling, ex) is not False:
                plan.fired.append(fault)
            continue
        if plan is None:
            plan = Plan()
        if fault.apply(plan, rng, ex, session) is not False:  # False: it let the request be
            plan.fired.append(fault)
    if plan is not None:
        if not plan.fired:  # only limits that let the request be: keep the plan if it holds something
            return plan if plan.headers or plan.queue else None
        if plan.at_once:  # turned away by a limit: a delay beside it did nothing (header, journal, metrics)
            plan.fired = [f for f in plan.fired if not f.only_delays]
        shown = [f.type for f in plan.fired if f.header]
        if shown:
            plan.headers.insert(0, (b"x-stuntman-fault", ", ".join(dict.fromkeys(shown)).encode()))
    return plan
