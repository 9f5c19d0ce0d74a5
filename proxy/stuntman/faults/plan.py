"""What the faults that fired on one request will do to it: built by `decide`, carried out by
the pipeline and `faults.enact` (delays, answers, the shape and pace of the body) and the upstream
call (timeouts), whatever the protocol."""
from __future__ import annotations

from typing import Any


class Plan:
    __slots__ = ("fired", "delay_request", "delay_response", "answer", "upstream_timeout", "rate",
                 "dribble", "truncate", "corrupt", "headers")

    def __init__(self) -> None:
        self.fired: list[Any] = []          # the Faults, in the order they fired
        self.delay_request = 0.0            # seconds before the request goes upstream (or is answered)
        self.delay_response = 0.0           # seconds before the response starts
        self.answer: Any = None             # an Error, Reset, Close or Hang fault: replaces the response
        self.upstream_timeout: float | None = None
        self.rate: int | None = None        # bytes/s
        self.dribble: tuple[int, float] | None = None  # (chunks, seconds)
        self.truncate: int | None = None    # body bytes sent before the close
        self.corrupt: Any = None            # (mode, random.Random)
        self.headers: list[tuple[bytes, bytes]] = []  # X-Stuntman-Fault, if any fault shows itself

    @property
    def delay(self) -> float:
        return self.delay_request + self.delay_response

    @property
    def reshapes_body(self) -> bool:
        """The whole body is needed first (a proxied one is buffered): dribble, truncate, corrupt."""
        return self.dribble is not None or self.truncate is not None or self.corrupt is not None

    def describe(self) -> list[dict]:
        """For the journal: which faults fired, with their parameters."""
        return [{"id": f.id, "name": f.name, "type": f.type, "params": f.params()} for f in self.fired]


def decide(faults, ex, counters: dict, session: str) -> Plan | None:
    """Run each fault's selection in order; a Plan if any fired, else None."""
    plan = None
    for fault in faults:
        counter = fault.fires(ex, counters, session)
        if counter is None:
            continue
        if plan is None:
            plan = Plan()
        plan.fired.append(fault)
        fault.apply(plan, counter.rng)
    if plan is not None:
        shown = [f.type for f in plan.fired if f.header]
        if shown:
            plan.headers = [(b"x-stuntman-fault", ", ".join(dict.fromkeys(shown)).encode())]
    return plan
