"""What a response source is, and the registry that turns a stub's spec into one.

A source answers an exchange in one of two ways:
- a **whole** response (`streams = False`): `respond(ex, state) → Response`, called once the
  request is read; the pipeline carries out faults (delays, reshaping, pacing) on it. Stubs,
  sequences, and next OpenAPI, Pact and gRPC stubs.
- a **stream** (`streams = True`): `start(ex, pipeline)` as soon as the route is known, writing
  to `ex.down` as the answer arrives and ending through `pipeline.complete/cut`. The upstream.

`resolve(ex, state)` lets a source hand the exchange to another (a replay picks one of its
recorded routes, or its upstream); most return themselves.

A stub's spec names its source by the one field it sets (`response`, `responses`, `proxy`,
`replay`...): each source module registers a builder for its field with `@source(field)`, and
`build` finds it. Adding a source is one module and one registration, not a branch here.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

if TYPE_CHECKING:
    from ..config.loader import LoadedStub
    from ..config.model import StubSpec
    from ..exchange import Exchange
    from ..response import Response
    from ..settings import Settings
    from .scenarios import StubState


class Responder(Protocol):
    action: ClassVar[Literal["stub", "proxy"]]  # what the journal and metrics call its answers
    streams: ClassVar[bool]
    delegates: ClassVar[bool]  # resolve() may hand the exchange on (else it is not even asked)
    needs_body: bool  # it reads the request body to answer (templates that use it)

    def resolve(self, ex: Exchange, state: StubState) -> Responder | None:
        """The source that answers ex (usually self; None: nothing does, 404)."""

    def respond(self, ex: Exchange, state: StubState) -> Response:
        """A whole response (sources with streams = False)."""

    def start(self, ex: Exchange, pipeline: Any) -> None:
        """Begin answering ex through ex.down (sources with streams = True)."""


class WholeResponse:
    """Base of the sources that answer with a whole response."""

    __slots__ = ()
    action: ClassVar[Literal["stub", "proxy"]] = "stub"
    streams: ClassVar[bool] = False
    delegates: ClassVar[bool] = False
    needs_body = False

    def resolve(self, ex: Exchange, state: StubState) -> Responder | None:
        return self

    def respond(self, ex: Exchange, state: StubState) -> Response:
        raise NotImplementedError

    def start(self, ex: Exchange, pipeline: Any) -> None:
        raise TypeError(f"{type(self).__name__} answers with a whole response")


@dataclass
class BuildContext:
    """What a builder may use to compile one stub's source."""

    loaded: LoadedStub
    route_id: str
    source: str                  # file:line, for messages
    root: Path                   # the stubs directory (body files)
    pools: dict                  # upstream connection pools, shared by every route
    settings: Settings
    faults: Any                  # the server's FaultState
    # compile other stubs into a route table (a replay's recorded routes): (table, errors)
    compile_table: Callable[..., Any] = field(repr=False, default=None)  # type: ignore[assignment]
    protos: Any = None           # the --proto services (stuntman.proto.protoset.ProtoSet), if any

    @property
    def spec(self) -> StubSpec:
        return self.loaded.spec  # type: ignore[return-value]


Builder = Callable[[BuildContext], Responder]
SOURCES: dict[str, Builder] = {}  # StubSpec field → builder


def source(spec_field: str) -> Callable[[Builder], Builder]:
    """Register a builder for the stubs that set `spec_field`."""
    def register(builder: Builder) -> Builder:
        SOURCES[spec_field] = builder
        return builder
    return register


def build(ctx: BuildContext) -> Responder:
    spec = ctx.spec
    for spec_field, builder in SOURCES.items():
        if getattr(spec, spec_field, None) is not None:
            return builder(ctx)
    raise ValueError(f"a stub sets none of: {', '.join(SOURCES)}")
