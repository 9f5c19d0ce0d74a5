"""flap: the route alternates between up (healthy: the request is let be) and down (failing: the
nested `fault`, any other kind, applies), on a schedule a test can predict: what a circuit
breaker's open → half-open → closed transitions are tested against.

Phases last `up_s` and `down_s`, or, with `random: true`, periods drawn from exponential
distributions with those means, from the fault's seed (a rerun with the same seed gets the same
schedule). The schedule starts when the fault is first loaded (as a `window` does: a reload that
leaves the fault unchanged keeps it, an edit starts afresh) with the `start` phase, up by default.

In a down phase the nested fault's own selection (probability, first_n, when_header...) decides
whether it fires, counting only the requests of down phases, then its effect applies. A request
the flap lets be (an up phase, or the nested fault did not fire) is not among the faults that
fired. The journal shows `{"phase": "down", "phaseEndsInS": s}`, and the nested fault's own state
under `fault` when it keeps one.
"""
from __future__ import annotations

import math
import random
from time import monotonic
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, field_validator
from pydantic_core import PydanticCustomError

from ...config.base import FaultBase
from ..plan import Plan
from .base import KINDS, Fault, compile_fault, register
from .limits import kept

if TYPE_CHECKING:  # the union of every kind: built once they are all registered (kinds/__init__.py)
    FaultSpec = FaultBase


def _other_kinds(schema: dict[str, Any]) -> None:
    """The schema of `fault`: the union of every kind but flap."""
    mapping = schema.get("discriminator", {}).get("mapping", {})
    flap = mapping.pop("flap", None)
    if flap is not None:
        schema["oneOf"] = [kind for kind in schema["oneOf"] if kind.get("$ref") != flap]


NESTED_FLAP = "a flap's fault is the failing behaviour, one of the other kinds: a flap cannot hold a flap"


class FlapFault(FaultBase):
    """Alternately up (requests let be) and down (`fault` applies), for up_s and down_s at a time."""

    type: Literal["flap"]
    up_s: float = Field(gt=0, le=86_400, description="how long each healthy phase lasts (with random: the mean)")
    down_s: float = Field(gt=0, le=86_400, description="how long each failing phase lasts (with random: the mean)")
    random: bool = Field(False, description="periods drawn from exponential distributions with means up_s and "
                                            "down_s, from the fault's seed (the same seed, the same schedule)")
    start: Literal["up", "down"] = Field("up", description="the phase the schedule starts with, when the fault is "
                                                           "first loaded")
    fault: FaultSpec = Field(description="what a down phase does: any other kind, with its own selection options "
                                         "(no route or request: it applies where the flap does)",
                             json_schema_extra=_other_kinds)

    @field_validator("fault", mode="wrap")
    @classmethod
    def _other_kind(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> FaultBase:
        if (isinstance(value, dict) and value.get("type") == "flap") or isinstance(value, FlapFault):
            raise ValueError(NESTED_FLAP)
        try:
            fault = handler(value)
        except ValidationError as exc:
            # without the union's tag in the path (fault.error.status → fault.status): the field as written
            raise ValidationError.from_exception_data(exc.title, [_untagged(e) for e in exc.errors()]) from None
        if fault.route is not None or fault.request is not None:
            raise ValueError("a flap's fault applies where the flap does: drop its `route`/`request`")
        return fault


def _untagged(error: Any) -> Any:
    loc = error["loc"]
    if loc and loc[0] in KINDS:
        loc = loc[1:]
    # every error kept as it was (type, message and context), under its path as written in the file
    return {"type": PydanticCustomError(error["type"], error["msg"], error.get("ctx")),
            "loc": loc, "input": error["input"]}


class Schedule:
    """The phases from the first load on: which one `now` is in, and when it ends. Moves forward
    only; deterministic given the start, the periods and the seed, so a fault compiled afresh by a
    reload (or after a reset dropped this) finds the same phases."""

    __slots__ = ("down", "ends", "up_s", "down_s", "rng")

    def __init__(self, begins: float, down: bool, up_s: float, down_s: float, seed: int | None):
        self.up_s, self.down_s = up_s, down_s
        self.rng = random.Random(seed) if seed is not None else None
        self.down = down
        self.ends = begins + self._length(down)

    def _length(self, down: bool) -> float:
        mean = self.down_s if down else self.up_s
        return mean if self.rng is None else self.rng.expovariate(1 / mean)

    def at(self, now: float) -> tuple[bool, float]:
        """(down?, when the phase ends) at monotonic time `now`."""
        if now >= self.ends and self.rng is None:  # fixed periods: whole cycles at once
            cycle = self.up_s + self.down_s
            self.ends += math.floor((now - self.ends) / cycle) * cycle
        while now >= self.ends:
            self.down = not self.down
            self.ends += self._length(self.down)
        return self.down, self.ends


class Flap(Fault):
    type = "flap"
    needs_session = True  # the nested fault's selection counts by session
    __slots__ = ("fault", "counters", "keyed")

    def __init__(self, spec, fault_id, source, state):
        super().__init__(spec, fault_id, source, state)
        self.fault = compile_fault(spec.fault, f"{fault_id}/fault", source, state)
        self.counters = state.counters
        begins = state.first_seen.setdefault(self.key, monotonic())  # (a window's start: kept across reloads)
        seed = self.seed if spec.random else None
        self.keyed = kept(self, state, lambda: Schedule(begins, spec.start == "down", spec.up_s, spec.down_s, seed))

    def apply(self, plan: Plan, rng: random.Random, ex: Any, session: str) -> bool | None:
        now = monotonic()
        down, ends = self.keyed.of(None, ex, session).at(now)
        if not down:
            return False
        fault = self.fault
        counter = fault.fires(ex, self.counters, session)
        if counter is None or fault.apply(plan, counter.rng, ex, session) is False:
            return False
        state: dict[str, Any] = {"phase": "down", "phaseEndsInS": round(ends - now, 3)}
        nested = (plan.states or {}).get(fault.id)
        if nested is not None:
            state["fault"] = nested
        plan.show(self, state)
        return None


register(FlapFault, Flap)
