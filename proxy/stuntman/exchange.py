"""The one object that flows through the pipeline: protocol → match → faults → respond → finish.

Built by a protocol (the HTTP/1 connection from llhttp callbacks); views that cost something
(header dict, query, body decoding) are computed on first use, so a route that only checks
method and path never pays for them. It sits at the bottom of the import graph: it knows no
protocol, matcher or responder, only the values they share.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from time import monotonic, time
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs

from .body import BodyView
from .fields import field_dict

if TYPE_CHECKING:
    from .downstream import Downstream

NO_PARAMS: dict[str, str] = {}
# new → route (matching waits for the body) | queued (behind a concurrency limit)
#     | answer (a whole response, once the request is read) | proxy (streaming upstream) → done
Phase = Literal["new", "route", "queued", "answer", "proxy", "done"]
# stub | proxy | none (unmatched, no upstream) | error (upstream failed) | fault (a fault answered)
Action = Literal["stub", "proxy", "none", "error", "fault"]
Fields = list[tuple[bytes, bytes]]


class Exchange:
    __slots__ = (
        "method", "target", "path", "query_string", "version", "raw_headers", "client",
        "keep_alive", "has_body", "declared_length", "content_type", "body", "body_size", "complete", "too_large",
        "route", "params", "action", "status", "started", "phase", "call", "expect_continue",
        "candidates", "error", "ended", "raw", "raw_index", "reparse", "plan", "pending", "response", "down",
        "responder", "leave", "watch", "grpc", "_received_at", "_headers", "_query", "_body_view",
    )

    def __init__(self) -> None:
        self.method = ""
        self.target = b""            # the request-target as sent (path + query, still encoded)
        self.path = ""               # encoded path, as matched
        self.query_string = ""
        self.version = "1.1"
        self.raw_headers: Fields = []  # None once released (see fields())
        self.client = ""             # peer address, for X-Forwarded-For
        self.keep_alive = True
        self.has_body = False
        # from the head, by the protocol (it reads these fields anyway): what every body-reading
        # stage asks for, without a search of the fields each time
        self.declared_length: int | None = None  # Content-Length, when the request has one
        self.content_type: str | None = None     # Content-Type (repeats joined with ', '), if sent
        self.body: list[bytes] | None = None  # chunks, when buffered
        self.body_size = 0
        self.complete = False        # the whole request (body included) has been read
        self.too_large = False
        self.route: Any = None       # the matched route (stuntman.match.routes.Route), or None
        self.params: dict[str, str] = NO_PARAMS  # replaced, never mutated
        self.action: Action = "none"
        self.status = 0
        self.phase: Phase = "new"
        self.call: Any = None        # what streams the response (an upstream call): pause/resume/cancel
        self.responder: Any = None   # the response source chosen for it
        self.leave: Any = None       # what it holds until it ends (a limit's place): see on_leave
        self.watch: Any = None       # its check against a monitored contract (stuntman.monitor.Watch)
        self.grpc: Any = None        # a gRPC call's status and messages (stuntman.grpc.call.GrpcOutcome)
        # the protocol's way back to the client: set by the protocol before the pipeline sees ex
        self.down: Downstream = None  # type: ignore[assignment]
        self.expect_continue = False
        self.candidates: Any = ()     # routes whose path may match, from one table snapshot
        self.error: str | None = None  # why the upstream gave no (whole) response
        self.ended = 0.0              # monotonic time the response was done
        self.plan: Any = None         # what the faults that fired will do (stuntman.faults.plan.Plan)
        self.pending: Any = None      # a delayed step or paced body (anything with cancel())
        self.response: Any = None     # a proxied response kept for snapshots (--journal-responses)
        self.started = monotonic()
        # the bytes as received, when this request began and ended in that one read (the usual
        # case), and its rank among the requests in them: enough to parse the fields again
        self.raw: bytes | None = None
        self.raw_index = 0
        self.reparse: Callable[[bytes, int], Fields] | None = None  # the protocol's: raw → fields
        self._headers: dict[str, str] | None = None
        self._query: dict[str, list[str]] | None = None
        self._body_view: BodyView | None = None
        self._received_at: datetime | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Lower-cased header names; repeated headers joined with ', ' (RFC 9110 §5.3)."""
        if self._headers is None:
            self._headers = field_dict(self.fields())
        return self._headers

    def on_leave(self, release: Callable[[], None]) -> None:
        """Call `release` once when this exchange ends, however it ends (answered, cut, its client
        gone): a limit's place in flight is given back this way."""
        held = self.leave
        self.leave = release if held is None else [*held, release] if type(held) is list else [held, release]

    def left(self) -> None:
        held, self.leave = self.leave, None
        if type(held) is list:
            for release in held:
                release()
        elif held is not None:
            held()

    def field(self, name: str) -> str | None:
        """One field's value (name lower-case; repeats joined with ', '), without building the
        whole `headers` dict when it is not built yet: requests with faults or scenarios ask
        for their session this way."""
        if self._headers is not None:
            return self._headers.get(name)
        key, size, found = name.encode("latin-1"), len(name), None
        for n, value in self.raw_headers if self.raw_headers is not None else self.fields():
            if len(n) == size and n.lower() == key:
                found = value if found is None else found + b", " + value
        return found.decode("latin-1") if found is not None else None

    def fields(self) -> Fields:
        """The header fields as (name, value) bytes, in order. Fields let go of are parsed again
        from `raw`; should that fail, the entry must still list and match (as having no fields):
        its fields become [] for good and `raw_index` -1, which the journal shows as damaged."""
        if self.raw_headers is None:
            assert self.raw is not None and self.reparse is not None  # released only when both are kept
            try:
                return self.reparse(self.raw, self.raw_index)
            except Exception:  # a journal entry must never fail a listing
                self.raw_headers, self.raw, self.reparse, self.raw_index = [], None, None, -1
        return self.raw_headers

    def release(self) -> None:
        """Kept in the journal: drop what can be rebuilt. Thousands of retained entries with a
        dozen small objects each cost a cache miss apiece when they are recycled; the fields
        are parsed again from `raw` if someone asks."""
        if self.raw is not None and self.reparse is not None and self.complete:  # else more may yet arrive
            self.raw_headers = None  # type: ignore[assignment]
        self.candidates = ()
        self.pending = None
        self.down = None  # type: ignore[assignment]
        self._headers = self._query = self._body_view = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_qs(self.query_string, keep_blank_values=True) if self.query_string else {}
        return self._query

    @property
    def received_at(self) -> datetime:
        """Wall-clock time the request arrived (UTC), the same for every use in a response."""
        if self._received_at is None:
            self._received_at = datetime.fromtimestamp(time() - (monotonic() - self.started), UTC)
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
        if self._body_view is None:  # (a gRPC call's: its first request message, as JSON when known)
            self._body_view = BodyView(self.body_bytes) if self.grpc is None else self.grpc.first_view()
        return self._body_view

    def see_body_as(self, view: BodyView) -> None:
        """What body matchers read is view, not the body's bytes (a gRPC message seen as JSON)."""
        self._body_view = view

    def set_target(self, target: bytes) -> None:
        self.target = target
        path, _, query = target.partition(b"?")
        if path[:1] != b"/" and (path.startswith(b"http://") or path.startswith(b"https://")):  # absolute-form
            path = b"/" + path.split(b"/", 3)[3] if path.count(b"/") >= 3 else b"/"
        self.path = path.decode("latin-1")
        self.query_string = query.decode("latin-1")

    def describe(self) -> str:
        return f"{self.method} {self.target.decode('latin-1')}"
