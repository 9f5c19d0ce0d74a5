"""What every fault kind shares, and the registry of kinds.

A kind is one file in this package (after Toxiproxy's toxics/*.go): its model (a `FaultBase`
subclass with `type: Literal["<kind>"]` and its parameters: validation, the admin API, the JSON
Schema), its runtime class (a `Fault` subclass, compiled once into the route table) and a
`register(Model, Class)` call. The package imports every kind file, so importing it fills
`KINDS`, in the order FAULT_TYPES, the `FaultSpec` union and error messages list them.

A fault does two things. `fires(ex)` decides whether it applies to this request (the selection
options every kind shares: enabled, window, when_header, first_n/after_n/every_nth, probability),
from a generator seeded per fault and per session, so a rerun with the same seed and the same
request order makes the same decisions. `apply(plan, rng)` then records its effect in the
request's Plan; the listener and the upstream call carry the plan out.

To add a kind: a file here with its model, its class and `register(...)`, imported (in its place
in the order) by `__init__.py`.
"""
from __future__ import annotations

import builtins
import random
import zlib
from dataclasses import dataclass
from time import monotonic, time
from typing import Any, Literal, Protocol, get_args, get_origin

from ...config.base import FaultBase
from ...match.matchers import compile_matcher
from ..plan import Plan

# the options every kind shares (when it fires, what it applies to): not what it does
_SELECTION = frozenset(FaultBase.model_fields) | {"type"}


class Counter:
    """Per (session, fault) progress: requests seen, and the generator of its decisions."""

    __slots__ = ("seen", "rng")

    def __init__(self, seed: int):
        self.seen = 0
        self.rng = random.Random(seed)


_ASKED = Counter(0)


class FaultState:
    """A server's fault state, kept across reloads: the run's seed, the counters of each
    (session, fault), and when each fault was first loaded (for windows)."""

    def __init__(self, seed: int):
        self.seed = seed
        self.counters: dict[tuple[str, str], Counter] = {}
        self.first_seen: dict[str, float] = {}
        self.kept: dict[str, Any] = {}  # fault key → what a limit keeps across requests (limits.Keyed)

    def reset(self, session: str | None = None) -> None:
        if session is None:
            self.counters.clear()
        else:
            for slot in [s for s in self.counters if s[0] == session]:
                del self.counters[slot]
        for keyed in self.kept.values():
            keyed.reset(session)


class Fault:
    """A compiled fault: the selection every kind shares (`fires`); each kind's `apply`."""

    type = ""
    uses_rng = True       # its apply draws from the request's seeded generator (False: a limit's counting)
    needs_session = False  # its apply reads the session (a limit keyed by session)
    admits = False        # a limit (limits.Limit): `admit`, then `rule` only for the requests it holds back
    only_delays = False   # all it does is delay: nothing, when a limit turns the request away at once
    grpc_only = False     # it acts on gRPC calls alone (abort_stream): refused at load where none can come
    __slots__ = ("id", "name", "spec", "key", "enabled", "probability", "seed", "first_n", "after_n",
                 "every_nth", "when_header", "starts", "ends", "not_before", "not_after", "header",
                 "source", "unconditional", "quick")

    def __init__(self, spec, fault_id: str, source: str, state: FaultState):
        self.id = fault_id
        self.name = spec.name
        self.spec = spec
        self.source = source
        # state (counters, generators) belongs to this id and definition: an edit starts afresh
        self.key = f"{fault_id}:{zlib.crc32(spec.model_dump_json().encode())}"
        self.unconditional = False  # asked for by the request's own headers
        self.enabled = spec.enabled
        self.probability = spec.probability
        self.seed = spec.seed if spec.seed is not None else zlib.crc32(f"{state.seed}:{fault_id}".encode())
        self.first_n, self.after_n, self.every_nth = spec.first_n, spec.after_n, spec.every_nth
        self.when_header = [(k.lower(), compile_matcher(m)) for k, m in (spec.when_header or {}).items()]
        window = spec.window
        self.starts = self.ends = self.not_before = self.not_after = None
        if window is not None:
            activated = state.first_seen.setdefault(self.key, monotonic())  # windows survive reloads
            self.starts = activated + window.after_ms / 1000
            self.ends = self.starts + window.for_ms / 1000 if window.for_ms else None
            self.not_before = window.from_.timestamp() if window.from_ else None
            self.not_after = window.until.timestamp() if window.until else None
        self.header = spec.header
        self.quick = False  # set by `compile_fault`, once the kind's own __init__ has run

    def fires(self, ex, counters: dict, session: str) -> Counter | None:
        """The request's counter if this fault fires on it, else None."""
        if self.unconditional:
            return _ASKED
        if not self.enabled:
            return None
        for name, matcher in self.when_header:
            if not matcher.test(ex.headers.get(name)):
                return None
        if self.starts is not None and not self._in_window():
            return None
        slot = (session, self.key)
        counter = counters.get(slot)
        if counter is None:
            counter = counters[slot] = Counter(self.seed)
        counter.seen += 1
        n = counter.seen
        if self.first_n is not None and n > self.first_n:
            return None
        if self.after_n is not None and n <= self.after_n:
            return None
        if self.every_nth is not None and n % self.every_nth:
            return None
        if self.probability < 1.0 and counter.rng.random() >= self.probability:
            return None
        return counter

    def _in_window(self) -> bool:
        now = monotonic()
        assert self.starts is not None  # (asked only of faults with a window)
        if now < self.starts or (self.ends is not None and now >= self.ends):
            return False
        if self.not_before is not None or self.not_after is not None:
            wall = time()
            if (self.not_before is not None and wall < self.not_before) or \
                    (self.not_after is not None and wall >= self.not_after):
                return False
        return True

    def params(self) -> dict:
        """What this fault does (not when): for the journal."""
        return self.spec.model_dump(exclude=_SELECTION, exclude_none=True)

    def apply(self, plan: Plan, rng: random.Random, ex: Any, session: str) -> bool | None:
        """Record this fault's effect on the request in the plan; False if it let the request be
        (a limit not reached: it is then not among the faults that fired)."""
        raise NotImplementedError

    def admit(self, ex: Any, session: str) -> Any:
        """(A limit, `admits`) None to let the request go on untouched, else a ruling for `rule`."""
        raise NotImplementedError

    def rule(self, plan: Plan, ruling: Any, ex: Any) -> bool | None:
        """(A limit) carry a ruling into the plan; False if the request goes on after all."""
        raise NotImplementedError


class Flow(Protocol):
    """What an answer needs of the pipeline to carry itself out, whatever the protocol."""

    def deliver(self, ex: Any, response: Any) -> None: ...

    def cut(self, ex: Any, reset: bool = False) -> None: ...


class Answer(Fault):
    """Kinds that replace the response: the first of them to fire in a plan decides, and
    `answer` carries it out (once the request is read and the plan's delays are over)."""

    __slots__ = ()

    def apply(self, plan: Plan, rng: random.Random, ex: Any, session: str) -> None:
        if plan.answer is None:
            plan.answer = self

    def answer(self, ex: Any, flow: Flow) -> None:
        raise NotImplementedError


# -- the registry ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """A fault kind: its `type`, its model (a FaultBase subclass) and its runtime class."""

    type: str
    spec: builtins.type[FaultBase]
    fault: builtins.type[Fault]


KINDS: dict[str, Kind] = {}  # by type, in registration order


def register(spec: type[FaultBase], fault: type[Fault]) -> Kind:
    """Add a kind: its model's `type: Literal[...]` and its class's `type` must name it alike."""
    annotation = spec.model_fields["type"].annotation
    names = get_args(annotation) if get_origin(annotation) is Literal else ()
    if names != (fault.type,):
        raise TypeError(f"{spec.__name__}.type must be Literal[{fault.type!r}] to match {fault.__name__}")
    if fault.type in KINDS:
        raise ValueError(f"fault kind {fault.type!r} is registered twice")
    KINDS[fault.type] = kind = Kind(fault.type, spec, fault)
    return kind


def compile_fault(spec: FaultBase, fault_id: str, source: str, state: FaultState) -> Fault:
    fault = KINDS[spec.type].fault(spec, fault_id, source, state)
    # quick: nothing to select and no generator or session to draw on, so `decide` calls apply
    # straight away without looking the request's session up (a limit that is not limiting)
    fault.quick = (fault.enabled and not fault.when_header and fault.starts is None and fault.probability >= 1.0
                   and fault.first_n is None and fault.after_n is None and fault.every_nth is None
                   and not fault.uses_rng and not fault.needs_session)
    return fault
