"""corrupt: break the response body, by `mode`: `bytes` (the default) garbles body bytes, same
length; `chunking` sends malformed chunked framing; `gzip` declares Content-Encoding gzip and
sends a broken gzip stream. The garbling is drawn from the fault's seeded generator. The whole
body is needed first (a proxied one is buffered). The last to fire wins."""
from __future__ import annotations

import random
from typing import Any, Literal

from ...config.base import FaultBase
from ..plan import Plan
from .base import Fault, register


class CorruptFault(FaultBase):
    """bytes: garble body bytes (same length); chunking: malformed chunked framing;
    gzip: declare Content-Encoding gzip and send a broken gzip stream."""

    type: Literal["corrupt"]
    mode: Literal["bytes", "chunking", "gzip"] = "bytes"


class Corrupt(Fault):
    type = "corrupt"
    __slots__ = ("mode",)

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        self.mode = spec.mode

    def apply(self, plan: Plan, rng: random.Random, ex: Any, session: str) -> None:
        plan.corrupt = (self.mode, random.Random(rng.random()))


register(CorruptFault, Corrupt)
