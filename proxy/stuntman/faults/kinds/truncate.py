"""truncate: declare the whole Content-Length, send `after_bytes` of the body (default 0), then
close. The whole body is needed first (a proxied one is buffered). When several fire, the
shortest wins."""
from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import Field

from ...config.base import FaultBase
from ..plan import Plan
from .base import Fault, register


class TruncateFault(FaultBase):
    """Declare the whole Content-Length, send after_bytes of the body, then close."""

    type: Literal["truncate"]
    after_bytes: int = Field(0, ge=0)


class Truncate(Fault):
    type = "truncate"
    __slots__ = ("after",)

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.after = spec.after_bytes

    def apply(self, plan: Plan, rng: random.Random, ex: Any, session: str) -> None:
        plan.truncate = self.after if plan.truncate is None else min(plan.truncate, self.after)


register(TruncateFault, Truncate)
