"""The fault kinds: one small class each, chosen by `type`, compiled once into the route table.

A fault does two things. `fires(ex)` decides whether it applies to this request (the selection
options every kind shares: enabled, window, when_header, first_n/after_n/every_nth, probability),
from a generator seeded per fault and per session, so a rerun with the same seed and the same
request order makes the same decisions. `apply(plan, rng)` then records its effect in the
request's Plan; the listener and the upstream call carry the plan out.

To add a kind: a model in config/model.py, a class here, registered in KINDS.
"""
from __future__ import annotations

import math
import random
import zlib
from time import monotonic, time

from ..config.model import DAY_MS
from ..match.matchers import compile_matcher
from .plan import Plan

_SELECTION = {"id", "name", "enabled", "probability", "seed", "first_n", "after_n", "every_nth",
              "when_header", "window", "header", "route", "request", "type"}


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

    def reset(self, session: str | None = None) -> None:
        if session is None:
            self.counters.clear()
        else:
            for slot in [s for s in self.counters if s[0] == session]:
                del self.counters[slot]


class Fault:
    type = ""
    __slots__ = ("id", "name", "spec", "key", "enabled", "probability", "seed", "first_n", "after_n",
                 "every_nth", "when_header", "starts", "ends", "not_before", "not_after", "header",
                 "source", "unconditional")

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

    def apply(self, plan: Plan, rng: random.Random) -> None:
        raise NotImplementedError


class Latency(Fault):
    type = "latency"
    __slots__ = ("stage", "sample", "cap")

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.stage = spec.stage
        self.cap = spec.max_ms if spec.max_ms is not None else DAY_MS
        if spec.fixed_ms is not None:
            ms = spec.fixed_ms
            self.sample = lambda rng: ms
        elif spec.uniform is not None:
            lo, hi = spec.uniform.min_ms, spec.uniform.max_ms
            self.sample = lambda rng: rng.uniform(lo, hi)
        elif spec.normal is not None:
            mean, sd = spec.normal.mean_ms, spec.normal.stddev_ms
            self.sample = lambda rng: max(0.0, rng.gauss(mean, sd))
        else:
            mu, sigma = math.log(spec.lognormal.median_ms), spec.lognormal.sigma
            self.sample = lambda rng: rng.lognormvariate(mu, sigma)

    def apply(self, plan: Plan, rng: random.Random) -> None:
        ms = min(self.sample(rng), self.cap)  # a lognormal tail can be astronomically long
        if self.stage == "request":
            plan.delay_request += ms / 1000
        else:
            plan.delay_response += ms / 1000


class _Answer(Fault):
    """Kinds that replace the response: the first of them to fire in a plan decides."""

    __slots__ = ()

    def apply(self, plan: Plan, rng: random.Random) -> None:
        if plan.answer is None:
            plan.answer = self


class Error(_Answer):
    type = "error"
    __slots__ = ("status", "headers", "body")

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.status = spec.status
        self.headers = list(spec.headers.items())
        label = spec.name or "error"
        self.body = (spec.body if spec.body is not None else f"stuntman: injected fault {label}\n")


class Reset(_Answer):
    type = "reset"
    __slots__ = ()


class Close(_Answer):
    type = "close"
    __slots__ = ()


class Hang(_Answer):
    type = "hang"
    __slots__ = ("seconds",)

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.seconds = spec.for_ms / 1000 if spec.for_ms else None


class Bandwidth(Fault):
    type = "bandwidth"
    __slots__ = ("rate",)

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.rate = spec.bytes_per_s

    def apply(self, plan: Plan, rng: random.Random) -> None:
        plan.rate = self.rate if plan.rate is None else min(plan.rate, self.rate)


class Dribble(Fault):
    type = "dribble"
    __slots__ = ("chunks", "seconds")

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.chunks, self.seconds = spec.chunks, spec.duration_ms / 1000

    def apply(self, plan: Plan, rng: random.Random) -> None:
        plan.dribble = (self.chunks, self.seconds)


class Truncate(Fault):
    type = "truncate"
    __slots__ = ("after",)

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.after = spec.after_bytes

    def apply(self, plan: Plan, rng: random.Random) -> None:
        plan.truncate = self.after if plan.truncate is None else min(plan.truncate, self.after)


class Corrupt(Fault):
    type = "corrupt"
    __slots__ = ("mode",)

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.mode = spec.mode

    def apply(self, plan: Plan, rng: random.Random) -> None:
        plan.corrupt = (self.mode, random.Random(rng.random()))


class UpstreamTimeout(Fault):
    type = "upstream_timeout"
    __slots__ = ("seconds",)

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.seconds = spec.after_ms / 1000

    def apply(self, plan: Plan, rng: random.Random) -> None:
        if plan.upstream_timeout is None or self.seconds < plan.upstream_timeout:
            plan.upstream_timeout = self.seconds


KINDS = {k.type: k for k in (Latency, Error, Reset, Close, Hang, Bandwidth, Dribble, Truncate, Corrupt,
                              UpstreamTimeout)}


def compile_fault(spec, fault_id: str, source: str, state: FaultState) -> Fault:
    return KINDS[spec.type](spec, fault_id, source, state)
