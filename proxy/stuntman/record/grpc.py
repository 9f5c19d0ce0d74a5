"""Recording gRPC calls: each call passed through to an upstream, once it is over, becomes one
exchange file of the recording HTTP exchanges go to, written by the same crash-safe Recorder.

    exchanges/000004-GRPC-shop-v1-Orders-GetOrder.json
      request:  method (/package.Service/Method), kind and type (when --proto knows it), metadata
      messages: every message each way in the order they passed, with its time offset: as JSON
                (protobuf's JSON mapping) when --proto reads it, else base64; large ones in side
                files (bodies/000004-message-2.bin), as HTTP bodies
      response: type, the upstream's initial metadata, status (name and number), details, trailers
      timing:   ttfbMs (to the first response message), totalMs

A message is kept as JSON alone only when the JSON gives its bytes back; if one message of a
direction does not (fields the .proto does not know, an encoding protobuf would not write), every
message that way keeps its bytes too, and a replay sends the bytes. Secrets go as in HTTP
recordings: metadata by name (authorization...), JSON fields by name and JSONPath, and every value
hidden so is masked wherever else the call repeats it (in message bytes with as many `*`, so the
message still parses).

A call is written only when it is whole: one whose messages outgrew what the listener kept
(`--max-body-bytes` each way) is not, nor one its client ended (cancelled, or past its
deadline). The listener tells the recording of a call once it is answered and waits for the
file (written on the recorder's thread) before the status goes out: as for HTTP, a client that has
its answer has it recorded.
"""
from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime
from time import monotonic
from typing import TYPE_CHECKING, Any

from .format import REDACTED, slug

if TYPE_CHECKING:
    from ..exchange import Exchange
    from .format import Redactor
    from .recorder import Recorder

log = logging.getLogger("stuntman")

# ended by the client, not answered by the upstream: with no details and no trailers of the upstream's
_CLIENT_ENDINGS = ("cancelled", "deadline exceeded")


class GrpcRecording:
    """The listener's hook (`listener.finished`) that records the calls it passed through."""

    def __init__(self, name: str, recorder: Recorder, upstream: str | None, journal_keep: int):
        self.name = name                  # the recording's name, for messages
        self.recorder = recorder
        self.upstream = upstream          # --grpc-upstream, the default target
        self.journal_keep = journal_keep  # bytes each way the journal keeps of a call's messages

    def __call__(self, ex: Exchange) -> asyncio.Future[None] | None:
        """The file being written (the listener waits for it before the call's status), or None."""
        try:
            if ex.action == "proxy":
                return self._record(ex)
        except Exception:  # a defect must not break the listener: the call is answered already
            log.exception("recording %s: cannot record the gRPC call %s", self.name, ex.path)
            ex.error = "record-failed"
        finally:  # the journal keeps what it would have kept had no recording raised the budget
            _trim(ex.grpc, self.journal_keep)
        return None

    def _record(self, ex: Exchange) -> asyncio.Future[None] | None:
        outcome = ex.grpc
        if outcome.truncated:
            log.error("recording %s: the gRPC call %s is not recorded: its messages passed --max-body-bytes "
                      "each way", self.name, ex.path)
            ex.error = "record-failed"
            return None
        if outcome.code.value[1] in _CLIENT_ENDINGS and not outcome.details and not outcome.trailers:
            log.info("recording %s: the gRPC call %s is not recorded: its client ended it (%s)", self.name,
                     ex.path, outcome.code.name)
            return None
        if ex.plan is not None and ex.plan.abort is not None:  # (an abort_stream cut what the upstream said)
            log.info("recording %s: the gRPC call %s is not recorded: a fault cut its answer", self.name, ex.path)
            return None
        route_upstream = getattr(ex.route.action, "upstream", None) if ex.route is not None else None
        entry, side = call_entry(self.recorder, ex, route_upstream or self.upstream or "")
        future = asyncio.get_running_loop().run_in_executor(self.recorder.writer, self.recorder.write_now,
                                                            entry, side)

        def written(done: asyncio.Future[None]) -> None:
            error = done.exception() if not done.cancelled() else None
            if done.cancelled() or error is not None:
                log.error("recording %s: cannot write %s: %s", self.name, entry["file"], error or "cancelled")
                ex.error = "record-failed"  # (the journal holds ex: its entry says so)
                return
            for callback in self.recorder.saved:  # (record-missing: the replay reloads)
                callback()
        future.add_done_callback(written)
        return future


def call_entry(recorder: Recorder, ex: Exchange, upstream: str) -> tuple[dict, dict[str, bytes]]:
    """The exchange file's content (redacted), its index line and side files, built on the loop."""
    outcome = ex.grpc
    seq = recorder.next_seq()
    redact, found = recorder.redactor, set[str]()
    method = outcome.method
    request_metadata = redact.headers([(n.decode("latin-1"), v.decode("latin-1")) for n, v in ex.fields()], found)
    initial = redact.headers(_pairs(outcome.initial_metadata, skip="x-stuntman-"), found)
    trailers = redact.headers(_pairs(outcome.trailers), found)
    messages, side = _messages(ex, redact, found, recorder.inline_limit, seq)
    number, words = outcome.code.value
    status = words.upper().replace(" ", "_")
    responses = [m["atMs"] for m in messages if m["direction"] == "response"]
    total = round(((ex.ended or monotonic()) - ex.started) * 1000, 3)
    record = {
        "seq": seq,
        "recordedAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "protocol": "grpc",
        "upstream": upstream,
        "route": ex.route.label if ex.route is not None else None,
        "faults": ex.plan.describe() if ex.plan is not None else [],
        "request": {"method": ex.path, "kind": method.kind if method is not None else None,
                    "type": method.input.full_name if method is not None else None, "metadata": request_metadata},
        "messages": messages,
        "response": {"type": method.output.full_name if method is not None else None, "metadata": initial,
                     "status": status, "code": number, "details": outcome.details, "trailers": trailers},
        "timing": {"ttfbMs": responses[0] if responses else total, "totalMs": total},
    }
    record = redact.scrub(record, side, found)
    file = f"exchanges/{seq:06d}-{slug('GRPC', ex.path)}.json"  # (000004-GRPC-shop-v1-Orders-GetOrder)
    index = {"seq": seq, "file": file, "protocol": "grpc", "method": "POST", "url": ex.path, "status": 200,
             "grpcStatus": status}
    return {"file": file, "record": record, "index": index}, side


def _pairs(metadata: Any, skip: str | None = None) -> list[tuple[str, str]]:
    """Metadata as (name, text) pairs: bytes (under -bin keys) in base64, as on the wire."""
    return [(key, base64.b64encode(value).decode() if isinstance(value, bytes) else value)
            for key, value in metadata if skip is None or not key.startswith(skip)]


class _Message:
    """One message on its way into the file: its bytes and, when --proto reads it, its JSON."""

    __slots__ = ("response", "at", "data", "json", "redacted")

    def __init__(self, response: bool, at: float, data: bytes, value: Any):
        self.response, self.at, self.data, self.json = response, at, data, value
        self.redacted = False


def _messages(ex: Exchange, redact: Redactor, found: set[str], inline_limit: int,
              seq: int) -> tuple[list[dict], dict[str, bytes]]:
    """The message entries and their side files. Two passes: the first finds every secret (JSON
    fields by name), the second hides them wherever they are (the bytes of every message)."""
    outcome = ex.grpc
    kept = []
    for response, at, data in outcome.messages:
        value = outcome.message_json(response, at, data).get("json") if len(data) <= inline_limit else None
        message = _Message(response, at, data, value)
        if value is not None:
            hidden = redact.body({"json": value}, found)
            if hidden.get("redacted"):
                message.json, message.redacted = hidden["json"], True
                message.data = _encode(outcome, response, hidden["json"])
        kept.append(message)
    secrets = sorted((s.encode() for s in found if len(s) >= 4 and s != REDACTED), key=len, reverse=True)
    for message in kept:
        masked = message.data
        for secret in secrets:
            masked = masked.replace(secret, b"*" * len(secret))  # (as long: the message still parses)
        if masked != message.data:
            message.data, message.redacted = masked, True
            if message.json is not None:
                message.json = outcome.message_json(message.response, 0, masked).get("json")
    raw = {way: any(not _exact(outcome, m, inline_limit) for m in kept if m.response is way) for way in (False, True)}
    entries, side = [], {}
    for number, message in enumerate(kept, 1):
        entry: dict[str, Any] = {"direction": "response" if message.response else "request",
                                 "atMs": round(message.at * 1000, 3), "size": len(message.data)}
        if len(message.data) > inline_limit:
            entry["file"] = f"bodies/{seq:06d}-message-{number}.bin"
            side[entry["file"]] = message.data
        else:
            if message.json is not None:
                entry["json"] = message.json
            if raw[message.response]:
                entry["base64"] = base64.b64encode(message.data).decode()
        if message.redacted:
            entry["redacted"] = True
        entries.append(entry)
    return entries, side


def _message_class(outcome: Any, response: bool) -> Any:
    method = outcome.method
    return outcome.protos.message_class(method.output if response else method.input)


def _exact(outcome: Any, message: _Message, inline_limit: int) -> bool:
    """Its JSON gives its bytes back (so the JSON alone can stand for it in the file)."""
    if message.json is None or len(message.data) > inline_limit:
        return False
    from google.protobuf import json_format

    try:
        rebuilt = json_format.ParseDict(message.json, _message_class(outcome, message.response)())
    except (json_format.ParseError, TypeError, ValueError):  # (a redacted value of a field that is not text)
        return False
    return rebuilt.SerializeToString() == message.data


def _encode(outcome: Any, response: bool, value: Any) -> bytes:
    """A message with redacted fields, as bytes: with the marker where the field is text, without
    the field where it is not (the secret's bytes never reach the file)."""
    from google.protobuf import json_format

    cls = _message_class(outcome, response)
    try:
        return json_format.ParseDict(value, cls()).SerializeToString()
    except (json_format.ParseError, TypeError, ValueError):
        return json_format.ParseDict(_without_marker(value), cls(), ignore_unknown_fields=True).SerializeToString()


def _without_marker(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_marker(v) for k, v in value.items() if v != REDACTED}
    if isinstance(value, list):
        return [_without_marker(v) for v in value if v != REDACTED]
    return value


def _trim(outcome: Any, keep: int) -> None:
    """Back to the journal's budget: the messages it would have kept each way, in order."""
    left = {False: keep, True: keep}
    kept = []
    for message in outcome.messages:
        size = len(message[2])
        if left[message[0]] >= size:
            left[message[0]] -= size
            kept.append(message)
        else:
            left[message[0]] = 0
            outcome.truncated = True
    outcome.messages = kept
