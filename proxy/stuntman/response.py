"""The semantic response: what every response source produces and every protocol serializes at
its own edge (HTTP/1 today; HTTP/2 and gRPC next).

Header pairs never carry framing (Content-Length, Transfer-Encoding, Connection): the body's
length is `length`, and each protocol frames it its own way. A response built once at load (a
static stub) is shared by every request that gets it: nothing may change it, and `cache` holds
what each protocol rendered of it the first time, so the hot path does not render it again.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

Headers = list[tuple[bytes, bytes]]

SERVER = (b"server", b"stuntman")


class Response:
    __slots__ = ("status", "reason", "headers", "body", "stream", "length", "trailers", "dated", "cache",
                 "broken_framing")

    def __init__(self, status: int, headers: Headers, body: bytes | None = b"",
                 length: int | None = -1, reason: bytes | None = None, dated: bool = False,
                 cacheable: bool = False, stream: AsyncIterator[bytes] | None = None,
                 trailers: Headers | None = None):
        self.status = status
        self.reason = reason          # the reason phrase an upstream sent (None: the standard one)
        self.headers = headers
        self.body = body              # the whole body; None while it streams (send_body, or `stream`)
        self.stream = stream          # a body still to come, pulled by the pipeline
        # the body's size when known (the declared size of a streamed or truncated body), else None
        self.length = (len(body) if body is not None else None) if length == -1 else length
        self.trailers = trailers
        self.dated = dated            # made by stuntman: the edge adds the Date field
        self.cache: dict[str, bytes] | None = {} if cacheable else None  # per protocol, see above
        self.broken_framing = False   # a corrupt fault: the protocol frames this body wrongly on purpose

    @classmethod
    def text(cls, status: int, body: str | bytes, headers: list[tuple[str, str]] = (),  # type: ignore[assignment]
             content_type: str = "text/plain; charset=utf-8") -> Response:
        """A response stuntman writes itself (errors, the near-miss 404): a fixed body."""
        data = body.encode() if isinstance(body, str) else body
        pairs = [SERVER, (b"content-type", content_type.encode())]
        pairs += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        return cls(status, pairs, data, dated=True)

    def copy(self) -> Response:
        """A private copy to reshape (a fault), leaving a shared one untouched."""
        other = Response(self.status, list(self.headers), self.body, length=self.length, reason=self.reason,
                         dated=self.dated, stream=self.stream, trailers=self.trailers)
        other.broken_framing = self.broken_framing
        return other

    def set_header(self, name: bytes, value: bytes | None) -> None:
        """Replace every `name` field (lower-case) by one, or drop them all (value None)."""
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name]
        if value is not None:
            self.headers.append((name, value))


def bodiless(method: str, status: int) -> bool:
    """A response that has no body whatever its fields say (RFC 9110 §6.4.1)."""
    return method == "HEAD" or status in (204, 304) or status < 200
