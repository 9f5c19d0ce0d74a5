"""The replay source (`replay:` on a stub): its requests are answered from a recording's own
routes (a small route table of their own, built by `record.replay.load_recording`); what was
not recorded gets 404, or goes to `upstream` (spy mode). Its recording's gRPC calls are not its
to answer: gRPC calls meet gRPC routes only, so they join the route table as gRPC stubs (compile.py)."""
from __future__ import annotations

from typing import Any

from ..config.errors import ConfigValueError
from ..config.loader import ConfigErrors
from ..match.routes import match
from ..record.recorder import recording_dir
from ..record.replay import load_recording
from .responder import BuildContext, Responder, WholeResponse, source
from .upstream.target import UpstreamTarget


class ReplayResponder(WholeResponse):
    """Never answers itself: `resolve` hands the exchange to a recorded route's source, or on."""

    __slots__ = ("table", "upstream", "needs_body")
    delegates = True

    def __init__(self, table: Any, upstream: Responder | None = None):
        self.table = table
        self.upstream = upstream  # the upstream source, in spy mode
        self.needs_body = table.any_needs_body

    def resolve(self, ex, state) -> Responder | None:
        inner = match(ex, state, self.table.candidates(ex.path))
        if inner is None:
            return self.upstream
        ex.route = inner
        return inner.action


@source("replay")
def build_replay(ctx: BuildContext) -> ReplayResponder:
    r, settings = ctx.spec.replay, ctx.settings
    assert r is not None
    try:
        directory = recording_dir(settings.recordings, r.recording)
        # (its HTTP exchanges: the recording's gRPC calls join the table as gRPC stubs, compile.py)
        stubs = load_recording(directory, r.recording, frozenset(r.ignore_query), r.latency == "recorded",
                               tuple(r.ignore_body), grpc=False)
    except (ConfigErrors, ValueError) as exc:
        message = "; ".join(map(str, exc.errors)) if isinstance(exc, ConfigErrors) else str(exc)
        raise ConfigValueError(("replay", "recording"), message) from None
    table, errors = ctx.compile_table(stubs, ctx.root, ctx.pools, settings, ctx.faults)
    if errors:
        raise ConfigValueError(("replay", "recording"), "; ".join(map(str, errors)))
    upstream = UpstreamTarget(str(r.upstream), ctx.pools, settings) if r.upstream is not None else None
    return ReplayResponder(table, upstream if r.mode == "spy" else None)
