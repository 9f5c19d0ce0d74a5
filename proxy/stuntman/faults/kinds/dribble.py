"""dribble: send the response body in `chunks` pieces (default 10) spread evenly over
`duration_ms`. The whole body is needed first (a proxied one is buffered). The last to fire wins."""
from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import Field

from ...config.base import DAY_MS, FaultBase
from ..plan import Plan
from .base import Fault, register


class DribbleFault(FaultBase):
    """Send the body in `chunks` pieces spread evenly over duration_ms."""

    type: Literal["dribble"]
    chunks: int = Field(10, ge=1)
    duration_ms: int = Field(ge=0, le=DAY_MS)


class Dribble(Fault):
    type = "dribble"
    __slots__ = ("chunks", "seconds")

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.chunks, self.seconds = spec.chunks, spec.duration_ms / 1000

    def apply(self, plan: Plan, rng: random.Random, ex: Any, session: str) -> None:
        plan.dribble = (self.chunks, self.seconds)


register(DribbleFault, Dribble)
