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
