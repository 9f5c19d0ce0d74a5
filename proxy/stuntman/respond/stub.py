"""Stub responses: rendered to bytes once at load when static, else from compiled templates."""
from __future__ import annotations

import base64
import json
import mimetypes
from pathlib import Path

from ..config.errors import ConfigValueError
from ..config.model import ResponseSpec
from ..config.paths import resolve_inside
from ..http1.wire import connection_line, date_cache, status_line
from .template import Template, has_template, json_string_escape


class StubResponse:
    __slots__ = ("status", "static", "head", "body", "header_templates", "body_template", "uses_body")

    def __init__(self, spec: ResponseSpec, root: Path, faker, loc: tuple):
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
            self.head = status_line(spec.status) + b"server: stuntman\r\n" + b"".join(
                f"{k}: {v}\r\n".encode("latin-1") for k, v in headers) + b"content-length: %d\r\n" % len(body_bytes)
            self.body = body_bytes
            return
        self.head = status_line(spec.status) + b"server: stuntman\r\n"
        self.header_templates = []
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

    def render(self, ex, head_only: bool) -> bytes:
        end = date_cache.line() + connection_line(ex.keep_alive, ex.version) + b"\r\n"
        if self.static:
            return self.head + end if head_only else self.head + end + self.body
        body = self.body_template.render(ex).encode() if self.body_template else self.body
        head = [self.head]
        for name, tpl in self.header_templates:
            value = tpl.render(ex)
            if "\r" in value or "\n" in value:  # request data must never split the response head
                value = value.replace("\r", " ").replace("\n", " ")
            head.append(name + b": " + value.encode("latin-1", "replace") + b"\r\n")
        head.append(b"content-length: %d\r\n" % len(body))
        head.append(end)
        if not head_only:
            head.append(body)
        return b"".join(head)


class StubAction:
    """The `respond: stub` stage for one route: one response, or a sequence of them."""

    kind = "stub"
    __slots__ = ("responses", "cycle", "key", "needs_body")

    def __init__(self, responses: list[StubResponse], cycle: bool, key: str):
        self.responses = responses
        self.cycle = cycle
        self.key = key
        self.needs_body = any(r.uses_body for r in responses)

    def respond(self, ex, state) -> bytes:
        responses = self.responses
        if len(responses) == 1:
            response = responses[0]
        else:
            response = responses[state.next_position(ex, self.key, len(responses), self.cycle)]
        ex.status = response.status
        return response.render(ex, ex.method == "HEAD")
