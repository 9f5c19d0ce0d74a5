"""HAR 1.2 (browser and proxy exports: Chrome, Firefox, Safari, Charles, Insomnia) into a recording,
and a recording back out as HAR.

Each entry is checked on its own: a bad one is reported by its index and field; with `skip_bad`
the good ones are imported all the same, without it nothing is written. An entry the browser never
got an answer to (blocked, cancelled, failed: `status` 0 or -1, often with an `_error`) is not bad,
it is skipped and counted, like a mitmproxy flow with no response. When nothing at all can be
imported, that is an error and no recording is written. Header values written as numbers or
booleans are taken as their text. Bodies may be missing
(size 0), base64 (`encoding: base64`) or text; a HAR stores content decoded, so a compressed
response keeps its Content-Encoding and is encoded again on replay, like a recording's own.
"""
from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .format import Redactor, body_bytes, header_pairs
from .recorder import Exchanged, Recorder, read_exchanges, side_files


class _Har(BaseModel):
    model_config = ConfigDict(extra="allow")


class HarHeader(_Har):
    name: str
    value: str

    @field_validator("value", mode="before")
    @classmethod
    def _scalar_as_text(cls, value: Any) -> Any:
        """Some tools write `"value": 59` or `true`: the text a header would carry."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return value


class HarPostData(_Har):
    mimeType: str = ""
    text: str | None = None
    encoding: str | None = None


class HarRequest(_Har):
    method: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")
    httpVersion: str = "HTTP/1.1"
    headers: list[HarHeader] = Field(default_factory=list)
    postData: HarPostData | None = None


class HarContent(_Har):
    size: int = -1
    mimeType: str = ""
    text: str | None = None
    encoding: str | None = None


class HarResponse(_Har):
    status: int = Field(ge=100, le=599)
    statusText: str = ""
    headers: list[HarHeader] = Field(default_factory=list)
    content: HarContent = Field(default_factory=HarContent)


class HarTimings(_Har):
    wait: float = 0
    receive: float = 0


class HarEntry(_Har):
    startedDateTime: str | None = None
    time: float = 0
    request: HarRequest
    response: HarResponse
    timings: HarTimings = Field(default_factory=HarTimings)


class HarError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _text(text: str | None, encoding: str | None) -> bytes:
    if not text:
        return b""
    return base64.b64decode(text) if (encoding or "").lower() == "base64" else text.encode("utf-8")


def _entries(data: Any) -> list[Any]:
    if not isinstance(data, dict) or not isinstance(data.get("log"), dict) \
            or not isinstance(data["log"].get("entries"), list):
        raise HarError(["not a HAR file: expected {\"log\": {\"entries\": [...]}}"])
    return data["log"]["entries"]


def _unanswered(item: Any) -> str | None:
    """Why an entry has no response (the browser's `_error`, else its status), if it has none:
    `status` 0 or negative is how Chrome, Firefox and mitmproxy write a blocked, cancelled or
    failed request."""
    response = item.get("response") if isinstance(item, dict) else None
    if not isinstance(response, dict):
        return None
    status = response.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or status > 0:
        return None
    error = response.get("_error") or item.get("_error")
    return str(error) if error else f"status {status}"


def _indexes(indexes: list[int], shown: int = 20) -> str:
    text = ", ".join(str(i) for i in indexes[:shown])
    return text + (f" and {len(indexes) - shown} more" if len(indexes) > shown else "")


@dataclass
class HarImport:
    """What an import did: `count` exchanges written; `problems` (bad entries, imported without
    under `skip_bad`); `unanswered` (index, why) of the entries skipped for having no response."""
    count: int
    problems: list[str] = field(default_factory=list)
    unanswered: list[tuple[int, str]] = field(default_factory=list)

    def unanswered_summary(self) -> str:
        return (f"skipped {len(self.unanswered)} {'entry' if len(self.unanswered) == 1 else 'entries'} "
                f"with no response: {'index' if len(self.unanswered) == 1 else 'indexes'} "
                f"{_indexes([i for i, _ in self.unanswered])}")


def import_har(path: Path, directory: Path, redactor: Redactor, skip_bad: bool = False,
               progress: Callable[[int, int], object] | None = None) -> HarImport:
    """Entries of the HAR at `path` appended to the recording at `directory`. Nothing is written
    (HarError) when an entry is bad and not `skip_bad`, or when no entry at all can be imported."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError) as exc:
        raise HarError([f"{path}: not readable as JSON: {exc}"]) from None
    raw = _entries(data)
    good: list[tuple[int, HarEntry]] = []
    problems: list[str] = []
    unanswered: list[tuple[int, str]] = []
    for i, item in enumerate(raw):
        why = _unanswered(item)
        if why is not None:
            unanswered.append((i, why))
            continue
        try:
            entry = HarEntry.model_validate(item)
            _text(entry.response.content.text, entry.response.content.encoding)  # base64 that decodes?
            good.append((i, entry))
        except (ValidationError, ValueError) as exc:
            if isinstance(exc, ValidationError):
                for err in exc.errors():
                    field = ".".join(str(p) for p in err["loc"])
                    problems.append(f"entries[{i}].{field}: {err['msg']}")
            else:
                problems.append(f"entries[{i}].response.content.text: not valid base64")
    result = HarImport(len(good), problems, unanswered)
    if not raw:
        raise HarError([f"{path}: no entries; nothing imported"])
    if not good and not problems:
        raise HarError([f"nothing to import: none of the {len(raw)} entries has a response "
                        f"(indexes {_indexes([i for i, _ in unanswered])}); no recording written"])
    if not good:
        raise HarError(problems + [f"{len(problems)} problem(s) and no good entry"
                                   + (f" ({result.unanswered_summary()})" if unanswered else "")
                                   + "; nothing imported"])
    if problems and not skip_bad:
        raise HarError(problems + [f"{len(problems)} problem(s); nothing imported (--skip-bad imports the "
                                   f"{len(good)} good entries)"])
    recorder = Recorder(directory, redactor)
    try:
        for n, (_, entry) in enumerate(good, 1):
            recorder.write_now(*recorder.build(_exchanged(entry)))
            if progress is not None:
                progress(n, len(good))
    finally:
        recorder.close()
    return result


def _exchanged(entry: HarEntry) -> Exchanged:
    request, response = entry.request, entry.response
    url = urlsplit(request.url)
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    post = request.postData
    wait = max(entry.timings.wait, 0) / 1000
    return Exchanged(
        method=request.method.upper(), url=target, protocol=request.httpVersion.upper().replace("H2", "HTTP/2"),
        request_headers=[(h.name, h.value) for h in request.headers if not h.name.startswith(":")],
        request_body=_text(post.text, post.encoding) if post else b"",
        status=response.status, reason=response.statusText,
        response_headers=[(h.name, h.value) for h in response.headers if not h.name.startswith(":")],
        response_body=_text(response.content.text, response.content.encoding),
        ttfb=wait, total=max(entry.time, 0) / 1000, upstream=f"{url.scheme}://{url.netloc}",
        response_decoded=True, at=entry.startedDateTime)


def export_har(directory: Path) -> dict[str, Any]:
    """A recording as HAR 1.2."""
    from .. import __version__

    entries = []
    for _, record in read_exchanges(directory):
        request, response = record["request"], record["response"]

        def headers(lines: list[str]) -> list[dict[str, str]]:
            return [{"name": n, "value": v} for n, v in header_pairs(lines)]

        def content(body: dict[str, Any]) -> dict[str, Any]:
            data = body_bytes(body, side_files(directory))
            try:
                return {"size": len(data), "text": data.decode("utf-8")}
            except UnicodeDecodeError:
                return {"size": len(data), "text": base64.b64encode(data).decode(), "encoding": "base64"}

        req_headers = headers(request["headers"])
        mime = next((h["value"] for h in req_headers if h["name"].lower() == "content-type"), "")
        har_request = {"method": request["method"], "url": record["upstream"].rstrip("/") + request["url"],
                       "httpVersion": record.get("protocol", "HTTP/1.1"), "headers": req_headers,
                       "queryString": [], "cookies": [], "headersSize": -1,
                       "bodySize": request["body"].get("size", 0)}
        if request["body"].get("size"):
            har_request["postData"] = {"mimeType": mime, **content(request["body"])}
        resp_headers = headers(response["headers"])
        mime = next((h["value"] for h in resp_headers if h["name"].lower() == "content-type"), "")
        timing = record.get("timing", {})
        entries.append({
            "startedDateTime": record.get("recordedAt") or datetime.now(UTC).isoformat(),
            "time": timing.get("totalMs", 0), "request": har_request,
            "response": {"status": response["status"], "statusText": response.get("reason", ""),
                         "httpVersion": record.get("protocol", "HTTP/1.1"), "headers": resp_headers, "cookies": [],
                         "content": {"mimeType": mime, **content(response["body"])}, "redirectURL": "",
                         "headersSize": -1, "bodySize": response["body"].get("size", 0)},
            "cache": {}, "timings": {"send": 0, "wait": timing.get("ttfbMs", 0),
                                     "receive": max(timing.get("totalMs", 0) - timing.get("ttfbMs", 0), 0)},
        })
    return {"log": {"version": "1.2", "creator": {"name": "stuntman", "version": __version__}, "entries": entries}}


def stderr_progress(done: int, total: int, what: str = "entries") -> None:
    """A progress bar on a terminal (large HAR files take a while); silent otherwise."""
    if not sys.stderr.isatty() or total < 200:
        return
    if done == total or done % max(total // 100, 1) == 0:
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {what}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
