"""Which response of an operation answers a request, following Prism's conventions so its users
feel at home: `Prefer: code=404, example=name, dynamic=true` (or the query forms `__code`,
`__example`, `__dynamic`), else a named request example equal to the request (Microcks'
pairing: it selects the response example of the same name), else the first success response.
Then the media type (the request's Accept), and the example or the schema to generate from.

Also here: whether a request meets the operation's declared security. Plain values in, plain
values out: the response source (stuntman.respond.openapi) does the HTTP.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .document import Operation, Spec

PREFER_QUERY = ("__code", "__example", "__dynamic")  # never validated as the operation's parameters


@dataclass(frozen=True)
class Preferences:
    code: str | None = None
    example: str | None = None
    dynamic: bool = False


def preferences(prefer: str | None, query: dict[str, list[str]]) -> Preferences:
    """`Prefer: code=404, example=bad, dynamic=true` and the query forms (the query wins)."""
    found: dict[str, str] = {}
    for part in (prefer or "").replace(";", ",").split(","):
        key, eq, value = part.strip().partition("=")
        if eq:
            found[key.strip().lower()] = value.strip().strip('"')
    for name in PREFER_QUERY:
        values = query.get(name)
        if values:
            found[name[2:]] = values[-1]
    code = found.get("code")
    return Preferences(code if code and code.isdigit() else None, found.get("example") or None,
                       found.get("dynamic", "").lower() in ("true", "1", "yes"))


def status_of(code: str, wanted: str | None = None) -> int:
    """A response key as a status: "404" → 404, "4XX" → 400 (or the code asked for), default → 200."""
    if code.isdigit():
        return int(code)
    if wanted is not None:
        return int(wanted)
    if len(code) == 3 and code[0].isdigit():
        return int(code[0]) * 100
    return 200


def response_for(op: Operation, wanted: str) -> str | None:
    """The response key answering status `wanted`: exact, then its range (4XX), then default."""
    responses = op.responses
    if wanted in responses:
        return wanted
    family = wanted[0] + "XX"
    for key in responses:
        if key.upper() == family:
            return key
    return "default" if "default" in responses else None


def first_success(op: Operation) -> str | None:
    """The lowest 2xx response (exact codes first, then 2XX), else default, else the first."""
    codes = sorted(k for k in op.responses if k.isdigit() and k.startswith("2"))
    if codes:
        return codes[0]
    for key in op.responses:
        if key.upper() == "2XX":
            return key
    if "default" in op.responses:
        return "default"
    return next(iter(op.responses), None)


def accepted(accept: str | None, offered: list[str]) -> str | None:
    """The offered media type the Accept field likes best (first offered on a tie); None if it
    accepts none of them. No Accept: the first offered, JSON preferred."""
    if not offered:
        return None
    if not accept:
        return next((m for m in offered if _is_json(m)), offered[0])
    best, best_q = None, 0.0
    for i, (media, q) in enumerate(_accept_ranges(accept)):
        for candidate in offered:
            if q > best_q and _covers(media, candidate.split(";")[0].strip().lower()):
                best, best_q = candidate, q + (len(offered) - i) * 1e-9  # earlier ranges win ties
                break
    return best


def _accept_ranges(accept: str) -> list[tuple[str, float]]:
    out = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media and q > 0:
            out.append((media.lower(), q))
    out.sort(key=lambda item: -item[1])
    return out


def _covers(media_range: str, media: str) -> bool:
    if media_range in ("*/*", "*"):
        return True
    kind, _, sub = media_range.partition("/")
    return media == media_range or (sub == "*" and media.startswith(kind + "/"))


def _is_json(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def example_names(media: dict) -> list[str]:
    examples = media.get("examples")
    return list(examples) if isinstance(examples, dict) else []


def named_example(spec: Spec, media: dict, name: str) -> tuple[bool, Any]:
    """(found, value) of the named example of a media type object."""
    examples = media.get("examples")
    if not isinstance(examples, dict) or name not in examples:
        return False, None
    example = spec.resolve(examples[name])
    if isinstance(example, dict) and "value" in example:
        return True, example["value"]
    return False, None  # externalValue: not fetched


def explicit_example(spec: Spec, media: dict) -> tuple[bool, Any]:
    """(found, value): the media type's `example`, else its first named example."""
    if "example" in media:
        return True, media["example"]
    for name in example_names(media):
        found, value = named_example(spec, media, name)
        if found:
            return True, value
    return False, None


class Pairing:
    """Microcks' pairing, compiled: a named example of the request (body and/or parameters) that
    equals the incoming request selects the response example of the same name."""

    def __init__(self, spec: Spec, op: Operation):
        names: dict[str, dict[str, Any]] = {}  # example name → what the request must carry
        body = op.request_body or {}
        for media_type, media in (body.get("content") or {}).items():
            if isinstance(media, dict) and _is_json(media_type):
                for name in example_names(media):
                    found, value = named_example(spec, media, name)
                    if found:
                        names.setdefault(name, {})["body"] = value
        for param in op.parameters:
            for name in example_names(param):
                found, value = named_example(spec, param, name)
                if found:
                    names.setdefault(name, {})[f"{param['in']}.{param['name']}"] = value
        answered = {name for response in op.responses.values() if isinstance(response, dict)
                    for media in (response.get("content") or {}).values() if isinstance(media, dict)
                    for name in example_names(media)}
        self.names = {name: wants for name, wants in names.items() if name in answered}

    def __bool__(self) -> bool:
        return bool(self.names)

    def find(self, body: Any, params: dict[str, str], query: dict[str, list[str]],
             headers: dict[str, str]) -> str | None:
        for name, wants in self.names.items():
            if all(_carries(part, value, body, params, query, headers) for part, value in wants.items()):
                return name
        return None


_ABSENT = object()


def _carries(part: str, value: Any, body: Any, params: dict[str, str], query: dict[str, list[str]],
             headers: dict[str, str]) -> bool:
    if part == "body":
        return body is not _ABSENT and body == value
    where, _, name = part.partition(".")
    got: Any = None
    if where == "path":
        got = params.get(name)
    elif where == "query":
        got = query[name][-1] if query.get(name) else None
    elif where == "header":
        got = headers.get(name.lower())
    return got is not None and (got == value or got == str(value) or got == json.dumps(value))


def json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else _ABSENT
    except (ValueError, RecursionError):
        return _ABSENT


# -- security ----------------------------------------------------------------------------------

def unmet_security(spec: Spec, op: Operation, headers: dict[str, str], query: dict[str, list[str]],
                   cookies: dict[str, str]) -> list[str] | None:
    """None if one of the requirements in force is met (or none is declared); else the names of
    the schemes of the first requirement, for the report."""
    if not op.security:
        return None
    schemes = (spec.doc.get("components") or {}).get("securitySchemes") or {}
    first: list[str] | None = None
    for requirement in op.security:
        if not isinstance(requirement, dict):
            continue
        if not requirement:  # {}: anonymous access is allowed
            return None
        names = list(requirement)
        if all(_meets(spec.resolve(schemes.get(name)), headers, query, cookies) for name in names):
            return None
        first = first or names
    return first


def _meets(scheme: Any, headers: dict[str, str], query: dict[str, list[str]], cookies: dict[str, str]) -> bool:
    if not isinstance(scheme, dict):
        return False
    kind = scheme.get("type")
    if kind == "apiKey":
        name = str(scheme.get("name", ""))
        place = scheme.get("in")
        return bool(headers.get(name.lower()) if place == "header" else query.get(name) if place == "query"
                    else cookies.get(name) if place == "cookie" else False)
    authorization = headers.get("authorization", "")
    auth_scheme = authorization.partition(" ")[0].lower()
    if kind == "http":
        return auth_scheme == str(scheme.get("scheme", "")).lower() and bool(authorization.partition(" ")[2])
    if kind in ("oauth2", "openIdConnect"):
        return auth_scheme == "bearer" and bool(authorization.partition(" ")[2])
    return True  # mutualTLS and unknown kinds: not checkable here


def cookies_of(header: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, eq, value = part.strip().partition("=")
        if eq:
            out.setdefault(name, value)
    return out
