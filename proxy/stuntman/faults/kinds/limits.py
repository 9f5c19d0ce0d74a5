"""What the kinds that act across requests share (rate_limit, concurrency_limit, load_latency):
the key their state is kept by, the fields of the answer they turn a request away with, and the
place that state lives across reloads.

State is kept in the server's FaultState under the fault's key (its id and definition), so a
reload that leaves a limit unchanged keeps its counts, an edit starts afresh, and
`POST /__admin/faults/reset` clears it for every session (`FaultState.reset(session)` drops one
session's counts of a limit keyed by session; the admin API does not ask for that yet). It is in
process: one stuntman, one set of counts.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from ..plan import Plan
from .base import Fault, FaultState

KEY_PATTERN = r"^(global|session|client|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+)$"


def _key(value: str) -> str:
    if not re.match(KEY_PATTERN, value):
        raise ValueError("key is global, session, client or header:NAME (e.g. header:X-Api-Key)")
    return value


LimitKey = Annotated[str, AfterValidator(_key), Field(
    description="what the limit counts by: global (one count), session (the session header's value: "
                "parallel tests stay apart), client (the client's address) or header:NAME (e.g. an API key; "
                "requests without it share one count)",
    json_schema_extra={"pattern": KEY_PATTERN})]


def key_reader(key: str) -> Callable[[Any, str], str] | None:
    """(ex, session) → the value this limit counts by; None for global (one count: "")."""
    if key == "global":
        return None
    if key == "session":
        return lambda ex, session: session
    if key == "client":
        return lambda ex, session: ex.client
    name = key.partition(":")[2].lower()
    return lambda ex, session: ex.headers.get(name) or ""


# Key values a limit keeps state for. A client chooses them (a header, a session), so without a
# bound one that sends a new X-Api-Key each time grows the sidecar's memory for ever. Past it, the
# oldest values whose state holds nothing in flight are forgotten (they start afresh if they come
# back); state with requests in flight or in line is never dropped.
MAX_KEY_VALUES = 10_000


class Keyed:
    """A limit's state for each value of its key: made on first use by `make`, dropped by reset,
    or forgotten past MAX_KEY_VALUES when idle (a state with a `busy()` saying True is kept)."""

    __slots__ = ("by_value", "make", "per_session")

    def __init__(self, make: Callable[[], Any], per_session: bool):
        self.by_value: dict[str, Any] = {}
        self.make = make
        self.per_session = per_session  # keyed by session: a session's reset drops only its own

    def get(self, value: str) -> Any:
        by_value = self.by_value
        state = by_value.get(value)
        if state is None:
            if len(by_value) >= MAX_KEY_VALUES:
                self._forget(len(by_value) - MAX_KEY_VALUES * 9 // 10)
            state = by_value[value] = self.make()
        return state

    def _forget(self, count: int) -> None:
        """The `count` oldest idle values (a tenth of the bound at a time: amortized)."""
        idle = [value for value, state in self.by_value.items() if not getattr(state, "busy", bool)()]
        for value in idle[:count]:
            del self.by_value[value]

    def of(self, read_key: Callable[[Any, str], str] | None, ex: Any, session: str) -> Any:
        """The state of the request's key value (the hot path: no call for a global key once made)."""
        value = read_key(ex, session) if read_key is not None else ""
        state = self.by_value.get(value)
        return state if state is not None else self.get(value)

    def reset(self, session: str | None) -> None:
        if session is None or not self.per_session:
            if session is None:
                self.by_value.clear()
        else:
            self.by_value.pop(session, None)


def kept(fault: Fault, state: FaultState, make: Callable[[], Any], key: str = "global") -> Keyed:
    """The state `fault` keeps across requests (and reloads that leave it unchanged)."""
    keyed = state.kept.get(fault.key)
    if keyed is None:
        keyed = state.kept[fault.key] = Keyed(make, key == "session")
    return keyed


class Limit(Fault):
    """A kind that lets most requests through untouched (rate_limit, concurrency_limit): `decide`
    asks `admit`, which answers None for those, quickly and without a plan; any other answer is a
    ruling that `rule` carries into the request's plan (a refusal, a place in line, headers)."""

    admits = True
    uses_rng = False
    __slots__ = ()

    def apply(self, plan: Plan, rng: Any, ex: Any, session: str) -> bool | None:
        """Both steps at once (a limit nested in another fault, such as flap's)."""
        ruling = self.admit(ex, session)
        return False if ruling is None else self.rule(plan, ruling, ex)


def refusal(status: int, body: str | None, label: str, default: str) -> tuple[int, str]:
    """The status and body a limit turns a request away with (default body: a line saying why)."""
    return status, body if body is not None else f"stuntman: {default} (fault {label})\n"
