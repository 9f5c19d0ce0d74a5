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
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from .format import Redactor, body_entry, decode_content, slug

INDEX = "index.jsonl"


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
        """The exchange file's content (redacted) and its side files, built on the loop thread."""
        self.count += 1
        seq = self.count
        name = f"{seq:06d}-{slug(ex.method, ex.path)}"
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in response_headers]
        encoding = next((v for n, v in headers if n.lower() == "content-encoding"), None)
        decoded, undone = decode_content(response_body, encoding)
        side: dict[str, bytes] = {}
        request_entry, big = body_entry(request_body, self.inline_limit, f"bodies/{seq:06d}-request.bin")
        if big is not None:
            side[request_entry["file"]] = big
        response_entry, big = body_entry(decoded, self.inline_limit, f"bodies/{seq:06d}-response.bin")
        if big is not None:
            side[response_entry["file"]] = big
        if undone:
            response_entry["contentEncoding"] = undone
        redact, found = self.redactor, set()
        record = {
            "seq": seq,
            "recordedAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "protocol": f"HTTP/{ex.version}",
            "upstream": upstream,
            "route": ex.route.label if ex.route is not None else None,
            "faults": ex.plan.describe() if ex.plan is not None else [],
            "request": {
                "method": ex.method,
                "url": redact.url(ex.target.decode("latin-1"), found),
                "headers": redact.headers([(n.decode("latin-1"), v.decode("latin-1")) for n, v in ex.fields()], found),
                "body": redact.body(request_entry, found),
            },
            "response": {"status": status, "reason": reason, "headers": redact.headers(headers, found),
                         "body": redact.body(response_entry, found)},
            "timing": {"ttfbMs": round(ttfb * 1000, 3), "totalMs": round(total * 1000, 3)},
        }
        return {"file": f"exchanges/{name}.json", "record": redact.scrub(record, side, found)}, side

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
            line = {"seq": record["seq"], "file": entry["file"], "method": record["request"]["method"],
                    "url": record["request"]["url"], "status": record["response"]["status"]}
            with open(self.directory / INDEX, "ab") as f:
                f.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())

    def close(self) -> None:
        self.writer.shutdown(wait=True)
