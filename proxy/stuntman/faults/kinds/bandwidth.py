"""bandwidth: throttle the response body to `bytes_per_s`; a proxied body still streams. When
several fire, the lowest rate wins."""
from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import Field

from ...config.base import FaultBase
from ..plan import Plan
from .base import Fault, register


class BandwidthFault(FaultBase):
    """Throttle the response to bytes_per_s (a proxied body still streams)."""

    type: Literal["bandwidth"]
    bytes_per_s: int = Field(gt=0)


class Bandwidth(Fault):
    type = "bandwidth"
    __slots__ = ("rate",)

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.rate = spec.bytes_per_s

    def apply(self, plan: Plan, rng: random.Random, ex: Any, session: str) -> None:
        plan.rate = self.rate if plan.rate is None else min(plan.rate, self.rate)


register(BandwidthFault, Bandwidth)
