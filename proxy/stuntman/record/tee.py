"""Recording as a tee on a proxied exchange: it keeps what the recording needs as the exchange
streams past (the whole request body; when the response head came), then writes the exchange
durably before the client hears back (crash-safe: an answered exchange is on disk)."""
from __future__ import annotations

import asyncio
import logging
from time import monotonic
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..exchange import Exchange
    from ..response import Response
    from .recorder import Recorder

log = logging.getLogger("stuntman")


class RecordingTee:
    def __init__(self, name: str, recorder: Recorder, upstream: str, body_timeout: float):
        self.name = name              # the recording's name under --recordings
        self.recorder = recorder
        self.upstream = upstream      # the upstream's URL, as the recording names it
        self.body_timeout = body_timeout
        self.request_body: list[bytes] = []
        self.request_read = asyncio.Event()  # the whole request is in
        self.head_at = 0.0

    def request_chunk(self, chunk: bytes) -> None:
        self.request_body.append(chunk)

    def request_done(self) -> None:
        self.request_read.set()

    def response_head(self) -> None:
        self.head_at = monotonic()

    async def save(self, ex: Exchange, response: Response, fields: list[tuple[bytes, bytes]]) -> None:
        """Write the exchange (its response whole). A failure to record it, in writing or before,
        is said in the journal (`record-failed`) and logged; the response still goes out."""
        now = monotonic()
        if not self.request_read.is_set():  # the upstream answered before the request was all in
            try:
                await asyncio.wait_for(self.request_read.wait(), self.body_timeout)
            except TimeoutError:
                pass  # recorded with what arrived; the protocol's body timeout deals with the client
        try:
            entry, side = self.recorder.exchange(
                ex, self.upstream, b"".join(self.request_body), response.status,
                (response.reason or b"").decode("latin-1"), fields, response.body or b"",
                self.head_at - ex.started, now - ex.started)
        except Exception:  # a defect must not keep the client from its answer
            log.exception("recording %s: cannot record %s %s", self.name, ex.method, ex.path)
            ex.error = "record-failed"
            return
        try:
            await self.recorder.save(entry, side)
        except OSError as exc:
            log.error("recording %s: cannot write %s: %s", self.name, entry["file"], exc)
            ex.error = "record-failed"
        except Exception:  # (a recorder shut down under it, a defect): the client still gets its answer
            log.exception("recording %s: cannot write %s", self.name, entry["file"])
            ex.error = "record-failed"
