"""Recorded traffic checked against a spec: each exchange is matched to its operation (method and
path, under the spec's base paths or at the root) and its request and response are validated
(validate.py); every violation is listed with the exchange it came from.

Plain values in (`Recorded`, built by the caller from whatever holds the traffic: a recording, a
HAR file), a `Report` out; rendering as text or JSON is here too. This module reads no recording
itself (the openapi package does not import the record package).

Matching follows how a contract is served (stuntman.contracts): an operation is found under each
base path of the spec (`servers`; `--base-path` replaces them) and also at the root when no
operation is served at the same method and path under a base path. Two things differ, because
this reads traffic from a real service rather than serving a stub: a server URL's variables
match any value of a path segment (only their `enum` values, when they have one), where serving
uses their defaults; and a base path given by the caller may hold `{name}` segments too. Among
the operations a path matches, a literal segment beats a template one (/pets/mine before
/pets/{petId}), as OpenAPI says; a HEAD request falls back to the GET operation.

Decisions:
- An exchange that matches no operation is "not in the contract": a finding, which fails a check
  (unless the caller allows it), since traffic to an undocumented path is a contract problem.
- Recordings redact secrets (`[REDACTED]`): a violation on a redacted value (a token's pattern, an
  API key's format, a cookie header redacted whole) says nothing about the real traffic, so it is
  counted apart and not reported as a violation.
- A response to HEAD carries no body: "declares a body but is empty" is not reported for it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from .document import SpecError, walk_pointer
from .validate import RequestValidator, ResponseValidator
from .violations import Violation

if TYPE_CHECKING:
    from .document import Operation, Spec

REDACTED = "[REDACTED]"  # what a recording writes in place of a secret (record/format.py)
_PARAM = re.compile(r"\{([^{}/]+)\}")
FORMATS = ("text", "json")


@dataclass(frozen=True)
class Recorded:
    """One exchange, as plain values."""

    where: str                                  # the file that holds it (and where in it)
    method: str
    url: str                                    # path and query, as sent (or an absolute URL)
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes
    seq: int | None = None                      # its number in the recording
    faults: tuple[str, ...] = ()                # faults stuntman injected into it, if any


@dataclass(frozen=True)
class Finding:
    direction: str      # "request" or "response"
    location: str       # as validate.Violation: "query.limit", "header.X-Rate", "body", "status", ...
    pointer: str        # into the value
    message: str
    schema: str         # the rule, as file#pointer

    def as_dict(self) -> dict[str, str]:
        return {"direction": self.direction, "location": self.location, "pointer": self.pointer,
                "message": self.message, "schema": self.schema}


@dataclass
class Checked:
    """One exchange's result: its operation (None when not in the contract) and its findings."""

    exchange: Recorded
    operation: str | None = None        # "GET /pets/{petId}"
    source: str | None = None           # the operation in the spec, as file#pointer
    undocumented: str | None = None     # why it is not in the contract
    findings: list[Finding] = field(default_factory=list)
    redacted: int = 0                   # violations on redacted values, not reported

    def as_dict(self) -> dict[str, Any]:
        x = self.exchange
        return {"where": x.where, "seq": x.seq, "method": x.method, "url": x.url, "status": x.status,
                "faults": list(x.faults), "operation": self.operation, "source": self.source,
                "undocumented": self.undocumented, "violations": [f.as_dict() for f in self.findings],
                "redactedViolations": self.redacted}


@dataclass
class Report:
    spec: str
    recording: str
    results: list[Checked] = field(default_factory=list)
    operations: int = 0                 # in the spec

    @property
    def checked(self) -> int:
        return sum(r.operation is not None for r in self.results)

    @property
    def violations(self) -> int:
        return sum(len(r.findings) for r in self.results)

    @property
    def undocumented(self) -> int:
        return sum(r.undocumented is not None for r in self.results)

    @property
    def redacted(self) -> int:
        return sum(r.redacted for r in self.results)

    def failed(self, allow_undocumented: bool = False) -> bool:
        return self.violations > 0 or (self.undocumented > 0 and not allow_undocumented)

    def summary(self) -> str:
        n = len(self.results)
        text = (f"{n} exchange{'s' if n != 1 else ''}, {self.checked} checked, "
                f"{self.violations} violation{'s' if self.violations != 1 else ''}, {self.undocumented} undocumented")
        if self.redacted:
            text += f" ({self.redacted} on redacted values not counted)"
        return text


# -- which operation an exchange belongs to ----------------------------------------------------

def _segment_regex(template: str, groups: dict[str, str], enums: dict[str, list[str]] | None = None) -> str:
    """A path template as a regex: each {name} one path segment's worth (a named group when
    `groups` collects it: its safe group name → the template's name)."""
    parts, pos = [], 0
    for m in _PARAM.finditer(template):
        parts.append(re.escape(template[pos:m.start()]))
        name = m.group(1)
        allowed = (enums or {}).get(name)
        body = "|".join(re.escape(v) for v in allowed) if allowed else "[^/]+"
        safe = f"g{len(groups)}"
        groups[safe] = name
        parts.append(f"(?P<{safe}>{body})")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return "".join(parts)


def _prefix(path: str) -> str:
    path = path.strip("/")
    return "/" + path if path else ""


def server_prefixes(spec: Spec) -> list[tuple[str, dict[str, list[str]]]]:
    """Each server URL's path, its variables kept as templates ("" for none), with the values
    each variable allows (its enum) where it lists them."""
    out: list[tuple[str, dict[str, list[str]]]] = []
    servers = spec.doc.get("servers")
    for server in servers if isinstance(servers, list) else []:
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            continue
        url = server["url"]
        if "://" in url:
            url = url.split("://", 1)[1]
            url = url[url.index("/"):] if "/" in url else ""
        path = _prefix(url.split("?", 1)[0].split("#", 1)[0])
        enums: dict[str, list[str]] = {}
        for var, info in (server.get("variables") or {}).items():
            if isinstance(info, dict) and isinstance(info.get("enum"), list) and info["enum"]:
                enums[str(var)] = [str(v) for v in info["enum"]]
        if all(path != p for p, _ in out):
            out.append((path, enums))
    return out or [("", {})]


@dataclass(frozen=True)
class _Candidate:
    op: Operation
    regex: re.Pattern
    groups: dict[str, str]
    rank: tuple[int, int, int]      # lower first: at the root alias, template segments, -literal length
    segments: int                   # its '/'s


class Router:
    """Finds the operation of a method and path."""

    def __init__(self, spec: Spec, base_path: str | None = None):
        prefixes: list[tuple[str, dict[str, list[str]]]] = \
            [(_prefix(base_path), {})] if base_path is not None else server_prefixes(spec)
        self.prefixes = [p for p, _ in prefixes]
        taken = {(op.method, prefix + op.path) for op in spec.operations for prefix in self.prefixes}
        candidates: list[_Candidate] = []
        for op in spec.operations:
            literal = len(_PARAM.sub("", op.path))
            params = len(_PARAM.findall(op.path))
            at = [(prefix, enums, 0) for prefix, enums in prefixes]
            if "" not in self.prefixes and (op.method, op.path) not in taken:
                at.append(("", {}, 1))  # the root too, as a served contract does
            for prefix, enums, alias in at:
                # the root operation of a base path is found with and without its trailing slash
                for path in (op.path, "") if op.path == "/" and prefix else (op.path,):
                    groups: dict[str, str] = {}
                    text = _segment_regex(prefix, groups, enums) + _segment_regex(path, groups)
                    candidates.append(_Candidate(op, re.compile(text), groups, (alias, params, -literal),
                                                 (prefix + path).count("/")))
        candidates.sort(key=lambda c: c.rank)
        # a {name} never spans a '/': a path can only match the templates with as many segments
        self.by_segments: dict[int, list[_Candidate]] = {}
        for candidate in candidates:
            self.by_segments.setdefault(candidate.segments, []).append(candidate)

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | str:
        """(operation, path parameters, percent-decoded), or why there is none."""
        path = path or "/"
        matched: dict[str, tuple[Operation, dict[str, str]]] = {}
        for candidate in self.by_segments.get(path.count("/"), ()):
            m = candidate.regex.fullmatch(path)
            if m is None or candidate.op.method in matched:
                continue
            params = {candidate.groups[k]: unquote(v) for k, v in m.groupdict().items() if v is not None}
            matched[candidate.op.method] = (candidate.op, params)
        found = matched.get(method) or (matched.get("GET") if method == "HEAD" else None)
        if found is not None:
            return found
        under = " or ".join(repr(p) for p in self.prefixes if p) or None
        if matched:
            return (f"the contract has no {method} {path}"
                    f" (documented methods: {', '.join(sorted(matched))})")
        return f"no operation's path matches {path}" + (f" (under {under} or the root)" if under else "")


# -- checking ----------------------------------------------------------------------------------

def _headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _path_and_query(url: str) -> tuple[str, str]:
    if url.startswith(("http://", "https://")):
        parts = urlsplit(url)
        return parts.path or "/", parts.query
    path, _, query = url.partition("?")
    return path.split("#", 1)[0], query


def _holds_redacted(value: Any) -> bool:
    if isinstance(value, str):
        return REDACTED in value
    if isinstance(value, list):
        return any(_holds_redacted(v) for v in value)
    return False


class _Message:
    """What a violation's value was, to tell a redacted one."""

    def __init__(self, params: dict[str, str], query: dict[str, list[str]], headers: dict[str, str], body: bytes):
        self.params, self.query, self.headers, self.body = params, query, headers, body
        self._json: Any = None
        self._parsed = False

    def _body_json(self) -> Any:
        if not self._parsed:
            self._parsed = True
            try:
                self._json = json.loads(self.body)
            except (ValueError, RecursionError):
                self._json = None
        return self._json

    def redacted(self, v: Violation) -> bool:
        kind, _, name = v.location.partition(".")
        if kind == "path":
            return _holds_redacted(self.params.get(name))
        if kind == "query":
            return _holds_redacted(self.query.get(name))
        if kind == "header":
            return _holds_redacted(self.headers.get(name.lower()))
        if kind == "cookie":
            return _holds_redacted(self.headers.get("cookie"))
        if kind == "body" and REDACTED.encode() in self.body:
            try:
                return _holds_redacted(walk_pointer(self._body_json(), v.pointer))
            except KeyError:
                return False
        return False


class Checker:
    """A spec's operations, their validators built once each, checking exchanges."""

    def __init__(self, spec: Spec, base_path: str | None = None):
        self.spec = spec
        self.router = Router(spec, base_path)
        self._requests: dict[str, RequestValidator] = {}
        self._responses: dict[str, ResponseValidator] = {}

    def check(self, x: Recorded) -> Checked:
        result = Checked(x)
        path, query_string = _path_and_query(x.url)
        found = self.router.find(x.method.upper(), path)
        if isinstance(found, str):
            result.undocumented = found
            return result
        op, params = found
        result.operation, result.source = op.label, self.spec.where(op.pointer)
        query = parse_qs(query_string, keep_blank_values=True)
        headers = _headers(x.request_headers)
        request = _Message(params, query, headers, x.request_body)
        for v in self._request(op).check(params, query, headers, x.request_body, headers.get("content-type")):
            self._add(result, "request", v, request)
        headers = _headers(x.response_headers)
        response = _Message({}, {}, headers, x.response_body)
        head = x.method.upper() == "HEAD"
        for v in self._response(op).check(x.status, headers, x.response_body, headers.get("content-type")):
            if head and v.location == "body" and not x.response_body:
                continue  # a response to HEAD has no body
            self._add(result, "response", v, response)
        return result

    @staticmethod
    def _add(result: Checked, direction: str, v: Violation, message: _Message) -> None:
        if message.redacted(v):
            result.redacted += 1
        else:
            result.findings.append(Finding(direction, v.location, v.pointer, v.message, v.schema))

    def _request(self, op: Operation) -> RequestValidator:
        validator = self._requests.get(op.pointer)
        if validator is None:
            validator = self._requests[op.pointer] = self._build(RequestValidator, op)
        return validator

    def _response(self, op: Operation) -> ResponseValidator:
        validator = self._responses.get(op.pointer)
        if validator is None:
            validator = self._responses[op.pointer] = self._build(ResponseValidator, op)
        return validator

    def _build(self, kind: Any, op: Operation) -> Any:
        """A validator; a SpecError naming the operation if its schemas cannot be compiled."""
        try:
            return kind(self.spec, op)
        except (KeyError, ValueError, TypeError) as exc:
            file, _, ptr = self.spec.where(op.pointer).partition("#")
            raise SpecError(file, ptr, f"{op.label}: its schemas cannot be compiled for validation "
                                       f"({type(exc).__name__}: {exc})") from None


def check_exchanges(spec: Spec, exchanges: Iterable[Recorded], recording: str,
                    base_path: str | None = None) -> Report:
    checker = Checker(spec, base_path)
    report = Report(spec.file, recording, operations=len(spec.operations))
    report.results = [checker.check(x) for x in exchanges]
    return report


# -- reports -----------------------------------------------------------------------------------

def _exchange_line(r: Checked) -> str:
    x = r.exchange
    seq = f"#{x.seq} " if x.seq is not None else ""
    return f"{seq}{x.method} {x.url} -> {x.status}"


def render_text(report: Report, allow_undocumented: bool = False) -> str:
    """For people: each exchange with a finding, its findings under it; then the summary."""
    lines = [f"contract check: {report.recording} against {report.spec}", ""]
    for r in report.results:
        if not r.findings and r.undocumented is None:
            continue
        x = r.exchange
        lines.append(f"{_exchange_line(r)}  [{r.operation or 'not in the contract'}]")
        lines.append(f"  {x.where}")
        if r.undocumented is not None:
            lines.append(f"  {r.undocumented}")
        for f in r.findings:
            lines.append(f"  {f.direction:<9}{f.location}{f.pointer}: {f.message}")
            lines.append(f"  {'':<9}schema: {f.schema}")
        if x.faults:
            lines.append(f"  (stuntman injected faults into this exchange: {', '.join(x.faults)})")
        lines.append("")
    lines.append(report.summary())
    if not report.results:
        lines.append("nothing to check: the recording holds no exchanges")
    elif report.undocumented and allow_undocumented and not report.violations:
        lines.append("exchanges not in the contract are allowed (--allow-undocumented)")
    return "\n".join(lines) + "\n"


def render_json(report: Report, allow_undocumented: bool = False) -> str:
    """For machines: every exchange (those that keep the contract too), and the summary."""
    body = {
        "recording": report.recording, "spec": report.spec,
        "ok": not report.failed(allow_undocumented),
        "summary": {"exchanges": len(report.results), "checked": report.checked, "violations": report.violations,
                    "undocumented": report.undocumented, "redactedViolations": report.redacted,
                    "operations": report.operations},
        "exchanges": [r.as_dict() for r in report.results],
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def render(report: Report, fmt: str, allow_undocumented: bool = False) -> str:
    return (render_json if fmt == "json" else render_text)(report, allow_undocumented)
