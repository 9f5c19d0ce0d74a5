"""The stub sources: one response (`response:`), or a sequence of them (`responses:`).

A static response is built once at load and shared (each protocol renders it once, into its
cache); a templated one is rendered per request from compiled templates.
"""
from __future__ import annotations

import base64
import json
import mimetypes
import zlib
from pathlib import Path
from typing import Any

from ..config.errors import ConfigValueError
from ..config.model import ResponseSpec
from ..config.paths import resolve_inside
from ..response import SERVER, Response
from .responder import BuildContext, WholeResponse, source
from .template import Template, has_template, json_string_escape


class SeededFaker:
    """Calling it gives the stub's Faker, created on first use and seeded per stub so its values
    repeat run after run (most stubs never call it: it must cost next to nothing)."""

    __slots__ = ("seed", "instance")

    def __init__(self, seed: int | None, name: str | None, source: str):
        self.seed = seed if seed is not None else zlib.crc32((name or source).encode())
        self.instance: Any = None

    def __call__(self) -> Any:
        if self.instance is None:
            from faker import Faker

            self.instance = Faker()
            self.instance.seed_instance(self.seed)
        return self.instance


class StubResponse:
    __slots__ = ("status", "static", "response", "body", "header_templates", "body_template", "uses_body")

    def __init__(self, spec: ResponseSpec, root: Path, faker: SeededFaker, loc: tuple):
        self.status = spec.status
        headers = [(k, v) for k, vs in spec.headers.items() for v in ([vs] if isinstance(vs, str) else vs)]
        names = {k.lower() for k, _ in headers}
        body_text: str | None = None
        body_bytes = b""
        escape = None
        if spec.body_file is not None:
            try:
                path = resolve_inside(root, spec.body_file)
                body_bytes = path.read_bytes()
            except (OSError, ValueError) as exc:
                raise ConfigValueError(loc + ("bodyFile",), str(exc)) from None
            ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        elif spec.base64_body is not None:
            body_bytes = base64.b64decode(spec.base64_body)
            ctype = "application/octet-stream"
        elif spec.json_ is not None:
            body_text = json.dumps(spec.json_, ensure_ascii=False, indent=None)
            escape = json_string_escape
            ctype = "application/json"
        else:
            body_text = spec.body or ""
            ctype = "text/plain; charset=utf-8"
        if "content-type" not in names and (spec.body_file or spec.json_ is not None or spec.body
                                            or spec.base64_body):
            headers.append(("Content-Type", ctype))
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "connection", "transfer-encoding")]

        templated = spec.template
        if templated is None:
            templated = any(has_template(v) for _, v in headers) or (body_text is not None and has_template(body_text))
        self.static = not templated
        self.uses_body = False
        if self.static:
            body_bytes = body_text.encode() if body_text is not None else body_bytes
            self.response = Response(spec.status, [SERVER, *((k.encode("latin-1"), v.encode("latin-1"))
                                                             for k, v in headers)],
                                     body_bytes, dated=True, cacheable=True)
            self.body = body_bytes
            return
        self.header_templates: list[tuple[bytes, Template]] = []
        for k, v in headers:
            try:
                self.header_templates.append((k.encode("latin-1"), Template(v, faker)))
            except ValueError as exc:
                raise ConfigValueError(loc + ("headers", k), str(exc)) from None
        try:
            self.body_template = Template(body_text, faker, escape) if body_text is not None else None
        except ValueError as exc:
            which = "json" if escape else "body"
            raise ConfigValueError(loc + (which,), str(exc)) from None
        self.body = body_bytes
        sources = [t.source for _, t in self.header_templates]
        if self.body_template:
            sources.append(self.body_template.source)
        self.uses_body = any("body" in s for s in sources)

    def render(self, ex) -> Response:
        if self.static:
            return self.response
        body = self.body_template.render(ex).encode() if self.body_template else self.body
        headers = [SERVER]
        for name, tpl in self.header_templates:
            value = tpl.render(ex)
            if "\r" in value or "\n" in value:  # request data must never split the response head
                value = value.replace("\r", " ").replace("\n", " ")
            headers.append((name, value.encode("latin-1", "replace")))
        return Response(self.status, headers, body, dated=True)


class StubResponder(WholeResponse):
    """`response:` — the same response every time."""

    __slots__ = ("response", "needs_body")

    def __init__(self, response: StubResponse):
        self.response = response
        self.needs_body = response.uses_body

    def respond(self, ex, state) -> Response:
        return self.response.render(ex)


class SequenceResponder(WholeResponse):
    """`responses:` — each in turn, per session; then the last again, or from the start (cycle)."""

    __slots__ = ("responses", "cycle", "key", "needs_body")

    def __init__(self, responses: list[StubResponse], cycle: bool, key: str):
        self.responses = responses
        self.cycle = cycle
        self.key = key
        self.needs_body = any(r.uses_body for r in responses)

    def respond(self, ex, state) -> Response:
        responses = self.responses
        return responses[state.next_position(ex, self.key, len(responses), self.cycle)].render(ex)


def _faker(ctx: BuildContext) -> SeededFaker:
    return SeededFaker(ctx.spec.seed, ctx.spec.name, ctx.source)


@source("responses")
def build_sequence(ctx: BuildContext) -> SequenceResponder:
    faker, specs = _faker(ctx), ctx.spec.responses or []
    return SequenceResponder([StubResponse(r, ctx.root, faker, ("responses", i)) for i, r in enumerate(specs)],
                             ctx.spec.sequence == "cycle", ctx.route_id)


@source("response")
def build_stub(ctx: BuildContext) -> StubResponder:
    assert ctx.spec.response is not None
    return StubResponder(StubResponse(ctx.spec.response, ctx.root, _faker(ctx), ("response",)))
