"""The response source of an OpenAPI operation: answers what the contract says it would.

Per request: check the declared security (reported in a header, or 401 with `enforceSecurity`,
before anything else, as Prism and real servers do); validate it against the operation
(400/415/422 `application/problem+json` listing every violation, unless the contract is served
with `validate: false`); pick the response (Prefer,
example pairing, first success: stuntman.openapi.select) and its media type; answer the example,
or data generated from the schema, deterministic per contract seed, method and path (so the same
`GET /users/42` gives the same user twice; `dynamic` asks for fresh data). A path parameter is
echoed into a generated field of the same name.

Answers that do not depend on the request beyond its path are cached (bounded), so a contract
route costs about what a hand-written stub does.
"""
from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

from ..openapi.select import (
    PREFER_QUERY,
    Pairing,
    Preferences,
    accepted,
    cookies_of,
    explicit_example,
    first_success,
    json_body,
    named_example,
    preferences,
    response_for,
    status_of,
    unmet_security,
)
from ..response import SERVER, Response
from .responder import WholeResponse

if TYPE_CHECKING:
    from ..openapi.document import Operation, Spec

PROBLEM = b"application/problem+json"
CACHE_ENTRIES = 1024  # answers kept per operation (then the cache starts over)
NO_PREFERENCES = Preferences()
SECURITY_HEADER = b"x-stuntman-security"  # names the unmet requirement when it is not enforced


class ServedContract:
    """What the routes of one contract share: the spec, its options, the generator."""

    def __init__(self, spec: Spec, name: str, seed: int, validate: bool, enforce_security: bool):
        self.spec, self.name, self.seed = spec, name, seed
        self.validate, self.enforce_security = validate, enforce_security
        self._generator: Any = None

    @property
    def generator(self) -> Any:
        if self._generator is None:
            from ..openapi.generate import Generator

            self._generator = Generator(self.spec)
        return self._generator


class OperationResponder(WholeResponse):
    __slots__ = ("contract", "op", "names", "validator", "pairing", "needs_body", "cache", "label", "success",
                 "by_path", "plain")

    def __init__(self, contract: ServedContract, op: Operation, names: dict[str, str]):
        self.contract, self.op = contract, op
        self.names = names  # the route's path parameter names → the spec's ({pet-id} is matched as p0)
        self.label = op.label
        self.validator: Any = None
        if contract.validate:
            from ..openapi.validate import RequestValidator

            self.validator = RequestValidator(contract.spec, op)
        self.pairing = Pairing(contract.spec, op)
        self.needs_body = self.validator is not None or bool(self.pairing)
        self.cache: dict[tuple, Response] = {}
        self.success = first_success(op)  # the response answered when nothing else is asked for
        # A request with no query, no body and no Prefer is answered from its path and Accept alone
        # when nothing else can change the answer (no security, no header or cookie parameters, no
        # paired examples): its whole answer, the validation's verdict included, is kept by
        # (path, Accept), and the next one costs two field lookups and a dict probe.
        validator = self.validator
        self.plain = not op.security and not self.pairing and \
            (validator is None or not (validator.headers or validator.cookies))
        self.by_path: dict[tuple[str, str | None], Response] = {}

    def respond(self, ex, state) -> Response:
        if self.plain and not ex.query_string and not ex.has_body and ex.field("prefer") is None:
            key = (ex.path, ex.field("accept"))
            answer = self.by_path.get(key)
            if answer is None:
                answer = self._respond(ex)
                if len(self.by_path) >= CACHE_ENTRIES:
                    self.by_path.clear()
                self.by_path[key] = answer
            return answer
        return self._respond(ex)

    def _respond(self, ex) -> Response:
        contract, op = self.contract, self.op
        query = ex.query
        names = self.names
        params = {names.get(k, k): v for k, v in ex.params.items()} if names else ex.params  # (never mutated)
        extra: list[tuple[bytes, bytes]] = []
        if op.security:  # enforced, it comes first, as a real server authenticates before it validates
            headers = ex.headers
            unmet = unmet_security(contract.spec, op, headers, query, cookies_of(headers.get("cookie")))
            if unmet is not None:
                if contract.enforce_security:
                    return _problem(401, "Unauthorized", f"{op.label} needs {' and '.join(unmet)}",
                                    [(b"www-authenticate", _challenge(contract.spec, unmet))])
                extra.append((SECURITY_HEADER, f"unmet: {', '.join(unmet)}".encode("latin-1", "replace")))
        if self.validator is not None:
            problem = self._invalid(ex, params, query)
            if problem is not None:
                return problem
        # (single fields looked up, not the whole header dict built: most requests ask for nothing)
        prefer = ex.field("prefer")
        prefs = preferences(prefer, query) if prefer is not None or "__" in ex.query_string else NO_PREFERENCES
        example = prefs.example
        if example is None and self.pairing:
            example = self.pairing.find(json_body(ex.body_bytes), params, query, ex.headers)
            if example is not None and prefs.code is None:
                return self._answer(ex, params, self._key_with_example(example), example, prefs, extra)
        if prefs.code is not None:
            key = response_for(op, prefs.code)
            if key is None:
                # (Prism's answer: 404, the requested status is not in the document)
                return _problem(404, "No response defined", f"{op.label} declares no response {prefs.code} "
                                f"(declared: {', '.join(op.responses) or 'none'})")
        else:
            key = self.success
            if key is None:
                return _problem(500, "No response defined", f"{op.label} declares no responses")
        return self._answer(ex, params, key, example, prefs, extra)

    def _key_with_example(self, name: str) -> str:
        """The response holding a named example (a success first)."""
        keys = sorted(self.op.responses, key=lambda k: (not k.startswith("2"), k))
        for key in keys:
            for media in (self.op.responses[key].get("content") or {}).values():
                if isinstance(media, dict) and name in (media.get("examples") or {}):
                    return key
        return first_success(self.op) or keys[0]

    def _invalid(self, ex, params: dict[str, str], query: dict[str, list[str]]) -> Response | None:
        if "__" in ex.query_string and any(name in query for name in PREFER_QUERY):
            query = {k: v for k, v in query.items() if k not in PREFER_QUERY}
        validator = self.validator
        body = ex.body_bytes
        violations = validator.check(params, query, ex.headers if validator.headers or validator.cookies else {},
                                     body, ex.content_type if body or validator.body else None)
        if not violations:
            return None
        from ..openapi.violations import problem

        status = 415 if all(v.location == "content-type" for v in violations) else \
            (422 if "422" in self.op.responses and "400" not in self.op.responses else 400)
        return Response(status, [SERVER, (b"content-type", PROBLEM)], problem(violations, status), dated=True)

    def _answer(self, ex, params: dict[str, str], key: str, example: str | None, prefs: Preferences,
                extra: list[tuple[bytes, bytes]]) -> Response:
        accept = ex.field("accept")
        # the answer depends on nothing else (a generated one is seeded by the path), unless dynamic
        cache_key = (key, prefs.code, accept, example, ex.path) if not (prefs.dynamic or extra) else None
        if cache_key is not None:
            cached = self.cache.get(cache_key)
            if cached is not None:
                return cached
        response = self.op.responses[key]
        content = response.get("content") or {}
        media_type = accepted(accept, list(content)) if content else None
        if content and media_type is None:
            return _problem(406, "Not Acceptable", f"{self.op.label} answers {', '.join(content)}; "
                            f"the request accepts {accept}")
        status = status_of(key, prefs.code)
        seed: Any = (random.getrandbits(64) if prefs.dynamic
                     else f"{self.contract.seed}:{ex.method if ex.method != 'HEAD' else 'GET'}:{ex.path}")
        body = b""
        headers = [SERVER]
        if media_type is not None:
            media = content[media_type]
            found, value = (named_example(self.contract.spec, media, example) if example is not None
                            else (False, None))
            if example is not None and not found:
                return _problem(404, "Example not found", f"{self.op.label}: response {key} ({media_type}) "
                                f"has no example {example!r}")
            if not found and not prefs.dynamic:
                found, value = explicit_example(self.contract.spec, media)
            if not found:
                schema = media.get("schema") if isinstance(media, dict) else None
                value = self.contract.generator.value(schema if schema is not None else {}, seed, hints=params,
                                                      use_examples=not prefs.dynamic)
            body = _serialize(value, media_type)
            headers.append((b"content-type", media_type.encode("latin-1", "replace")))
        headers += self._headers(response, seed, prefs)
        headers += extra
        answer = Response(status, headers, body, dated=True, cacheable=cache_key is not None)
        if cache_key is not None:
            if len(self.cache) >= CACHE_ENTRIES:
                self.cache.clear()
            self.cache[cache_key] = answer
        return answer

    def _headers(self, response: dict, seed: Any, prefs: Preferences) -> list[tuple[bytes, bytes]]:
        out = []
        spec = self.contract.spec
        for name, header in (response.get("headers") or {}).items():
            header = spec.resolve(header)
            if name.lower() in ("content-type", "content-length", "transfer-encoding", "connection") \
                    or not isinstance(header, dict):
                continue
            if "example" in header and not prefs.dynamic:
                value = header["example"]
            else:
                value = self.contract.generator.value(header.get("schema") or {"type": "string"}, f"{seed}:{name}",
                                                      use_examples=not prefs.dynamic)
            text = value if isinstance(value, str) else json.dumps(value)
            out.append((name.lower().encode("latin-1", "replace"),
                        text.replace("\r", " ").replace("\n", " ").encode("latin-1", "replace")))
        return out


def _serialize(value: Any, media_type: str) -> bytes:
    base = media_type.split(";")[0].strip().lower()
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and not (base == "application/json" or base.endswith("+json")):
        return value.encode()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _problem(status: int, title: str, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> Response:  # type: ignore[assignment]
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    return Response(status, [SERVER, (b"content-type", PROBLEM), *headers], body, dated=True)


def _challenge(spec: Spec, unmet: list[str]) -> bytes:
    schemes = (spec.doc.get("components") or {}).get("securitySchemes") or {}
    for name in unmet:
        scheme = spec.resolve(schemes.get(name))
        if isinstance(scheme, dict) and scheme.get("type") == "http":
            return str(scheme.get("scheme", "Bearer")).capitalize().encode()
        if isinstance(scheme, dict) and scheme.get("type") in ("oauth2", "openIdConnect"):
            return b"Bearer"
    return b"ApiKey"
