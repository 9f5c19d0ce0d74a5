"""The forwarding policy of one `proxy:` (or `--upstream`): which origin, what Host the upstream
sees, prefixes stripped, X-Forwarded-* added, hop-by-hop fields dropped, whether exchanges are
recorded. It is the upstream source behind the Responder interface."""
from __future__ import annotations

from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from ...faults.enact import after
from ...fields import HOP_BY_HOP, listed
from ..responder import BuildContext, Responder, source
from .call import ProxyCall
from .pool import Pool


class UpstreamTarget:
    """A compiled `proxy:` action."""

    action: ClassVar[Literal["stub", "proxy"]] = "proxy"
    streams: ClassVar[bool] = True
    delegates: ClassVar[bool] = False
    needs_body = False

    def __init__(self, url: str, pools: dict, settings, *, preserve_host: bool | None = None,
                 timeout_ms: int | None = None, strip_prefix: str | None = None, record: str | None = None):
        parts = urlsplit(url)
        hostname = parts.hostname or ""
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, hostname, port)
        if key not in pools:
            pools[key] = Pool(scheme, hostname, port, settings)
        self.pool: Pool = pools[key]
        self.base_path = parts.path.rstrip("/").encode()
        default_port = (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
        self.host_header = (hostname if default_port else f"{hostname}:{port}").encode()
        self.preserve_host = settings.preserve_host if preserve_host is None else preserve_host
        self.timeout = timeout_ms / 1000 if timeout_ms else settings.upstream_timeout
        self.strip_prefix = strip_prefix.encode() if strip_prefix else b""
        self.url = url
        self.record = record  # the recording every exchange goes to (a name under --recordings)

    def resolve(self, ex, state) -> Responder:
        return self

    def respond(self, ex, state) -> Any:
        raise TypeError("the upstream streams its response: start() it")

    def start(self, ex, pipeline) -> None:
        """Forward ex: its body (what arrived so far, the rest as it comes) goes up as the call
        connects; a request-stage delay holds the start."""
        call = ex.call = ProxyCall(pipeline, ex, self)
        if ex.body:
            for chunk in ex.body:
                call.feed(chunk)
        elif ex.has_body:
            ex.body = []  # for the journal's copy of what streams through
        if ex.complete:
            call.end_body()
        plan = ex.plan
        if plan is not None and plan.delay_request:
            ex.pending = after(ex.down.loop, plan.delay_request, call.start_later)
        else:
            call.start()

    def request_head(self, ex, chunked: bool) -> bytes:
        """The request as it goes upstream (HTTP/1.1)."""
        path = ex.path.encode("latin-1")
        if self.strip_prefix and path.startswith(self.strip_prefix):
            path = path[len(self.strip_prefix):] or b"/"
            if not path.startswith(b"/"):
                path = b"/" + path
        target = self.base_path + path
        if ex.query_string:
            target += b"?" + ex.query_string.encode("latin-1")
        out = [ex.method.encode() + b" " + target + b" HTTP/1.1\r\n"]
        host = xff = names = None
        has_proto = has_xhost = False
        for name, value in ex.raw_headers:
            lname = name.lower()
            if lname not in _REQUEST_SPECIAL:
                out += (name, b": ", value, b"\r\n")
            elif lname == b"connection":
                names = listed(value, names)
            elif lname == b"host":
                host = value
            elif lname == b"x-forwarded-for":
                xff = value if xff is None else xff + b", " + value
            elif lname == b"x-forwarded-proto":
                has_proto = True
                out += (name, b": ", value, b"\r\n")
            elif lname == b"x-forwarded-host":
                has_xhost = True
                out += (name, b": ", value, b"\r\n")
            elif lname == b"content-length" and not chunked:
                out += (name, b": ", value, b"\r\n")
            # else: hop-by-hop, Expect (answered by stuntman), a length replaced by chunking
        if names:
            out = _without(out, 1, names)
        out.append(b"host: " + (host if self.preserve_host and host else self.host_header) + b"\r\n")
        client = ex.client.encode()
        out.append(b"x-forwarded-for: " + (xff + b", " + client if xff else client) + b"\r\n")
        if not has_proto:
            out.append(b"x-forwarded-proto: http\r\n")
        if not has_xhost and host:
            out.append(b"x-forwarded-host: " + host + b"\r\n")
        if chunked:
            out.append(b"transfer-encoding: chunked\r\n")
        out.append(b"\r\n")
        return b"".join(out)


_REQUEST_SPECIAL = HOP_BY_HOP | {b"expect", b"host", b"x-forwarded-for", b"x-forwarded-proto",
                                 b"x-forwarded-host", b"content-length"}


def _without(parts: list, start: int, names: set) -> list:
    """parts[start:] are (name, ': ', value, CRLF) groups: drop those whose name is in names."""
    kept = parts[:start]
    for i in range(start, len(parts), 4):
        if parts[i].lower() not in names:
            kept += parts[i:i + 4]
    return kept


def recording_for(record: str | bool | None, name: str | None, route_id: str) -> str | None:
    """`record: true` names the recording after the stub (its name, made file-safe, or its id)."""
    import re

    if record is True:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") if name else route_id
    return record or None


@source("proxy")
def build_upstream(ctx: BuildContext) -> UpstreamTarget:
    p, spec = ctx.spec.proxy, ctx.spec
    assert p is not None
    return UpstreamTarget(str(p.upstream), ctx.pools, ctx.settings, preserve_host=p.preserve_host,
                          timeout_ms=p.timeout_ms, strip_prefix=p.strip_prefix,
                          record=recording_for(p.record, spec.name, ctx.route_id))
