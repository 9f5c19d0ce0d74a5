"""The one object that flows through the pipeline: listen → match → respond → (journal, metrics).

Built by the listener from llhttp callbacks; views that cost something (header dict, query,
body decoding) are computed on first use, so a route that only checks method and path never
pays for them.
"""
from __future__ import annotations

from datetime import datetime, timezone
from time import monotonic, time
from urllib.parse import parse_qs

from .http1.wire import header_fields
from .match.matchers import BodyView

NO_PARAMS: dict[str, str] = {}


class Exchange:
    __slots__ = (
        "method", "target", "path", "query_string", "version", "raw_headers", "client",
        "keep_alive", "has_body", "body", "body_size", "complete", "too_large",
        "route", "params", "action", "status", "started", "phase", "call", "expect_continue",
        "candidates", "error", "ended", "raw", "raw_index", "plan", "pending", "response", "_received_at", "_headers", "_query", "_body_view",
    )

    def __init__(self) -> None:
        self.method = ""
        self.target = b""            # the request-target as sent (path + query, still encoded)
        self.path = ""               # encoded path, as matched
        self.query_string = ""
        self.version = "1.1"
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.client = ""             # peer address, for X-Forwarded-For
        self.keep_alive = True
        self.has_body = False
        self.body: list[bytes] | None = None  # chunks, when buffered
        self.body_size = 0
        self.complete = False        # the whole request (body included) has been read
        self.too_large = False
        self.route = None            # the matched route, or None
        self.params: dict[str, str] = NO_PARAMS  # replaced, never mutated
        self.action = "none"         # stub | proxy | none | error | fault (a fault answered)
        self.status = 0
        self.phase = "new"           # new → route (body needed to match) | stub | proxy → done
        self.call = None             # the ProxyCall while forwarding upstream
        self.expect_continue = False
        self.candidates = ()          # routes whose path may match, from one table snapshot
        self.error: str | None = None  # why the upstream gave no (whole) response
        self.ended = 0.0              # monotonic time the response was done
        self.plan = None              # what the faults that fired will do (stuntman.faults.plan)
        self.pending = None           # a delayed step or paced body (anything with cancel())
        self.response = None          # a proxied response kept for snapshots (--journal-responses)
        self.started = monotonic()
        # the bytes as received, when this request began and ended in that one read (the usual
        # case), and its rank among the requests in them: enough to parse the fields again
        self.raw: bytes | None = None
        self.raw_index = 0
        self._headers: dict[str, str] | None = None
        self._query: dict[str, list[str]] | None = None
        self._body_view: BodyView | None = None
        self._received_at: datetime | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Lower-cased header names; repeated headers joined with ', ' (RFC 9110 §5.3)."""
        if self._headers is None:
            out: dict[str, str] = {}
            for name, value in self.fields():
                key = name.decode("latin-1").lower()
                text = value.decode("latin-1")
                out[key] = f"{out[key]}, {text}" if key in out else text
            self._headers = out
        return self._headers

    def fields(self) -> list[tuple[bytes, bytes]]:
        """The header fields as (name, value) bytes, in order."""
        if self.raw_headers is None:
            return header_fields(self.raw, self.raw_index)
        return self.raw_headers

    def release(self) -> None:
        """Kept in the journal: drop what can be rebuilt. Thousands of retained entries with a
        dozen small objects each cost a cache miss apiece when they are recycled; the fields
        are parsed again from `raw` if someone asks."""
        if self.raw is not None and self.complete:  # else the rest may yet arrive in another read
            self.raw_headers = None
        self.candidates = ()
        self.pending = None
        self._headers = self._query = self._body_view = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_qs(self.query_string, keep_blank_values=True)
        return self._query

    @property
    def received_at(self) -> datetime:
        """Wall-clock time the request arrived (UTC), the same for every use in a response."""
        if self._received_at is None:
            self._received_at = datetime.fromtimestamp(time() - (monotonic() - self.started), timezone.utc)
        return self._received_at

    @property
    def body_bytes(self) -> bytes:
        return b"".join(self.body) if self.body else b""

    def cut_body(self, limit: int) -> None:
        """Keep only the first `limit` bytes of the body (and drop views of the whole)."""
        self.body = [self.body_bytes[:limit]]
        self._body_view = None

    @property
    def body_view(self) -> BodyView:
        if self._body_view is None:
            self._body_view = BodyView(self.body_bytes)
        return self._body_view

    def set_target(self, target: bytes) -> None:
        self.target = target
        path, _, query = target.partition(b"?")
        if path.startswith(b"http://") or path.startswith(b"https://"):  # absolute-form
            path = b"/" + path.split(b"/", 3)[3] if path.count(b"/") >= 3 else b"/"
        self.path = path.decode("latin-1")
        self.query_string = query.decode("latin-1")

    def describe(self) -> str:
        return f"{self.method} {self.target.decode('latin-1')}"
