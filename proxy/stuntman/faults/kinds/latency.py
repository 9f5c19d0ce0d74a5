"""latency: delay before the response starts (stage `response`, the default), before the
request goes upstream or is answered (stage `request`), or before each response message (stage
`message`: every message of a gRPC stream, each delay drawn anew; an HTTP response is one
message, delayed as stage `response` delays it).

The delay is one of `fixed_ms`, `uniform` {min_ms, max_ms}, `normal` {mean_ms, stddev_ms}
(samples below 0 count as 0) or `lognormal` {median_ms, sigma}, sampled from the fault's seeded
generator and capped at `max_ms` (default: a day). Delays of every latency fault that fires add up.
"""
from __future__ import annotations

import math
import random
from typing import Any, Literal

from pydantic import Field, model_validator

from ...config.base import DAY_MS, FaultBase, Model, exactly_one
from ..plan import Plan
from .base import Fault, register


class UniformSpec(Model):
    min_ms: float = Field(ge=0, le=DAY_MS)
    max_ms: float = Field(ge=0, le=DAY_MS)

    @model_validator(mode="after")
    def _ordered(self) -> UniformSpec:
        if self.max_ms < self.min_ms:
            raise ValueError("max_ms is below min_ms")
        return self


class NormalSpec(Model):
    mean_ms: float = Field(ge=0, le=DAY_MS)
    stddev_ms: float = Field(ge=0, le=DAY_MS)


class LognormalSpec(Model):
    median_ms: float = Field(gt=0, le=DAY_MS)
    sigma: float = Field(ge=0, le=10)


class LatencyFault(FaultBase):
    """Delay before the response starts (stage response), or before the request goes upstream."""

    type: Literal["latency"]
    stage: Literal["response", "request", "message"] = Field(
        "response", description="response: before the response starts; request: before it goes upstream or is "
                                "answered; message: before each response message (a gRPC stream's every one)")
    fixed_ms: float | None = Field(None, ge=0, le=DAY_MS)
    uniform: UniformSpec | None = None
    normal: NormalSpec | None = Field(None, description="samples below 0 count as 0")
    lognormal: LognormalSpec | None = None
    max_ms: float | None = Field(None, ge=0, le=DAY_MS, description="cap on a sampled delay (default: a day)")

    @model_validator(mode="after")
    def _one_distribution(self) -> LatencyFault:
        exactly_one(self, ("fixed_ms", "uniform", "normal", "lognormal"), "a latency fault")
        return self


class Latency(Fault):
    type = "latency"
    only_delays = True
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

    def apply(self, plan: Plan, rng: random.Random, ex: Any, session: str) -> None:
        ms = min(self.sample(rng), self.cap)  # a lognormal tail can be astronomically long
        plan.show(self, {"delayMs": round(ms, 3)})  # what was drawn (the first message's), for the journal
        if self.stage == "message":  # the first message's delay is the response's; each later one drawn anew
            sample, cap = self.sample, self.cap
            plan.pace_messages(lambda: min(sample(rng), cap))
        plan.add_delay(self.stage, ms)


register(LatencyFault, Latency)
