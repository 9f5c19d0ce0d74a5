"""A gRPC stub's answer: the call passed through to its upstream (or --grpc-upstream).

The gRPC listener carries it out (stuntman.grpc.listener): only gRPC calls reach gRPC routes,
which sit apart in the route table, so the HTTP pipeline never asks this source for a response.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal

from .responder import BuildContext, Responder, source


class GrpcPassThrough:
    action: ClassVar[Literal["stub", "proxy"]] = "proxy"
    streams: ClassVar[bool] = True
    delegates: ClassVar[bool] = False
    needs_body = False

    def __init__(self, upstream: str | None):
        self.upstream = upstream  # None: --grpc-upstream

    def resolve(self, ex: Any, state: Any) -> Responder | None:
        return self

    def respond(self, ex: Any, state: Any) -> Any:
        raise TypeError("a gRPC route answers gRPC calls only")

    start = respond


@source("grpc")
def _build(ctx: BuildContext) -> Responder:
    assert ctx.spec.grpc is not None
    return GrpcPassThrough(ctx.spec.grpc.upstream)
