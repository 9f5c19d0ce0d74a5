"""One HTTP/1.1 connection to an upstream: an asyncio Protocol with llhttp's response parser,
turning what the upstream sends into a `Response` head and body pieces for its current call."""
from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING

import httptools

from ...fields import HOP_BY_HOP, listed
from ...response import Response
from .errors import UpstreamError

if TYPE_CHECKING:
    from .call import ProxyCall
    from .pool import Pool

_RESPONSE_SPECIAL = HOP_BY_HOP | {b"content-length"}


class _HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing: the call has been answered already."""


class UpstreamConnection(asyncio.Protocol):
    """One connection to an upstream; reports parsed response events to its current ProxyCall."""

    def __init__(self, pool: Pool):
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.call: ProxyCall | None = None
        self.closed = False
        self.reused = False
        self.parser = httptools.HttpResponseParser(self)
        self.loop = asyncio.get_running_loop()
        # response deadlines, one lazily re-armed timer per connection (not one per request): the
        # head must come by `deadline`; then each read of the body restarts its wait (`last_read`)
        self.deadline = 0.0
        self.last_read = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.max_head = pool.settings.max_upstream_header_bytes
        # the head limit, at no cost per header: `head_reads` counts the bytes read while a head
        # is incomplete (the body that came in the same read too: an over-count); only when it
        # passes the limit is the head itself measured (see data_received, on_headers_complete)
        self.in_head = True   # the next bytes are (part of) a response head
        self.head_reads = 0
        self.on_message_begin()

    # llhttp callbacks
    def on_message_begin(self) -> None:
        """A response begins: its head collected afresh."""
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []  # as received, less hop-by-hop and framing
        self.length_field: bytes | None = None
        self.chunked = False                          # the upstream frames its body in chunks
        self.names: set[bytes] | None = None          # fields its Connection header lists

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.call is not None:
            self.call.upstream_lost(exc)

    def expect_head_within(self, seconds: float) -> None:
        loop = self.loop
        self.deadline = deadline = loop.time() + seconds
        if self.timer is None or deadline < self.timer_at:
            if self.timer is not None:
                self.timer.cancel()
            self.timer_at = deadline
            self.timer = loop.call_at(deadline, self._watchdog)

    def _watchdog(self) -> None:
        self.timer = None
        call = self.call
        if call is None or call.done or self.closed:
            return  # nothing is waiting for this upstream
        now = self.loop.time()
        if call.head_sent:  # the body: nothing for call.timeout since the last read is a stall
            if call.paused:  # (not while the client or a fault holds the upstream back)
                self.last_read = now
            deadline = self.last_read + call.timeout
            if now < deadline:
                self._rearm(deadline)
                return
            call.upstream_failed(UpstreamError(
                504, "upstream-body-timeout",
                f"{self.pool.origin} sent nothing more of the response body for {call.timeout:g} s"))
            return
        if now < self.deadline:
            self._rearm(self.deadline)
            return
        call.upstream_failed(UpstreamError(
            504, "upstream-timeout",
            f"{self.pool.origin} did not answer within {call.timeout:g} s"))

    def _rearm(self, when: float) -> None:
        self.timer_at = when
        self.timer = self.loop.call_at(when, self._watchdog)

    def data_received(self, data: bytes) -> None:
        call = self.call
        if call is None:  # unsolicited bytes on an idle connection: it is unusable
            self.close()
            return
        call.got_bytes = True
        self.last_read = self.loop.time()
        if self.in_head:
            self.head_reads += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.call is not None:  # (a head too large has answered its call already)
                self.call.upstream_failed(UpstreamError(
                    502, "upstream-bad-response", f"invalid HTTP from upstream: {exc}"))
            self.close()
            return
        if self.in_head and self.head_reads > self.max_head:
            # llhttp holds a partial header line without bound (no on_header until it ends):
            # cap a head that keeps growing across reads, as the listener does
            self._head_too_large()
            return
        call.flush()  # everything this read produced goes to the client in one write

    def pause_writing(self) -> None:
        if self.call is not None:
            self.call.down.pause_reading("upstream")

    def resume_writing(self) -> None:
        if self.call is not None:
            self.call.down.resume_reading("upstream")

    def on_status(self, reason: bytes) -> None:
        self.reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        lname = name.lower()
        if lname not in _RESPONSE_SPECIAL:
            self.headers.append((name, value))
        elif lname == b"content-length":
            self.length_field = value
        elif lname == b"connection":
            self.names = listed(value, self.names)
        elif lname == b"transfer-encoding":
            self.chunked = True
        # else: hop-by-hop, dropped

    def on_headers_complete(self) -> None:
        self.in_head = False
        if self.head_reads > self.max_head and self._head_size() > self.max_head:
            self._head_too_large()
            raise _HeadTooLarge  # (stops the parser: the call is answered)
        self.head_reads = 0
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # interim (103 Early Hints...): dropped
            return
        headers, names = self.headers, self.names
        if names:
            headers = [(n, v) for n, v in headers if n.lower() not in names]
        length = None
        if self.length_field is not None:
            try:
                length = int(self.length_field)
            except ValueError:  # llhttp accepted it: a list of equal values
                length = int(self.length_field.split(b",")[0])
        response = Response(status, headers, None, length, self.reason or None)  # (positional: per request)
        assert self.call is not None
        self.call.response_head(response, self.parser.should_keep_alive(), length is None and not self.chunked)

    def on_body(self, data: bytes) -> None:
        assert self.call is not None
        self.call.response_body(data)

    def on_message_complete(self) -> None:
        self.in_head = True  # what comes next begins a head
        if self.call is not None and self.call.head_sent:
            self.call.response_complete(self.parser.should_keep_alive())

    def _head_size(self) -> int:
        """The head's size as received (status line and fields, CRLFs included; fields the
        call drops, framing and hop-by-hop, counted at their name's length)."""
        return len(self.reason) + 15 + sum(len(n) + len(v) + 4 for n, v in self.headers)

    def _head_too_large(self) -> None:
        """502 to the client and the connection closed: with its head half read, it can't be reused."""
        if self.call is not None:
            self.call.upstream_failed(UpstreamError(
                502, "upstream-head-too-large",
                f"{self.pool.origin} sent a response head larger than {self.max_head} bytes "
                "(--max-upstream-header-bytes)"))
        self.close()

    def reset_parser(self) -> None:
        """After a response to HEAD (llhttp cannot be told it had no body): a fresh parser, and
        the next bytes begin a head."""
        self.parser = httptools.HttpResponseParser(self)
        self.in_head = True
        self.head_reads = 0

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
