"""A spec as editable stub files (`stuntman import openapi SPEC --out DIR`): one file per
operation, one stub per response and named example, for a team that wants to take over from the
contract and edit what it answers.

The operation's first success response answers plain requests; every other response and named
example answers the requests that ask for it the way they would ask a served contract
(`Prefer: code=404`, `Prefer: example=name`), so a test written against `--openapi` keeps
working against the imported files. Bodies are the spec's examples, else data generated from the
schema with the contract's seed.
"""
from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .document import Operation, Spec
from .select import accepted, explicit_example, first_success, named_example, status_of

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def file_name(op: Operation) -> str:
    """A file name for the operation's stubs: its operationId, else method and path."""
    base = op.operation_id or f"{op.method.lower()}{op.path}"
    return _UNSAFE.sub("_", base).strip("_.")[:100] or op.method.lower()


def operation_stubs(spec: Spec, op: Operation, base_path: str, seed: int, generate: Callable[..., Any]) -> list[dict]:
    """The stubs of one operation: its first success response plain, every other response (and
    named example) behind the Prefer header that selects it."""
    stubs: list[dict] = []
    primary = first_success(op)
    path = (base_path + op.path) or "/"
    label = op.operation_id or op.label
    for key, response in op.responses.items():
        status = status_of(key)
        content = response.get("content") or {}
        media_type = accepted(None, list(content)) if content else None
        media = content.get(media_type) if media_type else None
        names = list((media or {}).get("examples") or {}) if isinstance(media, dict) else []
        for example in [None, *names]:
            stub: dict[str, Any] = {"name": f"{label} {key}" + (f" {example}" if example else ""),
                                    "request": {"method": op.method, "path": path}}
            prefer = [] if key == primary else [f"code={status}"]
            if example is not None:
                prefer.append(f"example={example}")
            if prefer:
                stub["request"]["headers"] = {"Prefer": {"contains": ", ".join(prefer)}}
            answer: dict[str, Any] = {"status": status}
            headers = {name: _header_value(spec, header, f"{seed}:{path}:{name}", generate)
                       for name, header in (response.get("headers") or {}).items()
                       if name.lower() not in ("content-type", "content-length")}
            if media_type is not None and isinstance(media, dict):
                headers["Content-Type"] = media_type
                value = _body(spec, media, example, f"{seed}:{op.method}:{path}", generate)
                if isinstance(value, str) and "json" not in media_type:
                    answer["body"] = value
                else:
                    answer["json"] = value
            if headers:
                answer["headers"] = headers
            stub["response"] = answer
            stubs.append(stub)
    return stubs


def _body(spec: Spec, media: dict, example: str | None, seed: str, generate: Callable[..., Any]) -> Any:
    if example is not None:
        found, value = named_example(spec, media, example)
        if found:
            return value
    found, value = explicit_example(spec, media)
    if found:
        return value
    return generate(media.get("schema") or {}, seed)


def _header_value(spec: Spec, header: Any, seed: str, generate: Callable[..., Any]) -> str:
    header = spec.resolve(header)
    if not isinstance(header, dict):
        return ""
    value = header["example"] if "example" in header else generate(header.get("schema") or {"type": "string"}, seed)
    return value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def spec_stubs(spec: Spec, seed: int | None = None) -> Iterator[tuple[str, list[dict]]]:
    """(file name, stubs) per operation, in the spec's order; names made unique."""
    from .generate import Generator

    generator = Generator(spec)
    seed = seed if seed is not None else zlib.crc32(Path(spec.file).stem.encode())  # a served contract's
    base = spec.base_paths[0] if spec.base_paths else ""
    used: set[str] = set()

    def generate(schema: Any, value_seed: str) -> Any:
        return generator.value(schema, value_seed)

    for op in spec.operations:
        name = file_name(op)
        unique, n = name, 2
        while unique.lower() in used:
            unique, n = f"{name}_{n}", n + 1
        used.add(unique.lower())
        yield unique, operation_stubs(spec, op, base, seed, generate)
