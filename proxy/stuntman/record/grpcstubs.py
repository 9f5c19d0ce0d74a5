"""A recording's gRPC calls as gRPC stubs (the model stub files use): what a replay serves, and
what `stubs from-recording` writes.

How a call is matched, by its kind (as --proto said when it was recorded):
- unary and server-streaming: service, method and the request message as JSON (`json:`
  equality, key order aside);
- client-streaming: every message of the call is one of the recorded call's (`anyOf` their
  JSON); among recorded calls, the one with the fewest distinct messages that accepts them all
  answers (its stub comes first);
- bidirectional: a conversation, message by message: each recorded client message is a stub of
  its own, answered by the response messages that followed it until the next one (those sent
  before the first go with the first); the call's status ends it after its last message;
- a method --proto did not know, or a request message it could not read (or that held a
  secret): service and method alone, as binary HTTP bodies are not compared.

Identical requests that got different answers replay them in recorded order, then repeat the
last: a scenario of their own steps through them (a stub per answer, the first with no state
needed, so a replay in any state starts there). Each answer brings the recorded initial metadata,
messages (JSON, or `rawMessages` when the recording kept bytes), status, details and trailers;
with recorded latency, a latency fault waits as long as the upstream took to its first message,
and the messages after it come at the recorded pace on average (`delayMs`).
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

from ..config.model import STATUS_DETAILS_KEY
from .format import REDACTED, header_pairs, without_paths
from .recorder import UnreadableExchange

_ONE_MESSAGE = ("unary", "server-streaming")    # one request message
_ONE_ANSWER = ("unary", "client-streaming")      # one response message (`message:` in written stubs)
_LAST = 1 << 30  # client streams whose messages cannot be compared rank after those that can


class _Group:
    """The recorded answers to one request (a matcher), in recorded order."""

    def __init__(self, matcher: dict[str, Any], order: int):
        self.matcher, self.order = matcher, order
        self.answers: list[tuple[dict[str, Any], int, str, str]] = []  # (answer, latency ms, file, label)

    def specs(self, name: str, editable: bool) -> Iterator[tuple[dict[str, Any], str]]:
        chained = len(self.answers) > 1
        scenario = f"{name} {self.answers[0][3]}"
        for i, (answer, latency, file, label) in enumerate(self.answers):
            call = self.matcher["grpc"]
            spec: dict[str, Any] = {
                "name": f"{name} {call['service']}/{call['method']} {label}" if editable else f"{name}{label}",
                "request": self.matcher, "grpc": answer}
            if chained:
                spec["scenario"] = scenario
                if i:
                    spec["requiredState"] = f"answer {i + 1}"
                if i < len(self.answers) - 1:
                    spec["newState"] = f"answer {i + 2}"
            if latency:
                spec["faults"] = [{"type": "latency", "fixed_ms": latency, "header": False}]
            yield spec, file


def grpc_stub_specs(calls: list[tuple[dict, dict]], name: str, read_side_file: Callable[[str], bytes],
                    latency: bool = False, editable: bool = False,
                    ignore_body: tuple[str, ...] = ()) -> list[tuple[dict[str, Any], str]]:
    """(stub spec, the exchange file it comes from) for each stub of the recorded calls (index
    line, exchange), in the order they should rank. editable: as a person writes them (JSON
    messages whenever the recording has them, `message:` for one, the same answer given again not
    repeated, names that say the method); otherwise as recorded, byte for byte. ignore_body:
    JSONPaths of request message fields not matched on."""
    groups: dict[str, _Group] = {}
    for entry, record in calls:
        try:
            made = list(_call_stubs(record, read_side_file, latency, editable, ignore_body))
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:  # (a file edited by hand, a side
            raise UnreadableExchange(entry["file"], exc) from None            # file gone)
        for matcher, answer, wait, label, order in made:
            key = json.dumps(matcher, sort_keys=True)
            group = groups.setdefault(key, _Group(matcher, order))
            if editable and any(answer == given for given, *_ in group.answers):
                continue
            group.answers.append((answer, wait, entry["file"], label))
    out: list[tuple[dict[str, Any], str]] = []
    for group in sorted(groups.values(), key=lambda g: g.order):  # (stable: else in recorded order)
        out += group.specs(name, editable)
    return out


def _call_stubs(record: dict, read_side_file: Callable[[str], bytes], latency: bool, editable: bool,
                ignore_body: tuple[str, ...]) -> Iterator[tuple[dict, dict, int, str, int]]:
    """(request matcher, answer, latency ms, label, order) for each stub one call makes."""
    request = record["request"]
    service, _, method = request["method"].strip("/").rpartition("/")
    call = {"service": service, "method": method}
    kind = request.get("kind")
    messages = record["messages"]
    requests = [m for m in messages if m["direction"] == "request"]
    seq = record["seq"]
    if kind == "bidi-streaming":
        segments: list[tuple[dict, list[dict]]] = []
        before: list[dict] = []
        for message in messages:
            if message["direction"] == "request":
                segments.append((message, []))
            else:
                (segments[-1][1] if segments else before).append(message)
        if segments:
            segments[0][1][:0] = before
        for k, (sent, answers) in enumerate(segments, 1):
            body = _json_body(sent, ignore_body)
            answer, wait = _answer(record, answers, sent["atMs"], k == len(segments), read_side_file, latency,
                                   editable, False)
            yield {"grpc": call, **({"body": body} if body else {})}, answer, wait, f"#{seq}.{k}", 0
        return
    body, order = None, 0
    if kind in _ONE_MESSAGE and requests:
        body = _json_body(requests[0], ignore_body)
    elif kind == "client-streaming":
        values = [without_paths(m["json"], ignore_body) for m in requests if "json" in m and not m.get("redacted")]
        distinct = [v for i, v in enumerate(values) if v not in values[:i]]
        if not requests:
            body = {"absent": True}
        elif len(values) < len(requests):
            order = _LAST
        else:
            alike = [_json(v, ignore_body) for v in distinct]
            body = alike[0] if len(alike) == 1 else {"anyOf": alike}
            order = len(distinct)
    responses = [m for m in messages if m["direction"] == "response"]
    first = responses[0]["atMs"] if responses else 0
    since = max((m["atMs"] for m in requests if m["atMs"] <= first), default=0.0)
    answer, wait = _answer(record, responses, since, True, read_side_file, latency, editable,
                           editable and kind in _ONE_ANSWER)
    yield {"grpc": call, **({"body": body} if body else {})}, answer, wait, f"#{seq}", order


def _json_body(message: dict, ignore_body: tuple[str, ...]) -> dict | None:
    """A request message as a body matcher: its JSON, unless it has none or held a secret."""
    if "json" not in message or message.get("redacted"):
        return None
    return _json(without_paths(message["json"], ignore_body), ignore_body)


def _json(value: Any, ignore_body: tuple[str, ...]) -> dict:
    """JSON equality; with fields ignored, what is left must match and they may be anything."""
    return {"json": value, "ignoreExtraElements": True} if ignore_body else {"json": value}


def _answer(record: dict, responses: list[dict], since: float, final: bool, read_side_file: Callable[[str], bytes],
            latency: bool, editable: bool, single: bool) -> tuple[dict[str, Any], int]:
    """The stub's `grpc:` answer for these response messages, and its latency (ms, 0: none).
    since: when the request they answer was sent; final: they end the call (its status goes with
    them); editable: JSON wherever the recording has it; single: one message is `message:`."""
    response = record["response"]
    answer: dict[str, Any] = {}
    metadata = _metadata(response["metadata"], trailers=False)
    if metadata:
        answer["metadata"] = metadata
    # (messages are always said, none too: a `grpc:` with neither messages nor a status passes the call on)
    as_json = all("json" in m for m in responses)
    if single and as_json and len(responses) == 1:
        answer["message"] = responses[0]["json"]
    elif as_json and (editable or not any("base64" in m for m in responses)):
        answer["messages"] = [m["json"] for m in responses]
    else:  # the bytes, as they came
        answer["rawMessages"] = [base64.b64encode(_bytes(m, read_side_file)).decode() for m in responses]
    written = answer.get("message", answer.get("messages"))
    if written is not None and "{{" in json.dumps(written):
        answer["template"] = False  # (recorded text that looks like a template is what was sent)
    wait = 0
    if latency and responses:
        times = [m["atMs"] for m in responses]
        gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
        delay = round(sum(gaps) / len(gaps)) if gaps else 0
        if delay:
            answer["delayMs"] = delay
        wait = max(0, round(times[0] - since) - delay)
    if final and response["code"]:
        answer["status"] = response["status"]
        if response["details"]:
            answer["details"] = response["details"]
        if editable and not responses:  # (a status answers the call: no need to say there are no messages)
            answer.pop("messages", None)
    trailers = _metadata(response["trailers"], trailers=True)
    if trailers:
        answer["trailers"] = trailers
    return answer, wait


def _bytes(message: dict, read_side_file: Callable[[str], bytes]) -> bytes:
    if "base64" in message:
        return base64.b64decode(message["base64"])
    if "file" in message:
        return read_side_file(message["file"])
    raise ValueError(f"a {message['direction']} message at {message['atMs']} ms has JSON only, where the others "
                     "that way have their bytes")


def _metadata(lines: list[str], trailers: bool) -> dict[str, str]:
    """Recorded metadata as a stub sends it: grpc's own keys left to grpc (but a status's details,
    in trailers), a key given twice once (its first value), a hidden -bin value left out."""
    out: dict[str, str] = {}
    for name, value in header_pairs(lines):
        key = name.lower()
        if key.startswith("grpc-") and not (trailers and key == STATUS_DETAILS_KEY):
            continue
        if key.endswith("-bin") and value == REDACTED:
            continue
        out.setdefault(key, value)
    return out
