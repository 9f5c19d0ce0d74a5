"""close: once the request is read, close the connection (FIN) without any response, so the
client sees an empty reply. No parameters. It replaces the response: the first answering fault
(error, reset, close, hang) to fire on a request decides."""
from __future__ import annotations

from typing import Any, Literal

from ...config.base import FaultBase
from .base import Answer, Flow, register


class CloseFault(FaultBase):
    """FIN without any response once the request is read: an empty reply."""

    type: Literal["close"]


class Close(Answer):
    type = "close"
    __slots__ = ()

    def answer(self, ex: Any, flow: Flow) -> None:
        """No response at all: a FIN: the connection is closed."""
        flow.cut(ex, reset=False)


register(CloseFault, Close)
