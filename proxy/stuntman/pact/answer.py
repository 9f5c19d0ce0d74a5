"""An interaction's response as it is sent: the pact's example, with its generators (v3, v4)
filling the values they name (status, headers, body paths), seeded so the same request gets the
same answer, and a Content-Type the body's type gives when the pact declares none."""
from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .document import Body, Response
from .paths import PathError, Token, parse, weight

Answer = tuple[int, list[tuple[str, str]], bytes]


def static_answer(response: Response) -> Answer | None:
    """The answer when nothing in it is generated (sent as is every time), else None."""
    if response.generators:
        return None
    return response.status, _headers(response), response.body.content


def render(response: Response, rng: random.Random, context: Mapping[str, Any], now: datetime) -> Answer:
    from .generate import generate

    generators = response.generators
    status = response.status
    if isinstance(generators.get("status"), dict):
        status = _int(generate(generators["status"], status, rng, context, now), status)
    headers = _headers(response)
    for name, spec in (generators.get("header") or generators.get("headers") or {}).items():
        if isinstance(spec, dict):
            for i, (n, v) in enumerate(headers):
                if n.lower() == str(name).lower():
                    value = generate(spec, v, rng, context, now)
                    headers[i] = (n, value if isinstance(value, str) else json.dumps(value))
    body = response.body.content
    body_generators = generators.get("body") or {}
    if body_generators and response.body.value is not None:
        value = _generated(response.body.value, body_generators, rng, context, now)
        body = json.dumps(value, ensure_ascii=False).encode()
    elif body_generators.get("$") is not None and response.body.state == "present":
        body = str(generate(body_generators["$"], body.decode("utf-8", "replace"), rng, context, now)).encode()
    return status, headers, body


def _int(value: Any, fallback: int) -> int:
    try:
        code = int(value)
    except (TypeError, ValueError):
        return fallback
    return code if 100 <= code <= 599 else fallback


def _headers(response: Response) -> list[tuple[str, str]]:
    headers = list(response.headers)
    if response.body.state == "present" and not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", content_type_of(response.body)))
    return headers


def content_type_of(body: Body) -> str:
    if body.content_type:
        return body.content_type
    from .content import sniff

    found = sniff(body.content)
    return "application/json" if found == "application/json" else found


def _generated(value: Any, generators: Mapping[str, Any], rng: random.Random, context: Mapping[str, Any],
               now: datetime) -> Any:
    """The body value with every path a generator names replaced (a star reaches every element)."""
    from .generate import generate

    compiled: list[tuple[tuple[Token, ...], dict]] = []
    for expression, spec in generators.items():
        try:
            compiled.append((parse(expression), spec))
        except PathError:
            continue  # (checked at load)

    def walk(node: Any, at: list[str]) -> Any:
        for tokens, spec in compiled:
            if len(tokens) == len(at) and weight(tokens, at):
                return generate(spec, node, rng, context, now)
        if isinstance(node, dict):
            return {k: walk(v, [*at, k]) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, [*at, str(i)]) for i, v in enumerate(node)]
        return node

    return walk(value, ["$"])
