"""reset: once the request is read, abort the connection with a TCP RST (SO_LINGER 0), so the
client sees 'connection reset by peer'. No parameters. It replaces the response: the first
answering fault (error, reset, close, hang) to fire on a request decides."""
from __future__ import annotations

from typing import Any, Literal

from ...config.base import FaultBase
from .base import Answer, Flow, register


class ResetFault(FaultBase):
    """TCP RST (SO_LINGER 0) once the request is read: the client sees 'connection reset'."""

    type: Literal["reset"]


class Reset(Answer):
    type = "reset"
    __slots__ = ()

    def answer(self, ex: Any, flow: Flow) -> None:
        """No response at all: an RST: the connection is reset."""
        flow.cut(ex, reset=True)


register(ResetFault, Reset)
