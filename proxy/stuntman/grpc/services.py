"""The gRPC services stuntman serves itself, ahead of the calls it routes: health
(grpc.health.v1.Health, health.py) and server reflection (grpc.reflection.v1 and v1alpha,
reflection.py), both answering from the .proto files loaded at the time of the call."""
from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from . import health, reflection

if TYPE_CHECKING:
    from .listener import GrpcListener


def builtin_handlers(listener: GrpcListener) -> list[grpc.GenericRpcHandler]:
    """Handlers tried before the one that routes every call (the first to know a method wins):
    each knows only its own service's methods, so every other call still reaches routing."""
    return [health.handler(listener), *reflection.handlers(listener)]
