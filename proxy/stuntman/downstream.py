"""The one interface between a protocol and the pipeline: how a response goes back to the client.

A protocol (the HTTP/1 connection today; an HTTP/2 stream, a gRPC call next) turns bytes into an
`Exchange`, hands it to the pipeline, and implements `Downstream` for the way back. The pipeline
and the response sources only ever speak in `Response` objects and body bytes; how those become
bytes on a wire (status lines, chunked framing, frames, trailers) is the protocol's business.

Writes may be held until `flush()` (or `end`/`abort`), so that everything one upstream read
produced leaves in one write.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import asyncio

    from .exchange import Exchange
    from .response import Headers, Response


class Downstream(Protocol):
    loop: asyncio.AbstractEventLoop
    closed: bool  # the client is gone: nothing written arrives

    def send(self, ex: Exchange, response: Response) -> None:
        """A whole response, head and body, at once (a stub, an error, a buffered upstream one)."""

    def send_head(self, ex: Exchange, response: Response) -> None:
        """The head of a response whose body follows through send_body (response.body is None)."""

    def send_body(self, data: bytes) -> None:
        """A piece of the current response's body."""

    def send_trailers(self, trailers: Headers) -> None:
        """Fields after the body (where the protocol has a place for them)."""

    def flush(self) -> None:
        """Write what is held."""

    def end(self, ex: Exchange) -> None:
        """The response is complete: the protocol moves on (the next request, or close)."""

    def abort(self, ex: Exchange, reset: bool = False) -> None:
        """Cut the exchange: the client sees a truncated response or none (reset: an RST)."""

    def pause_reading(self, reason: str) -> None:
        """Stop reading the request (its body) until resume_reading(reason)."""

    def resume_reading(self, reason: str) -> None: ...

