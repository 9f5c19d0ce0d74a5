"""upstream_timeout: for proxied requests, give up on the upstream after `after_ms` and answer
504. When several fire, the shortest wins."""
from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import Field

from ...config.base import DAY_MS, FaultBase
from ..plan import Plan
from .base import Fault, register


class UpstreamTimeoutFault(FaultBase):
    """Proxied requests: give up on the upstream after after_ms and answer 504."""

    type: Literal["upstream_timeout"]
    after_ms: int = Field(gt=0, le=DAY_MS)


class UpstreamTimeout(Fault):
    type = "upstream_timeout"
    __slots__ = ("seconds",)

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.seconds = spec.after_ms / 1000

    def apply(self, plan: Plan, rng: random.Random, ex: Any, session: str) -> None:
        if plan.upstream_timeout is None or self.seconds < plan.upstream_timeout:
            plan.upstream_timeout = self.seconds


register(UpstreamTimeoutFault, UpstreamTimeout)
