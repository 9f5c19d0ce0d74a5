"""Paths named in configuration (body files, recordings) stay inside the directory they belong to."""
from __future__ import annotations

from pathlib import Path


def resolve_inside(root: Path, relative: str) -> Path:
    """root/relative, refusing anything that resolves outside root (.., absolute, symlinks)."""
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise ValueError(f"{relative!r} escapes the stubs directory")
    return target


def recording_name_problem(name: str) -> str | None:
    """What is wrong with a recording's name (a relative path inside --recordings), or None.
    The rules of file names: no NUL or control characters (an OS call would refuse them on every
    request), no absolute path, no `.`/`..` segments, segments of at most 255 bytes."""
    if not name:
        return "a recording name cannot be empty"
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return f"a recording name cannot hold control characters (NUL, newline, ...): {name!r}"
    if name.startswith(("/", ".")) or any(part in (".", "..") for part in name.split("/")):
        return f"a recording name is a relative path inside --recordings: {name!r}"
    if any(len(part.encode()) > 255 for part in name.split("/")):
        return f"a recording name's parts are at most 255 bytes: {name[:40]!r}..."
    return None
