"""hang: read the request and never answer, until the client gives up; with `for_ms`, close the
connection after that long. It replaces the response: the first answering fault (error, reset,
close, hang) to fire on a request decides."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ...config.base import DAY_MS, FaultBase
from ..enact import Forever, after
from .base import Answer, Flow, register


class HangFault(FaultBase):
    """Read the request, never answer: until the client gives up, or close after for_ms."""

    type: Literal["hang"]
    for_ms: int | None = Field(None, gt=0, le=DAY_MS)


class Hang(Answer):
    type = "hang"
    __slots__ = ("seconds",)

    def __init__(self, spec, *args):
        super().__init__(spec, *args)
        for_ms = getattr(spec, "for_ms", None)  # (a deadline's has none)
        self.seconds = for_ms / 1000 if for_ms else None

    def answer(self, ex: Any, flow: Flow) -> None:
        """Nothing, until the client gives up (the pipeline's client_gone), or for_ms then close."""
        ex.pending = after(ex.down.loop, self.seconds, flow.cut, ex) if self.seconds is not None else Forever


register(HangFault, Hang)

