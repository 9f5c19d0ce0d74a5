"""HTTP field semantics that hold whatever the version (RFC 9110), shared by the protocols and
the upstream client: which fields belong to one connection and are never forwarded."""
from __future__ import annotations

# RFC 9110 §7.6.1: hop-by-hop fields, never forwarded (plus whatever `Connection` lists).
HOP_BY_HOP = frozenset({
    b"connection", b"proxy-connection", b"keep-alive", b"te", b"transfer-encoding", b"upgrade",
    b"trailer",
})


def field_dict(fields: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Fields as a dict: lower-cased names, repeated fields joined with ', ' (RFC 9110 §5.3)."""
    out: dict[str, str] = {}
    for name, value in fields:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def listed(value: bytes, names: set[bytes] | None) -> set[bytes] | None:
    """Add the field names a Connection header declares hop-by-hop (RFC 9110 §7.6.1)."""
    if len(value) == 10 and value.lower() == b"keep-alive":  # what most peers send: nothing listed
        return names
    for token in value.split(b","):
        token = token.strip().lower()
        if token and token != b"keep-alive" and token != b"close":
            names = names or set()
            names.add(token)
    return names
