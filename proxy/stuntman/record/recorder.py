"""The recorder: the pipeline stage after an upstream response, writing each exchange to its
recording before the client gets the response.

Crash-safe: side files and the exchange file are written to a temporary name, fsynced and renamed
into place; then one line is appended to index.jsonl and fsynced. A kill -9 at any moment leaves
every exchange whose response was delivered complete and parseable (at worst a torn last index
line, which the reader skips, and an orphan temporary file). Writes happen on a worker thread, in
order, so the event loop never waits on the disk.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .format import Redactor, body_entry, decode_content, slug

INDEX = "index.jsonl"


@dataclass
class Exchanged:
    """One exchange as plain values: what a recording is made of, whatever it came from."""

    method: str
    url: str                                   # path and query
    protocol: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    response_body: bytes
    ttfb: float                                # seconds
    total: float
    upstream: str
    route: str | None = None
    faults: list = field(default_factory=list)
    response_decoded: bool = False             # the body is already decoded (Content-Encoding kept)
    at: str | None = None                      # when (ISO 8601); default: now


def read_index(directory: Path) -> list[dict]:
    """The index's entries; a torn last line (a crash mid-append) is skipped."""
    path = directory / INDEX
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


class UnreadableExchange(ValueError):
    def __init__(self, file: str, cause: Exception):
        super().__init__(f"unreadable exchange: {cause}")
        self.file = file


GRPC = "grpc"  # the protocol of a recorded gRPC call (record/grpc.py); HTTP exchanges say HTTP/1.1


def read_exchanges(directory: Path, grpc: bool = False):
    """(index line, exchange) for each exchange of a recording, in recorded order. The HTTP
    exchanges only, unless the reader understands gRPC calls too (grpc=True): HAR export, drift
    and contract checks are about HTTP."""
    for line in read_index(directory):
        if line.get("protocol") == GRPC and not grpc:
            continue
        try:
            yield line, json.loads((directory / line["file"]).read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise UnreadableExchange(str(line.get("file")), exc) from None


def side_files(directory: Path):
    """The reader body_bytes() needs for the bodies a recording keeps in side files."""
    return lambda name: (directory / name).read_bytes()


def recording_dir(recordings: Path, name: str) -> Path:
    """A recording by name lives inside `recordings` (never outside); an absolute path (given on
    the command line) is taken as it is."""
    from ..config.paths import recording_name_problem, resolve_inside

    if "\x00" in name:  # no file name holds one, absolute or not
        raise ValueError(f"a recording name cannot hold a NUL byte: {name!r}")
    if Path(name).is_absolute():
        return Path(name)
    problem = recording_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return resolve_inside(recordings, name)


RECORDING_PARTS = ("exchanges", "bodies")  # what a recorder writes, besides its index


def clear_recording(directory: Path) -> None:
    """Remove a recording's exchanges: what replacing it (--overwrite) removes. The index goes
    first, so a crash part way leaves an empty recording, never an index naming missing files;
    anything else in the directory stays."""
    (directory / INDEX).unlink(missing_ok=True)
    for part in RECORDING_PARTS:
        shutil.rmtree(directory / part, ignore_errors=True)


def replace_recording(directory: Path, fresh: Path) -> None:
    """Put the recording written in `fresh` (a directory on the same file system) in the place of
    `directory`'s exchanges; `fresh` is removed. Its index moves last: until then the recording
    reads as empty, never half old and half new."""
    clear_recording(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for part in RECORDING_PARTS:
        if (fresh / part).exists():
            os.replace(fresh / part, directory / part)
    if (fresh / INDEX).exists():
        os.replace(fresh / INDEX, directory / INDEX)
    _fsync_dir(directory)
    shutil.rmtree(fresh, ignore_errors=True)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Recorder:
    """Appends exchanges to one recording directory."""

    def __init__(self, directory: Path, redactor: Redactor, inline_limit: int = 64 * 1024):
        self.directory = directory
        self.redactor = redactor
        self.inline_limit = inline_limit
        (directory / "exchanges").mkdir(parents=True, exist_ok=True)
        (directory / "bodies").mkdir(exist_ok=True)
        self.count = max((e.get("seq", 0) for e in read_index(directory)), default=0)
        self.lock = threading.Lock()
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stuntman-recorder")
        self.saved: list = []  # callbacks after each save (record-missing reloads the replay)

    def exchange(self, ex, upstream: str, request_body: bytes, status: int, reason: str,
                 response_headers: list[tuple[bytes, bytes]], response_body: bytes, ttfb: float, total: float
                 ) -> tuple[dict, dict[str, bytes]]:
        """A proxied exchange's file content (redacted) and side files, built on the loop thread."""
        return self.build(
            Exchanged(ex.method, ex.target.decode("latin-1"), f"HTTP/{ex.version}",
                      [(n.decode("latin-1"), v.decode("latin-1")) for n, v in ex.fields()], request_body,
                      status, reason, [(n.decode("latin-1"), v.decode("latin-1")) for n, v in response_headers],
                      response_body, ttfb, total, upstream,
                      ex.route.label if ex.route is not None else None,
                      ex.plan.describe() if ex.plan is not None else []))

    def next_seq(self) -> int:
        """The number of the next exchange (on the loop thread, as the exchange is built)."""
        self.count += 1
        return self.count

    def build(self, x: Exchanged) -> tuple[dict, dict[str, bytes]]:
        """The exchange file's content (redacted) and its side files."""
        seq = self.next_seq()
        name = f"{seq:06d}-{slug(x.method, x.url)}"
        encoding = next((v for n, v in x.response_headers if n.lower() == "content-encoding"), None)
        if x.response_decoded:  # (a HAR's content is stored decoded; the header still says how it came)
            decoded, undone = x.response_body, (encoding.strip().lower() if encoding else None)
        else:
            decoded, undone = decode_content(x.response_body, encoding)
        side: dict[str, bytes] = {}
        request_entry, big = body_entry(x.request_body, self.inline_limit, f"bodies/{seq:06d}-request.bin")
        if big is not None:
            side[request_entry["file"]] = big
        response_entry, big = body_entry(decoded, self.inline_limit, f"bodies/{seq:06d}-response.bin")
        if big is not None:
            side[response_entry["file"]] = big
        if undone:
            response_entry["contentEncoding"] = undone
        redact, found = self.redactor, set[str]()
        record = {
            "seq": seq,
            "recordedAt": x.at or datetime.now(UTC).isoformat(timespec="milliseconds"),
            "protocol": x.protocol,
            "upstream": x.upstream,
            "route": x.route,
            "faults": x.faults,
            "request": {
                "method": x.method,
                "url": redact.url(x.url, found),
                "headers": redact.headers(x.request_headers, found),
                "body": redact.body(request_entry, found),
            },
            "response": {"status": x.status, "reason": x.reason, "headers": redact.headers(x.response_headers, found),
                         "body": redact.body(response_entry, found)},
            "timing": {"ttfbMs": round(x.ttfb * 1000, 3), "totalMs": round(x.total * 1000, 3)},
        }
        return {"file": f"exchanges/{name}.json", "record": redact.scrub(record, side, found)}, side

    def write_now(self, entry: dict, side: dict[str, bytes]) -> None:
        """Synchronously (an import: no event loop to spare)."""
        self._write(entry, side)

    async def save(self, entry: dict, side: dict[str, bytes]) -> None:
        await asyncio.get_running_loop().run_in_executor(self.writer, self._write, entry, side)
        for callback in self.saved:
            callback()

    def _write(self, entry: dict, side: dict[str, bytes]) -> None:
        with self.lock:
            for name, data in side.items():
                _write_atomic(self.directory / name, data)
            record = entry["record"]
            _write_atomic(self.directory / entry["file"],
                          json.dumps(record, indent=2, ensure_ascii=False).encode() + b"\n")
            _fsync_dir(self.directory / "exchanges")
            line = entry.get("index") or {  # (a gRPC call brings its own)
                "seq": record["seq"], "file": entry["file"], "method": record["request"]["method"],
                "url": record["request"]["url"], "status": record["response"]["status"]}
            with open(self.directory / INDEX, "ab") as f:
                f.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())

    def close(self) -> None:
        self.writer.shutdown(wait=True)
