"""Contracts as monitors: traffic another source answers (the upstream, a recording, a stub) is
checked against the operation it is for, and what breaks the contract is reported: in the
journal entry, in `stuntman_contract_violations_total{contract,operation,direction}`, and, when
asked, in an `X-Stuntman-Contract` response header. A sidecar in front of a real service
becomes a contract monitor.

Nothing is blocked unless the contract says `enforce: true`: then a request that breaks it is
answered 400 before it goes anywhere, and a response that breaks it is replaced by a 502, each
with an `application/problem+json` body listing the violations.

Costs: a table with no monitored contract pays one attribute test per request. A monitored
request costs a route lookup among the contract's operations; its body is held (up to
--max-body-bytes) while it streams upstream, and so is the response's, then each is validated
once, when it is whole. Reporting in a header or enforcing needs the verdict before the
response head goes out, so those hold the proxied response whole first (as recording does).
"""
from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from .fields import field_dict
from .match.routes import RouteTable
from .openapi.validate import RequestValidator, ResponseValidator
from .openapi.violations import Violation, problem
from .response import SERVER, Response

if TYPE_CHECKING:
    from .exchange import Exchange
    from .match.routes import Route
    from .openapi.document import Operation, Spec

HEADER = b"x-stuntman-contract"
PROBLEM = b"application/problem+json"
MAX_HEADER = 1024  # characters of violations said in the header (the journal has them all)
_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class OperationWatch:
    """One operation of a monitored contract, its validators compiled at load."""

    __slots__ = ("contract", "op", "label", "names", "requests", "responses", "enforce", "header", "holds_response")
    # as a Route's action: it never makes matching wait for a body, and never hands an exchange on
    needs_body = False
    delegates = False

    def __init__(self, contract: str, spec: Spec, op: Operation, names: dict[str, str], enforce: bool,
                 header: bool):
        self.contract, self.op, self.label = contract, op, op.label
        self.names = names  # the route's path parameter names → the spec's ({pet-id} is matched as p0)
        self.requests = RequestValidator(spec, op)
        self.responses = ResponseValidator(spec, op)
        self.enforce, self.header = enforce, header
        self.holds_response = enforce or header  # the verdict is needed before the response head


class Monitor:
    """The monitored operations of every contract, indexed like routes."""

    __slots__ = ("table",)

    def __init__(self, routes: list[Route]):
        self.table = RouteTable(routes)

    def watch(self, ex: Exchange) -> Watch | None:
        """The watch for ex, if a monitored operation is for it."""
        path, method = ex.path, ex.method
        for route in self.table.candidates(path):
            if route.methods is not None and method not in route.methods:
                continue
            params = route.path_params(path)
            if params is not None:
                rules: OperationWatch = route.action
                names = rules.names
                return Watch(rules, {names.get(k, k): v for k, v in params.items()} if names else params)
        return None


class Watch:
    """One exchange's check against its operation: the request's and the response's violations
    (None until checked), and the bodies held to check them."""

    __slots__ = ("rules", "params", "body", "size", "overflow", "request", "response", "head", "captured",
                 "captured_size", "notes")

    def __init__(self, rules: OperationWatch, params: dict[str, str]):
        self.rules = rules
        self.params = params
        self.body: list[bytes] | None = None  # the request body, when it streamed upstream
        self.size = 0
        self.overflow = False                  # a body over the limit: not checked
        self.request: list[Violation] | None = None
        self.response: list[Violation] | None = None
        self.head: Response | None = None      # a streamed response's head
        self.captured: list[bytes] = []
        self.captured_size = 0
        self.notes: list[str] = []

    @property
    def holds_request(self) -> bool:
        """Enforcing: the request is checked, whole, before it goes anywhere."""
        return self.rules.enforce

    @property
    def holds_response(self) -> bool:
        return self.rules.holds_response

    # -- the request ------------------------------------------------------------------------
    def feed(self, ex: Exchange, data: bytes, limit: int) -> None:
        """A piece of a request body streaming upstream (the journal keeps only its start)."""
        if self.overflow:
            return
        if self.body is None:  # the first piece streamed: what arrived before the call began is whole in ex.body
            self.body = list(ex.body or ())
            self.size = sum(map(len, self.body))
        self.size += len(data)
        if self.size > limit:
            self.overflow, self.body = True, None
            self.notes.append(f"request body over {limit} bytes: not checked")
        else:
            self.body.append(data)

    def check_request(self, ex: Exchange) -> list[Violation]:
        if self.request is not None:
            return self.request
        rules = self.rules
        if ex.too_large and not self.overflow:
            self.overflow = True
            self.notes.append("request body over --max-body-bytes: not checked")
        body = b"" if self.overflow else (b"".join(self.body) if self.body is not None else ex.body_bytes)
        headers = ex.headers
        found = rules.requests.check(self.params, ex.query, headers, body, headers.get("content-type"))
        if self.overflow:
            found = [v for v in found if v.location not in ("body", "content-type")]
        self.request, self.body = found, None
        return found

    def refuse(self, ex: Exchange) -> Response | None:
        """Enforcing: the 400 for a request that breaks the contract (None: it keeps it)."""
        found = self.check_request(ex)
        if not found:
            return None
        return _problem(400, found, "Request does not match the contract")

    # -- the response -----------------------------------------------------------------------
    def whole(self, ex: Exchange, response: Response) -> Response:
        """A whole response on its way out: checked now; with the header, or replaced (enforce)."""
        if self.response is not None or response.body is None:
            return response
        self.check_response(response.status, response.headers, response.body)
        request = self.check_request(ex) if ex.complete or self.request is not None else []
        rules = self.rules
        if rules.enforce and self.response:
            ex.action, ex.error = "error", "contract-violation"
            return _problem(502, self.response, "Response does not match the contract")
        if rules.header:
            shown = response.copy()
            shown.headers = [*shown.headers, (HEADER, _summary(request, self.response))]
            return shown
        return response

    def stream_head(self, response: Response) -> None:
        """A proxied response streaming down: its body is held (bounded) to be checked at its end."""
        self.head = response

    def capture(self, data: bytes, limit: int) -> None:
        if self.captured_size + len(data) > limit:
            if self.captured:
                self.captured = []
                self.notes.append(f"response body over {limit} bytes: not checked")
            self.captured_size = limit + 1
            return
        self.captured.append(data)
        self.captured_size += len(data)

    def streamed(self) -> None:
        """The streamed response is all out: check it."""
        head = self.head
        if head is None or self.response is not None:
            return
        whole = not (self.captured_size > 0 and not self.captured)  # else over the limit: the head only
        self.check_response(head.status, head.headers, b"".join(self.captured), whole)
        self.captured, self.head = [], None

    def check_response(self, status: int, fields: list[tuple[bytes, bytes]], body: bytes,
                       whole: bool = True) -> list[Violation]:
        headers = field_dict(fields)
        coding = headers.get("content-encoding", "identity").strip().lower()
        if whole and body and coding != "identity":
            wbits = _DECODERS.get(coding)
            try:
                if wbits is None:
                    raise ValueError(f"content-encoding {coding!r}")
                body = zlib.decompressobj(wbits).decompress(body, 64 * 1024 * 1024)
            except (ValueError, zlib.error) as exc:
                whole = False
                self.notes.append(f"response body not checked: cannot decode it ({exc})")
        found = self.rules.responses.check(status, headers, body, headers.get("content-type"))
        if not whole:
            found = [v for v in found if v.location not in ("body", "content-type")]
        self.response = found
        return found

    # -- the end ----------------------------------------------------------------------------
    def finish(self, ex: Exchange) -> None:
        """The exchange is over: check what is not checked yet, let the bodies go."""
        if self.request is None:
            self.check_request(ex)
        self.captured, self.head, self.body = [], None, None

    @property
    def violations(self) -> int:
        return len(self.request or ()) + len(self.response or ())

    def as_json(self) -> dict[str, Any]:
        """The journal entry's `contract` block."""
        rules = self.rules
        return {"contract": rules.contract, "operation": rules.label, "operationId": rules.op.operation_id,
                "valid": not self.violations,
                "request": [v.as_dict() for v in self.request or ()],
                "response": None if self.response is None else [v.as_dict() for v in self.response],
                "notes": self.notes}


def _summary(request: list[Violation], response: list[Violation] | None) -> bytes:
    """The header's value: `ok`, or how many violations and the first of them."""
    parts = [f"request {v.location}{v.pointer}: {v.message}" for v in request]
    parts += [f"response {v.location}{v.pointer}: {v.message}" for v in response or ()]
    if not parts:
        return b"ok"
    text = f"{len(parts)} violation{'s' if len(parts) > 1 else ''}: " + "; ".join(parts)
    if len(text) > MAX_HEADER:
        text = text[:MAX_HEADER - 3] + "..."
    # one line of visible ASCII (a field value must not carry a line break)
    return "".join(c if " " <= c <= "~" else "?" for c in text).encode("ascii")


def _problem(status: int, found: list[Violation], title: str) -> Response:
    return Response(status, [SERVER, (b"content-type", PROBLEM), (b"x-stuntman-error", b"contract-violation")],
                    problem(found, status, title), dated=True)
