"""deadline: a hang in gRPC's words. The call is held until the client's deadline passes, so the
client sees DEADLINE_EXCEEDED (grpc ends the call then: nothing is sent by stuntman). A call
without a deadline, and an HTTP request, is held until its client gives up, as by a hang."""
from __future__ import annotations

from typing import Literal

from ...config.base import FaultBase
from .base import register
from .hang import Hang


class DeadlineFault(FaultBase):
    """Hold a gRPC call until the client's deadline passes (DEADLINE_EXCEEDED, as the client sees
    it); a call without a deadline, and an HTTP request, until the client gives up (a hang)."""

    type: Literal["deadline"]


class Deadline(Hang):
    type = "deadline"
    __slots__ = ()


register(DeadlineFault, Deadline)
