"""What an HTTP/1 request head must be, judged as nginx judges it (tests/test_http1_wire.py sends
the same bytes to both): the versions spoken, one Host, a request line with a version. A broken
rule is `Rejected`, raised from a parser callback: the connection answers its status and closes.
"""
from __future__ import annotations

# one shared str per common method and version, not a fresh one per request (and per journal entry)
METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE")}
VERSIONS = {v: v for v in ("1.1", "1.0")}


class Rejected(Exception):
    """Raised from a parser callback: answer `status` and close the connection."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def other_version(version: str) -> str:
    """A version not in VERSIONS. llhttp passes 0.9, 1.0, 1.1 and 2.0 (any other is its "Invalid
    HTTP version", a 400). HTTP/2.0 sent as text is a 505, as nginx answers; "HTTP/0.9" never
    appears on a real 0.9 request line (it has no version), so it is malformed: a 400, as nginx
    answers."""
    if version[0] == "0":
        raise Rejected(400, f"HTTP/{version} is not a version a request line carries")
    raise Rejected(505, f"HTTP/{version} is not spoken on this port (HTTP/1.1 and HTTP/1.0 are)")


def check_hosts(hosts: int, version: str) -> None:
    """RFC 9112 §3.2: HTTP/1.1 exactly one Host field, HTTP/1.0 at most one."""
    if hosts != 1 and (hosts or version == "1.1"):
        raise Rejected(400, "a request needs one Host field (HTTP/1.1 exactly one, HTTP/1.0 at most one), "
                            f"this one has {hosts}")


def versionless(parser, data: bytes) -> bool:
    """A request line that ended (in `data`) with no version: HTTP/0.9, which llhttp takes and then
    waits for header lines a 0.9 client never sends. Asked only while a head is incomplete."""
    return b"\n" in data and parser.get_http_version() == "0.0"


VERSIONLESS = "a request line needs an HTTP version (HTTP/0.9 is not spoken here)"
