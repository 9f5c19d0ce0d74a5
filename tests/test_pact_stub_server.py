"""Differential tests: stuntman's Pact stubs against pact-stub-server, the reference.

Method. The same pact file is served by both, each started once per file on a free loopback
port: stuntman in this process (`--pact FILE`), pact-stub-server 0.7.1 as `pact stub` from the
pinned pact-python-cli wheel (a test dependency). Every interaction answers with a body naming it
(`{"interaction": "<description>"}`), so an answer is a *verdict*: which interaction matched, or
none (404). The same requests go to both and the verdicts are compared.

The requests are generated (`random.Random`, seeded per pact file) from each interaction's own
example: the example itself, then one mutation each - a value changed, a type changed, a key added
or removed, an array made longer or shorter, a header changed, removed or added, a query parameter
added, removed, changed, repeated, re-encoded or reordered, the content type changed, the path or
the method changed. Each request carries its *kind* (the part it mutated).

A verdict that differs is *classified*. stuntman's own comparison (stuntman.pact.compare) names
every difference between the request and each interaction, by part (method, path, query, header,
body, body type); first it must agree with the generator (a request whose body alone was mutated
may differ from its interaction in the body only, an example in nothing). Then the difference in
verdicts must follow from one documented deviation (`DEVIATIONS`) of pact-stub-server's
selection algorithm (tests/fixtures/pact-spec/SEMANTICS.md §5), e.g. "the reference answered an
interaction whose only differences are headers: it ranks by header mismatches, never excludes".
Anything else - the reference answering an interaction stuntman sees a query, path or (for a
POST/PUT/PATCH with a body) body difference in, or 404 where stuntman answers - is unexpected and
fails the test. A stuntman bug found and not yet fixed goes in `STUNTMAN_BUGS`, out of the comparison.

Then one focused test per known pact-stub-server issue (#53, #34, #24, #33, #11) states what each
server does; the reference's answers are those of the pinned version (they may change with it).
"""
from __future__ import annotations

import copy
import json
import random
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest

from conftest import free_port, stop_process, wait_port
from stuntman.pact.compare import Received, compare_request
from stuntman.pact.document import Pact, load_pact
from stuntman.settings import Settings
from stuntman.testing import InProcess


def _reference_binary() -> str | None:
    """`pact` (pact-python-cli 1!0.10.9 installs it beside the interpreter: .venv/bin/pact)."""
    beside = Path(sysconfig.get_path("scripts")) / "pact"
    if beside.exists():
        return str(beside)
    beside = Path(sys.executable).parent / "pact"
    return str(beside) if beside.exists() else shutil.which("pact")


PACT = _reference_binary()
pytestmark = pytest.mark.skipif(PACT is None,
                                reason="pact-stub-server missing: pip install 'pact-python-cli==1!0.10.9'")

NOT_FOUND = "404"  # a verdict: no interaction matched
PAYLOAD_METHODS = ("POST", "PUT", "PATCH")  # the reference judges a body only for these (with a body)


# -- the documented deviations ----------------------------------------------------------------

@dataclass(frozen=True)
class Deviation:
    name: str
    reference: str  # what pact-stub-server 0.7.1 does
    stuntman: str   # what stuntman does
    why: str        # why stuntman is right, per the Pact specification


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "headers-only-rank",
        "a header mismatch (a header missing, another value, a header rule failing) never excludes an "
        "interaction: it only ranks it (fewest mismatches first), so a request with the wrong header still "
        "gets that interaction (issue #24's fix, commit 50298e6)",
        "a header mismatch excludes the interaction (404 when nothing else matches)",
        "headers are part of the request match: 'Exact string match for expected header names and values. "
        "Allow unexpected headers' (v1:README.md:33); spec cases v1-v4 request/headers/"
        "'header value is different case.json' and v3 'content type parameters do not match.json' are "
        "match:false, matching rules on headers decide (v3 'matches with regex.json')"),
    Deviation(
        "body-only-with-payload",
        "a body mismatch excludes only when the request is POST, PUT or PATCH and carries a body: a GET or "
        "DELETE with another body, or a POST with no body, still matches (server.rs method_supports_payload)",
        "a body mismatch excludes, whatever the method; a body the pact has and the request lacks is one",
        "the body is matched whatever the method: only an *absent* expected body 'can be ignored' "
        "(v1.1:README.md:56-90), a present one is compared; spec cases request/body/'different value found "
        "at key.json', 'plain text that does not match.json' etc. are match:false, with no exception by method"),
    Deviation(
        "content-type-only-ranks",
        "a body of another content type (BodyTypeMismatch: text/plain sent to a JSON interaction) never "
        "excludes, for any method: only the matching order sees it",
        "a body of another content type excludes the interaction",
        "the content type decides how a body is read and compared (v1.1:README.md:83-90), so a text/plain "
        "body is not the JSON body the pact describes; and where the pact names a Content-Type another one "
        "differs in a header (v1:README.md:33; v3:README.md:349-356 relaxes only its parameters)"),
    Deviation(
        "first-in-file-not-most-specific",
        "among interactions that all match, the one with the fewest mismatches, then the first in the file "
        "(issue #53, open): a path-rule or type-rule interaction listed first shadows an exact one",
        "the most specific interaction answers (exact path before a path rule, more query/header/body "
        "values pinned, fewer and looser rules), then the first in the file",
        "the specification picks the most specific of competing rules ('The first, most specific expression "
        "is selected', v2:README.md:154-208, v3:README.md:443-495) and prescribes no file order; stuntman "
        "applies the same principle to competing interactions, which is what #53 asks for"),
    Deviation(
        "stateless-first-without-a-state",
        "with no provider state asked for, every interaction is a candidate and the first in the file "
        "answers, whatever its provider states",
        "with no provider state asked for, an interaction without states answers before one that needs a "
        "state (which answers only when none without states matches)",
        "an interaction's providerStates are preconditions (v3:README.md:91-116): one that states none "
        "holds in the default state, one that states some describes a state nobody has asked for"),
    Deviation(
        "state-header-is-a-name",
        "the provider-state header (--provider-state-header-name) is a regex, unanchored: 'user 1' selects "
        "the state 'user 1 exists'; an invalid one ('(') panics the connection (no response)",
        "X-Pact-Provider-State names one state exactly (a regex only in --provider-state)",
        "a provider state is identified by its name (v3:README.md:91-116: providerStates[].name); the "
        "verifier sets up states by name, so a stub asked for one serves that one"),
    Deviation(
        "stateless-kept-under-a-state",
        "once a state filter is given (-s or the header) interactions without states are excluded unless "
        "--empty-provider-state (issue #34)",
        "interactions without states stay eligible under any state unless --strict-provider-state",
        "an interaction without provider states has no precondition (v3:README.md:91-116), so it holds in "
        "every state; #34's reporter expected exactly that"),
    Deviation(
        "404-body-and-cors",
        "404 with an empty body; Access-Control-Allow-Origin: * added to every response",
        "404 whose text names the near misses (the Pact differences); the pact's response headers only",
        "not a matching question: the specification defines no stub 404 and no CORS; stuntman sends the "
        "pact's response as the contract records it (a header the provider does not send is not in the "
        "contract) and explains a miss"),
)
DEVIATION_NAMES = frozenset(d.name for d in DEVIATIONS)


# -- the corpus -------------------------------------------------------------------------------

V2 = {"pactSpecification": {"version": "2.0.0"}}
V3 = {"pactSpecification": {"version": "3.0.0"}}
V4 = {"pactSpecification": {"version": "4.0"}}
JSON = "application/json"
UUID_RE = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def document(consumer: str, provider: str, metadata: dict, *interactions: dict) -> dict:
    return {"consumer": {"name": consumer}, "provider": {"name": provider}, "interactions": list(interactions),
            "metadata": metadata}


def answer(description: str, status: int = 200, v4: bool = False) -> dict:
    """A response naming its interaction (the verdict)."""
    content = {"interaction": description}
    if v4:
        return {"status": status, "headers": {"Content-Type": [JSON]},
                "body": {"content": content, "contentType": JSON, "encoded": False}}
    return {"status": status, "headers": {"Content-Type": JSON}, "body": content}


def http(description: str, request: dict, status: int = 200, states: tuple[str, ...] = (), v4: bool = False
         ) -> dict:
    out: dict[str, Any] = {"description": description, "request": request,
                           "response": answer(description, status, v4)}
    if v4:
        out = {"type": "Synchronous/HTTP", "key": description.replace(" ", "-"), **out}
    if states:
        out["providerStates"] = [{"name": s} for s in states]
    return out


def rules(**by_path: dict) -> dict:
    """v3/v4 rules of one category: {path: {"matchers": [...]}}; keys with '__' stand for '.'."""
    return {k: {"combine": "AND", "matchers": [m]} for k, m in by_path.items()}


def v4_body(content: Any, content_type: str = JSON) -> dict:
    return {"content": content, "contentType": content_type, "encoded": False}


USERS = document("web", "users", V3, *[
    http("get any user", {"method": "GET", "path": "/users/1", "headers": {"Accept": JSON},
                          "matchingRules": {"path": {"combine": "AND", "matchers": [
                              {"match": "regex", "regex": "/users/\\d+"}]}}}),
    http("get user 42", {"method": "GET", "path": "/users/42", "headers": {"Accept": JSON}}),
    http("list users", {"method": "GET", "path": "/users", "query": {"page": ["1"], "size": ["20"], "sort": ["name"]},
                        "headers": {"Accept": JSON},
                        "matchingRules": {"query": {"page": {"matchers": [{"match": "regex", "regex": "\\d+"}]},
                                                    "size": {"matchers": [{"match": "integer"}]}}}}),
    http("search users by name", {"method": "GET", "path": "/users", "query": {"name": ["ada"]}}),
    http("create user", {"method": "POST", "path": "/users", "headers": {"Content-Type": JSON},
                         "body": {"name": "Ada Lovelace", "email": "ada@example.com", "age": 36, "admin": False,
                                  "roles": ["admin", "dev"], "nickname": None,
                                  "address": {"street": "1 Main St", "city": "London", "zip": "N1 9GU"}},
                         "matchingRules": {"body": {
                             "$.name": {"matchers": [{"match": "type"}]},
                             "$.email": {"matchers": [{"match": "regex", "regex": "[^@]+@[^@]+\\.[a-z]+"}]},
                             "$.age": {"matchers": [{"match": "integer"}]},
                             "$.roles": {"matchers": [{"match": "type", "min": 1, "max": 3}]},
                             "$.address.zip": {"matchers": [{"match": "regex", "regex": "[A-Z0-9 ]{5,8}"}]}}}},
         201),
    http("update user email", {"method": "PATCH", "path": "/users/42", "headers": {"Content-Type": JSON},
                               "body": {"email": "new@example.com"},
                               "matchingRules": {"body": {"$.email": {"matchers": [
                                   {"match": "regex", "regex": "[^@]+@[^@]+\\.[a-z]+"}]}}}}),
    http("delete user", {"method": "DELETE", "path": "/users/42", "headers": {"Authorization": "Bearer abc123"},
                         "matchingRules": {"header": {"Authorization": {"matchers": [
                             {"match": "regex", "regex": "Bearer [a-z0-9]+"}]}}}}, 202),
])

ORDERS = document("shop", "orders", V2, *[
    http("list open orders", {"method": "GET", "path": "/orders", "query": "status=open&limit=10",
                              "matchingRules": {"$.query.limit[0]": {"match": "regex", "regex": "\\d+"}}}),
    http("list all orders", {"method": "GET", "path": "/orders"}),
    http("get order", {"method": "GET", "path": "/orders/1001", "headers": {"Accept": JSON}}),
    http("search orders", {"method": "GET", "path": "/orders/search", "headers": {"Content-Type": JSON},
                           "body": {"customerId": 7, "statuses": ["open", "shipped"]},
                           "matchingRules": {"$.body.customerId": {"match": "type"}}}),
    http("create order", {"method": "POST", "path": "/orders", "headers": {"Content-Type": JSON},
                          "body": {"customerId": 7, "items": [{"sku": "A-1", "qty": 2, "price": 9.99}],
                                   "note": "leave at door", "express": True},
                          "matchingRules": {"$.body.customerId": {"match": "type"},
                                            "$.body.items": {"min": 1},
                                            "$.body.items[*].sku": {"match": "regex", "regex": "[A-Z]-\\d+"},
                                            "$.body.items[*].qty": {"match": "type"},
                                            "$.body.items[*].price": {"match": "type"}}}, 201),
    http("cancel order", {"method": "PUT", "path": "/orders/1001/status",
                          "headers": {"Content-Type": JSON, "If-Match": '"v1"'}, "body": {"status": "cancelled"},
                          "matchingRules": {"$.headers.If-Match": {"match": "regex", "regex": '"v\\d+"'}}}),
])

PAYMENTS = document("checkout", "payments", V4, *[
    http("authorize payment", {
        "method": "POST", "path": "/payments",
        "headers": {"Content-Type": [JSON], "Idempotency-Key": ["0b9f2c1e-5d7a-4c3b-9e8f-1a2b3c4d5e6f"]},
        "body": v4_body({"amount": 12.5, "currency": "EUR", "createdAt": "2024-05-01T10:00:00+00:00",
                         "card": {"last4": "4242", "expiry": "12/27"},
                         "metadata": {"channel": "web", "campaign": "spring"}, "tags": ["fast", "gift"]}),
        "matchingRules": {
            "header": {"Idempotency-Key": {"matchers": [{"match": "regex", "regex": UUID_RE}]}},
            "body": {"$.amount": {"matchers": [{"match": "decimal"}]},
                     "$.currency": {"matchers": [{"match": "regex", "regex": "[A-Z]{3}"}]},
                     "$.createdAt": {"matchers": [{"match": "datetime", "format": "yyyy-MM-dd'T'HH:mm:ssXXX"}]},
                     "$.card.last4": {"matchers": [{"match": "regex", "regex": "\\d{4}"}]},
                     "$.card.expiry": {"matchers": [{"match": "regex", "regex": "\\d{2}/\\d{2}"}]},
                     "$.metadata": {"matchers": [{"match": "eachValue", "rules": [{"match": "type"}],
                                                  "value": {"channel": "web"}}]},
                     "$.tags": {"matchers": [{"match": "arrayContains", "variants": [{"index": 1, "rules": {}}]}]}}}},
        201, v4=True),
    http("capture payment", {"method": "POST", "path": "/payments/p-1/capture"}, v4=True),
    http("refund payment", {"method": "POST", "path": "/payments/p-1/refunds", "headers": {"Content-Type": [JSON]},
                            "body": v4_body({"amount": 5, "reason": "item damaged"}),
                            "matchingRules": {"body": {
                                "$.amount": {"matchers": [{"match": "integer"}]},
                                "$.reason": {"matchers": [{"match": "include", "value": "damaged"}]}}}}, 201, v4=True),
    http("get payment", {"method": "GET", "path": "/payments/p-1", "headers": {"Accept": [JSON]}}, v4=True),
    http("list payments", {"method": "GET", "path": "/payments",
                           "query": {"from": ["2024-01-01"], "to": ["2024-01-31"], "status": ["settled"]},
                           "matchingRules": {"query": {
                               "from": {"matchers": [{"match": "date", "format": "yyyy-MM-dd"}]},
                               "to": {"matchers": [{"match": "date", "format": "yyyy-MM-dd"}]}}}}, v4=True),
])

FORMS = document("web", "accounts", V3, *[
    http("log in", {"method": "POST", "path": "/login",
                    "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                    "body": "username=ada&password=s3cret!&remember=true",
                    "matchingRules": {"body": {
                        "$.password": {"matchers": [{"match": "regex", "regex": ".{6,}"}]},
                        "$.remember": {"matchers": [{"match": "regex", "regex": "true|false"}]}}}}),
    http("post note", {"method": "POST", "path": "/notes", "headers": {"Content-Type": "text/plain"},
                       "body": "Remember the milk"}, 201),
    http("replace note", {"method": "PUT", "path": "/notes/1", "headers": {"Content-Type": "text/plain"},
                          "body": "note: buy eggs",
                          "matchingRules": {"body": {"$": {"matchers": [{"match": "regex", "regex": "note: .+"}]}}}}),
    http("import csv", {"method": "POST", "path": "/imports", "headers": {"Content-Type": "text/csv"},
                        "body": "sku,qty\nA-1,2\n"}, 202),
    http("log out", {"method": "POST", "path": "/logout", "headers": {"Cookie": "session=abc"}}),
])

CATALOG = document("web", "catalog", V3, *[
    http("create product", {"method": "POST", "path": "/products", "headers": {"Content-Type": "application/xml"},
                            "body": '<?xml version="1.0" encoding="UTF-8"?><product id="7"><name>Desk lamp</name>'
                                    "<price>19.99</price><tags><tag>home</tag><tag>light</tag></tags></product>",
                            "matchingRules": {"body": {
                                "$.product.@id": {"matchers": [{"match": "regex", "regex": "\\d+"}]},
                                "$.product.name.#text": {"matchers": [{"match": "type"}]},
                                "$.product.price.#text": {"matchers": [
                                    {"match": "regex", "regex": "\\d+\\.\\d{2}"}]}}}},
         201),
    http("update price", {"method": "PUT", "path": "/products/7/price", "headers": {"Content-Type": "application/xml"},
                          "body": '<price currency="EUR">21.50</price>'}),
    http("get product", {"method": "GET", "path": "/products/7", "headers": {"Accept": "application/xml"}}),
    http("search products", {"method": "GET", "path": "/products",
                             "query": {"q": ["lamp"], "tag": ["home", "light"]}}),
])

INVENTORY = document("warehouse", "inventory", V4, *[
    http("stock levels", {"method": "GET", "path": "/stock",
                          "query": {"sku": ["A-1", "B-2"], "warehouse": ["north"]},
                          "matchingRules": {"query": {"sku": {"matchers": [
                              {"match": "regex", "regex": "[A-Z]-\\d+"}]}}}},
         v4=True),
    http("sold out", {"method": "GET", "path": "/stock/A-1", "headers": {"Accept": [JSON]}},
         states=("A-1 is sold out",), v4=True),
    http("availability", {"method": "GET", "path": "/stock/A-1",
                          "headers": {"Accept": [JSON], "X-Api-Version": ["2"]},
                          "matchingRules": {"header": {"X-Api-Version": {"matchers": [
                              {"match": "regex", "regex": "[12]"}]}}}}, v4=True),
    http("adjust stock", {"method": "PATCH", "path": "/stock/A-1", "headers": {"Content-Type": [JSON]},
                          "body": v4_body({"delta": -3, "reason": "audit", "counts": {"north": 5, "south": 2}}),
                          "matchingRules": {"body": {
                              "$.delta": {"matchers": [{"match": "number"}]},
                              "$.reason": {"matchers": [{"match": "notEmpty"}]},
                              "$.counts": {"matchers": [{"match": "eachValue", "rules": [{"match": "integer"}],
                                                         "value": {"north": 5}}]}}}}, v4=True),
    http("bulk update", {"method": "PUT", "path": "/stock", "headers": {"Content-Type": [JSON]},
                         "body": v4_body([{"sku": "A-1", "qty": 1}, {"sku": "B-2", "qty": 0}]),
                         "matchingRules": {"body": {
                             "$": {"matchers": [{"match": "type", "min": 1, "max": 5}]},
                             "$[*].sku": {"matchers": [{"match": "regex", "regex": "[A-Z]-\\d+"}]},
                             "$[*].qty": {"matchers": [{"match": "integer"}]}}}}, v4=True),
])

CORPUS: dict[str, dict] = {"users-v3": USERS, "orders-v2": ORDERS, "payments-v4": PAYMENTS, "forms-v3": FORMS,
                           "catalog-xml-v3": CATALOG, "inventory-v4": INVENTORY}


# -- requests ---------------------------------------------------------------------------------

@dataclass
class Draft:
    """A request being built: from an interaction's example, then mutated."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    form: str | None       # the body's form: json | form | text | xml (None: no body)
    body: Any = None       # a JSON value, [(name, value)], or text
    raw_query: str | None = None  # sent as is instead of `query` (an encoding variant)

    def content_type(self) -> str | None:
        return next((v for n, v in self.headers if n.lower() == "content-type"), None)

    def body_bytes(self) -> bytes:
        if self.form is None:
            return b""
        if self.form == "json":
            return json.dumps(self.body).encode()
        if self.form == "form":
            return urlencode(self.body).encode()
        return str(self.body).encode()

    def target(self) -> str:
        query = self.raw_query if self.raw_query is not None else "&".join(
            f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.query)
        return self.path + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Sent:
    """One generated request: `label` is stable (the bug list names requests by it)."""

    label: str
    base: str     # the interaction it was made from
    kind: str     # the part mutated: exact | equivalent | method | path | query | header | content-type | body
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def received(self) -> Received:
        """The request as stuntman's comparison reads it."""
        path, _, query = self.target.partition("?")
        headers: dict[str, str] = {}
        for n, v in self.headers:
            headers[n.lower()] = f"{headers[n.lower()]}, {v}" if n.lower() in headers else v
        return Received(self.method, path, query, headers, self.body, headers.get("content-type"))


def example(item: dict, version: str) -> Draft:
    """The request an interaction describes, as a client would send it."""
    request = item["request"]
    query = request.get("query") or {}
    if isinstance(query, str):
        pairs = parse_qsl(query, keep_blank_values=True)
    else:
        pairs = [(k, v) for k, values in query.items() for v in values]
    headers = [(n, ", ".join(v) if isinstance(v, list) else v) for n, v in (request.get("headers") or {}).items()]
    draft = Draft(request.get("method", "GET"), request.get("path", "/"), pairs, headers, None)
    if "body" not in request:
        return draft
    body = request["body"]
    if version == "4.0":
        body, media = body["content"], body["contentType"]
        if draft.content_type() is None:
            draft.headers.append(("Content-Type", media))
    media = (draft.content_type() or JSON).split(";")[0].strip()
    if media.endswith("json"):
        draft.form, draft.body = "json", body
    elif media == "application/x-www-form-urlencoded":
        draft.form, draft.body = "form", parse_qsl(body, keep_blank_values=True)
    elif media.endswith("xml"):
        draft.form, draft.body = "xml", body
    else:
        draft.form, draft.body = "text", body
    return draft


def _leaves(value: Any, at: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, value) for every value inside a JSON value, containers included, depth first."""
    yield at, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*at, i))


def _shown(at: tuple) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in at)


def _set(root: Any, at: tuple, change: Callable[[Any], Any]) -> Any:
    """A copy of root with the value at `at` replaced by change(value) (a container may be changed in place)."""
    root = copy.deepcopy(root)
    if not at:
        return change(root)
    parent = root
    for p in at[:-1]:
        parent = parent[p]
    parent[at[-1]] = change(parent[at[-1]])
    return root


def _other_value(value: Any, rng: random.Random) -> Any:
    """Another value of the same JSON type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice([c for c in (value + 1, -value - 1, 0, 1_000_000) if c != value])
    if isinstance(value, float):
        return rng.choice([c for c in (value + 0.25, round(value * 3.3, 3), 1.5) if c != value])
    if isinstance(value, str):
        return rng.choice([c for c in ("zzz", "Ada", "12345", "2024-02-30", "", f"{value}x", value.upper())
                           if c != value])
    return "x"  # null


def _other_type(value: Any, rng: random.Random) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return rng.choice([str(value), None, [value]])
    if isinstance(value, str):
        return rng.choice([7, None, True, [value]])
    return rng.choice([0, "null"])  # null


def _json_mutations(body: Any, rng: random.Random) -> Iterator[tuple[str, Any]]:
    found = list(_leaves(body))
    scalars = [(at, v) for at, v in found if not isinstance(v, (dict, list))]
    objects = [(at, v) for at, v in found if isinstance(v, dict)]
    arrays = [(at, v) for at, v in found if isinstance(v, list)]
    for at, _ in rng.sample(scalars, min(5, len(scalars))):
        yield f"value at {_shown(at)} changed", _set(body, at, lambda old: _other_value(old, rng))
    strings = [(at, v) for at, v in scalars if isinstance(v, str)]
    for at, v in rng.sample(strings, min(3, len(strings))):
        new = _reshaped(v, rng)
        yield f"value at {_shown(at)} reshaped to {new!r}", _set(body, at, lambda _, new=new: new)
    for at, _ in rng.sample(scalars, min(3, len(scalars))):
        yield f"type at {_shown(at)} changed", _set(body, at, lambda old: _other_type(old, rng))
    for at, v in rng.sample(objects, min(2, len(objects))):
        key = rng.choice(list(v))
        yield f"key {_shown((*at, key))} removed", _set(body, at, lambda o, key=key: {
            k: x for k, x in o.items() if k != key})
        yield f"key added at {_shown(at)}", _set(body, at, lambda o: {**o, "extra": rng.choice([1, "x", None])})
    for at, v in rng.sample(arrays, min(2, len(arrays))):
        if v:
            yield f"array at {_shown(at)} longer", _set(body, at, lambda a: [*a, copy.deepcopy(a[0])])
            yield f"array at {_shown(at)} shorter", _set(body, at, lambda a: a[:-1])
        yield f"array at {_shown(at)} emptied", _set(body, at, lambda a: [])


def _xml_mutations(text: str, rng: random.Random) -> Iterator[tuple[str, str]]:
    def edited(change: Callable[[ET.Element], None]) -> str:
        root = ET.fromstring(text)
        change(root)
        return ET.tostring(root, encoding="unicode")

    def nth(root: ET.Element, i: int) -> ET.Element:
        return list(root.iter())[i]

    def set_text(i: int, new: str) -> Callable[[ET.Element], None]:
        return lambda root: setattr(nth(root, i), "text", new)

    def set_attribute(i: int, name: str, new: str) -> Callable[[ET.Element], None]:
        return lambda root: nth(root, i).set(name, new)

    elements = list(ET.fromstring(text).iter())
    for i, e in enumerate(elements):
        where = f"<{e.tag}> #{i}"
        if (e.text or "").strip():
            new = _reshaped(e.text or "", rng)
            yield f"text of {where} reshaped to {new!r}", edited(set_text(i, new))
            new = rng.choice(["12.345", "", "other", "9"])
            yield f"text of {where} set to {new!r}", edited(set_text(i, new))
        for name, value in e.attrib.items():
            new = rng.choice(["x7", _reshaped(value, rng)])
            yield f"attribute {name} of {where} set to {new!r}", edited(set_attribute(i, name, new))
            yield f"attribute {name} of {where} removed", edited(lambda root, i=i, name=name: nth(root, i).attrib.pop(
                name))
        if e.attrib:
            yield f"attribute added to {where}", edited(set_attribute(i, "extra", "1"))
        if len(e):
            yield f"last child of {where} removed", edited(lambda root, i=i: nth(root, i).remove(nth(root, i)[-1]))
            yield f"first child of {where} repeated", edited(
                lambda root, i=i: nth(root, i).append(copy.deepcopy(nth(root, i)[0])))
    yield "element added", edited(lambda root: ET.SubElement(root, "extra").__setattr__("text", "1"))


def _reshaped(text: str, rng: random.Random) -> str:
    """The same shape, other characters: each digit another digit, each letter another letter of
    its case (a value a regex or a date format may still accept, or not)."""
    def one(c: str) -> str:
        if c.isdigit():
            return rng.choice("0123456789")
        if c.isascii() and c.isalpha():
            return rng.choice("abcdefghijklmnopqrstuvwxyz") if c.islower() else rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return c
    return "".join(one(c) for c in text)


OTHER_TYPES = {"json": "text/plain", "form": JSON, "text": JSON, "xml": JSON}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def mutations(base: Draft, rng: random.Random) -> Iterator[tuple[str, str, Draft]]:
    """(label, kind, request): the example, requests the specification holds equivalent to it
    (kind "equivalent": header names in another case, an unrelated header, a charset parameter,
    query names reordered or percent-encoded, a body where the pact has none), and the mutations
    of each of its parts."""
    yield "example", "exact", base

    def variant(**changes: Any) -> Draft:
        return replace(copy.deepcopy(base), **changes)

    # method and path
    method = rng.choice([m for m in METHODS if m != base.method])
    yield f"method {method}", "method", variant(method=method)
    yield "trailing slash", "path", variant(path=base.path + "/")
    head, _, last = base.path.rpartition("/")
    yield "last segment changed", "path", variant(path=f"{head}/{int(last) + 1 if last.isdigit() else last + 'x'}")
    yield "path in upper case", "path", variant(path=base.path.upper())
    new = f"{head}/{_reshaped(last, rng)}"
    yield f"last segment reshaped to {new}", "path", variant(path=new)
    # query
    names = list(dict.fromkeys(k for k, _ in base.query))
    for name in names:
        yield f"query {name} removed", "query", variant(query=[(k, v) for k, v in base.query if k != name])
        new = rng.choice(["other", "0", "-1", "ZZ-9", "2024-13-01", ""])
        i = next(i for i, (k, _) in enumerate(base.query) if k == name)
        changed = [*base.query[:i], (name, new), *base.query[i + 1:]]
        yield f"query {name} set to {new!r}", "query", variant(query=changed)
        yield f"query {name} repeated", "query", variant(query=[*base.query, base.query[i]])
        new = _reshaped(base.query[i][1], rng)
        changed = [*base.query[:i], (name, new), *base.query[i + 1:]]
        yield f"query {name} reshaped to {new!r}", "query", variant(query=changed)
    yield "query parameter added", "query", variant(query=[*base.query, ("debug", "1")])
    if len(names) > 1:
        by_name = sorted(base.query, key=lambda kv: kv[0], reverse=True)  # (stable: repeated values keep their order)
        yield "query names reordered", "equivalent", variant(query=by_name)
    if base.query:
        yield "query percent-encoded", "equivalent", variant(raw_query="&".join(
            f"{k}={''.join(f'%{b:02X}' for b in v.encode())}" for k, v in base.query))
    # headers
    if base.headers:
        yield "header names in lower case", "equivalent", variant(headers=[(n.lower(), v) for n, v in base.headers])
    yield "unrelated header added", "equivalent", variant(headers=[*base.headers, ("X-Request-Id", "r-1")])
    for n, v in base.headers:
        if n.lower() == "content-type":
            continue
        others = [(m, w) for m, w in base.headers if m != n]
        new = rng.choice([c for c in ("other", v.upper(), v + "x", "1234") if c != v])
        yield f"header {n} set to {new!r}", "header", variant(headers=[*others, (n, new)])
        yield f"header {n} removed", "header", variant(headers=others)
        new = _reshaped(v, rng)
        yield f"header {n} reshaped to {new!r}", "header", variant(headers=[*others, (n, new)])
    # body
    if base.form is not None:
        others = [(m, w) for m, w in base.headers if m.lower() != "content-type"]
        yield f"content type {OTHER_TYPES[base.form]}", "content-type", variant(
            headers=[*others, ("Content-Type", OTHER_TYPES[base.form])])
        yield "content type with a charset", "equivalent", variant(
            headers=[*others, ("Content-Type", f"{base.content_type()}; charset=utf-8")])
        yield "body removed", "body", variant(form=None, body=None)
    if base.form == "json":
        for label, body in _json_mutations(base.body, rng):
            yield label, "body", variant(body=body)
        yield "body not JSON", "body", variant(form="text", body='{"name": ')
    elif base.form == "form":
        fields = base.body
        for i, (name, value) in enumerate(fields):
            yield f"field {name} changed", "body", variant(body=[*fields[:i], (name, rng.choice(["x", "12345678"])),
                                                                 *fields[i + 1:]])
            yield f"field {name} removed", "body", variant(body=[*fields[:i], *fields[i + 1:]])
            new = _reshaped(value, rng)
            yield f"field {name} reshaped to {new!r}", "body", variant(body=[*fields[:i], (name, new), *fields[i + 1:]])
        yield "field added", "body", variant(body=[*fields, ("extra", "1")])
        yield "fields reordered", "body", variant(body=list(reversed(fields)))
    elif base.form == "text":
        yield "text changed", "body", variant(body=rng.choice(["note: ", "something else", base.body.upper()]))
        yield "text appended", "body", variant(body=base.body + " and bread")
        new = _reshaped(base.body, rng)
        yield f"text reshaped to {new!r}", "body", variant(body=new)
    elif base.form == "xml":
        for label, text in _xml_mutations(base.body, rng):
            yield label, "body", variant(body=text)
    else:
        yield "JSON body added", "equivalent", variant(form="json", body={"unexpected": True},
                                                 headers=[*base.headers, ("Content-Type", JSON)])


def generate(name: str, pact: dict) -> list[Sent]:
    rng = random.Random(f"stuntman-pact-differential:{name}")
    version = pact["metadata"]["pactSpecification"]["version"]
    out: list[Sent] = []
    for item in pact["interactions"]:
        for label, kind, draft in mutations(example(item, version), rng):
            out.append(Sent(f"{item['description']}: {label}", item["description"], kind,
                            draft.method, draft.target(), tuple(draft.headers), draft.body_bytes()))
    return out


# -- the two servers --------------------------------------------------------------------------

def send(port: int, sent: Sent) -> str:
    """The verdict: the interaction that answered, NOT_FOUND, or what else came back."""
    conn = HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(sent.method, sent.target, skip_accept_encoding=True)
        for n, v in sent.headers:
            conn.putheader(n, v)
        if sent.body or sent.method in PAYLOAD_METHODS:
            conn.putheader("Content-Length", str(len(sent.body)))
        conn.endheaders(sent.body or None)
        response = conn.getresponse()
        data = response.read()
    except (OSError, HTTPException) as exc:
        return f"no answer ({type(exc).__name__})"
    finally:
        conn.close()
    try:
        return str(json.loads(data)["interaction"])
    except (ValueError, KeyError, TypeError):
        return NOT_FOUND if response.status == 404 else f"HTTP {response.status} {data[:60]!r}"


class Reference:
    """pact-stub-server (`pact stub`), started on a free port; it binds 0.0.0.0."""

    def __init__(self, *files: Path, flags: tuple[str, ...] = ()):
        assert PACT is not None
        self.port = free_port()
        args = [PACT, "stub", "-p", str(self.port), "-l", "none", *flags]
        for f in files:
            args += ["-f", str(f)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_port(self.port, proc=self.proc)
        except BaseException:
            self.stop()
            raise

    def __call__(self, sent: Sent) -> str:
        return send(self.port, sent)

    def stop(self) -> None:
        stop_process(self.proc)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


class Stuntman:
    """stuntman in this process, serving the pact files only."""

    def __init__(self, stubs: Path, *files: Path, **settings: Any):
        stubs.mkdir(parents=True, exist_ok=True)
        self.server = InProcess(replace(Settings(), stubs=stubs, pact=files, port=0, admin_port=None, watch=False,
                                        **settings))

    def __call__(self, sent: Sent) -> str:
        return send(self.server.port, sent)

    def stop(self) -> None:
        self.server.stop()


@dataclass
class Pair:
    path: Path
    pact: Pact
    reference: Reference
    stuntman: Stuntman


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Pair]]:
    """name → both servers on that corpus pact, started once for the module."""
    root = tmp_path_factory.mktemp("pact-differential")
    pairs: dict[str, Pair] = {}

    def pair(name: str) -> Pair:
        if name not in pairs:
            path = root / f"{name}.json"
            path.write_text(json.dumps(CORPUS[name], indent=1))
            reference = Reference(path)
            try:
                pairs[name] = Pair(path, load_pact(path), reference, Stuntman(root / f"stubs-{name}", path))
            except BaseException:
                reference.stop()
                raise
        return pairs[name]

    yield pair
    for p in pairs.values():
        p.reference.stop()
        p.stuntman.stop()


# -- classification ---------------------------------------------------------------------------

# the parts in which a request may differ from the interaction it was made from, by mutation kind
MAY_DIFFER = {"exact": set(), "equivalent": set(), "method": {"method"}, "path": {"path"}, "query": {"query"},
              "header": {"header"}, "content-type": {"header", "body", "body-type"}, "body": {"body"}}


def differences(pact: Pact, sent: Sent) -> dict[str, set[str]]:
    """description → the parts (method, path, query, header, body, body-type) in which the request
    differs from that interaction, by stuntman's comparison."""
    got = sent.received()
    out = {}
    for interaction in pact.interactions:
        parts = set()
        for m in compare_request(pact, interaction.request, got):
            parts.add("body-type" if m.part == "body" and m.message.startswith("expected a body of type")
                      else m.part)
        out[interaction.description] = parts
    return out


@dataclass
class Outcome:
    sent: Sent
    reference: str
    stuntman: str
    verdict: str  # "agree", a deviation's name, or "unexpected: ..."


def classify(pact: Pact, sent: Sent, reference: str, stuntman: str) -> str:
    """Why the two verdicts differ: "agree", one documented deviation, or "unexpected: why"."""
    found = differences(pact, sent)
    extra = found[sent.base] - MAY_DIFFER[sent.kind]
    if extra:  # stuntman's comparison names a part the mutation did not touch
        return f"unexpected: differs from {sent.base!r} in {sorted(extra)}, a {sent.kind} mutation"
    if reference == stuntman:
        return "agree"
    order = [i.description for i in pact.interactions]
    if not {reference, stuntman} <= {*found, NOT_FOUND}:
        return "unexpected: an answer that is no interaction"
    if stuntman != NOT_FOUND:
        if found[stuntman]:
            return f"unexpected: stuntman answered {stuntman!r}, which differs in {sorted(found[stuntman])}"
        # stuntman's answer matches in every part: the reference, which ranks by the number of
        # mismatches, would answer it or an earlier full match - unless it sees a difference there
        if reference == NOT_FOUND:
            return f"unexpected: the reference answered 404, stuntman {stuntman!r}, which matches in every part"
        if found[reference]:
            return f"unexpected: the reference preferred {reference!r}, which differs in " \
                   f"{sorted(found[reference])}, to {stuntman!r}, which matches in every part"
        if order.index(reference) > order.index(stuntman):
            return f"unexpected: the reference answered {reference!r}, later in the file than {stuntman!r}"
        states = {i.description: bool(i.states) for i in pact.interactions}
        if states[reference] and not states[stuntman]:
            return "stateless-first-without-a-state"
        return "first-in-file-not-most-specific"
    if reference == NOT_FOUND:
        return "unexpected: the reference found nothing"
    explained = set()
    for part in found[reference]:
        if part == "header":
            explained.add("headers-only-rank")
        elif part == "body-type":
            explained.add("content-type-only-ranks")
        elif part == "body" and (sent.method not in PAYLOAD_METHODS or not sent.body):
            explained.add("body-only-with-payload")
        else:
            return f"unexpected: the reference answered {reference!r}, which differs in {part}"
    if not explained:
        return f"unexpected: stuntman found no difference in {reference!r} yet answered 404"
    return " + ".join(sorted(explained))


# Stuntman bugs found by the comparison and not fixed yet: (corpus pact, request label) → reason,
# excluded from its pact's differential test. None now: the first (integer, decimal and number
# rules took a JSON string of digits in a body) is fixed, and
# test_number_rules_refuse_json_strings_in_a_body keeps it so.
STUNTMAN_BUGS: dict[tuple[str, str], str] = {}


def compared(pair: Pair, name: str) -> list[Outcome]:
    out = []
    for sent in generate(name, CORPUS[name]):
        reference, stuntman = pair.reference(sent), pair.stuntman(sent)
        out.append(Outcome(sent, reference, stuntman, classify(pair.pact, sent, reference, stuntman)))
    return out


def _report(outcomes: list[Outcome]) -> str:
    return "\n".join(f"  {o.sent.label} [{o.sent.kind}] {o.sent.method} {o.sent.target} "
                     f"{dict(o.sent.headers)} {o.sent.body[:80]!r}\n    reference: {o.reference!r}, "
                     f"stuntman: {o.stuntman!r} → {o.verdict}" for o in outcomes)


TALLY: Counter[str] = Counter()  # verdicts over the whole corpus (printed with -s)


@pytest.mark.parametrize("name", list(CORPUS))
def test_generated_requests_get_the_same_verdict_or_a_documented_deviation(name: str, served) -> None:
    outcomes = [o for o in compared(served(name), name) if (name, o.sent.label) not in STUNTMAN_BUGS]
    verdicts = Counter(v for o in outcomes for v in o.verdict.split(" + "))
    TALLY.update(verdicts)
    TALLY["requests"] += len(outcomes)
    print(f"\n{name}: {len(outcomes)} requests, {dict(verdicts)}; corpus so far {dict(TALLY)}")
    unexpected = [o for o in outcomes if o.verdict.startswith("unexpected")]
    assert not unexpected, f"{len(unexpected)} unexplained differences:\n{_report(unexpected)}"
    assert set(verdicts) <= {"agree"} | DEVIATION_NAMES
    assert verdicts["agree"] >= len(outcomes) // 2, "the two mostly agree, or the corpus is wrong"


def test_the_corpus_is_a_few_hundred_requests_of_every_kind() -> None:
    sent = [s for name, pact in CORPUS.items() for s in generate(name, pact)]
    assert 300 <= len(sent) <= 900
    assert {s.kind for s in sent} == set(MAY_DIFFER)
    assert len({(s.base, s.label) for s in sent}) == len(sent), "labels name requests uniquely"
    assert generate("users-v3", USERS) == generate("users-v3", USERS), "seeded: the same requests every run"


# -- the known pact-stub-server issues, one by one ----------------------------------------------

def get(path: str, headers: dict[str, str] | None = None, method: str = "GET", body: bytes = b"") -> Sent:
    return Sent(f"{method} {path}", "", "exact", method, path, tuple((headers or {}).items()), body)


@pytest.fixture
def both(tmp_path: Path) -> Iterator[Callable[..., tuple[Reference, Stuntman]]]:
    """start(pact document, reference flags=(), **stuntman settings) → (reference, stuntman)."""
    started: list[Reference | Stuntman] = []

    def start(doc: dict, flags: tuple[str, ...] = (), **settings: Any) -> tuple[Reference, Stuntman]:
        path = tmp_path / f"pact{len(started)}.json"
        path.write_text(json.dumps(doc))
        reference = Reference(path, flags=flags)
        started.append(reference)
        stuntman = Stuntman(tmp_path / f"stubs{len(started)}", path, **settings)
        started.append(stuntman)
        return reference, stuntman

    yield start
    for server in started:
        server.stop()


def test_issue_53_the_reference_takes_the_first_match_in_the_file_stuntman_the_most_specific(both) -> None:
    """#53: a query-less interaction first, then type=foo and type=bar. A query the interaction
    lacks disqualifies it in both (the issue's report was about the Ruby stub server). Where two
    interactions both match, the reference answers the first in the file, stuntman the one that
    pins more down."""
    endpoint = document("c", "p", V3, *[
        http("no query", {"method": "GET", "path": "/endpoint"}),
        http("type foo", {"method": "GET", "path": "/endpoint", "query": {"type": ["foo"]}}),
        http("type bar", {"method": "GET", "path": "/endpoint", "query": {"type": ["bar"]}}),
        http("any search", {"method": "GET", "path": "/search", "query": {"q": ["x"]},
                            "matchingRules": {"query": {"q": {"matchers": [{"match": "type"}]}}}}),
        http("exact search", {"method": "GET", "path": "/search", "query": {"q": ["shoes"]}}),
        http("any item", {"method": "GET", "path": "/items/1", "matchingRules": {
            "path": {"matchers": [{"match": "regex", "regex": "/items/\\d+"}]}}}),
        http("item 7", {"method": "GET", "path": "/items/7"}),
    ])
    reference, stuntman = both(endpoint)
    for server in (reference, stuntman):
        assert server(get("/endpoint?type=foo")) == "type foo"
        assert server(get("/endpoint?type=bar")) == "type bar"
        assert server(get("/endpoint")) == "no query"
        assert server(get("/endpoint?type=baz")) == NOT_FOUND
        assert server(get("/search?q=boots")) == "any search"
        assert server(get("/items/8")) == "any item"
    assert reference(get("/search?q=shoes")) == "any search"     # first in the file
    assert stuntman(get("/search?q=shoes")) == "exact search"    # the value pinned down
    assert reference(get("/items/7")) == "any item"
    assert stuntman(get("/items/7")) == "item 7"                 # the exact path before the path rule


STATES = document("web", "users", V3, *[
    http("user 1", {"method": "GET", "path": "/users/1"}, states=("user 1 exists",)),
    http("no user 1", {"method": "GET", "path": "/users/1"}, 404, states=("no users",)),
    http("default user 1", {"method": "GET", "path": "/users/1"}),
    http("health", {"method": "GET", "path": "/health"}),
])
STATE_HEADER = "X-Pact-Provider-State"


def test_issue_34_interactions_without_states_under_a_state_filter(both) -> None:
    """#34: with a state filter, the reference drops every interaction without states (unless
    --empty-provider-state); stuntman keeps them (unless --strict-provider-state)."""
    reference, stuntman = both(STATES, ("-s", "user 1 exists"), provider_state="user 1 exists")
    assert reference(get("/users/1")) == stuntman(get("/users/1")) == "user 1"
    assert reference(get("/health")) == NOT_FOUND
    assert stuntman(get("/health")) == "health"
    reference, stuntman = both(STATES, ("-s", "user 1 exists", "--empty-provider-state"),
                               provider_state="user 1 exists", strict_provider_state=True)
    assert reference(get("/health")) == "health"
    assert stuntman(get("/health")) == NOT_FOUND


def test_provider_states_by_header_a_regex_there_an_exact_name_here(both) -> None:
    reference, stuntman = both(STATES, ("--provider-state-header-name", STATE_HEADER))
    for server in (reference, stuntman):
        assert server(get("/users/1", {STATE_HEADER: "user 1 exists"})) == "user 1"
        assert server(get("/users/1", {STATE_HEADER: "no users"})) == "no user 1"
    # no state asked for: the reference answers the first in the file, stuntman the stateless one
    assert reference(get("/users/1")) == "user 1"
    assert stuntman(get("/users/1")) == "default user 1"
    # a part of a name: a regex found in 'user 1 exists' there, no such state here
    assert reference(get("/users/1", {STATE_HEADER: "user 1"})) == "user 1"
    assert stuntman(get("/users/1", {STATE_HEADER: "user 1"})) == "default user 1"
    # an interaction without states under a state asked for by header (#34 again)
    assert reference(get("/health", {STATE_HEADER: "no users"})) == NOT_FOUND
    assert stuntman(get("/health", {STATE_HEADER: "no users"})) == "health"
    # not a valid regex: the reference's connection task panics
    assert reference(get("/users/1", {STATE_HEADER: "("})).startswith("no answer")
    assert stuntman(get("/users/1", {STATE_HEADER: "("})) == "default user 1"


def test_issue_24_header_rules_rank_there_and_decide_here(both) -> None:
    """#24: two POST /data differing only by a requestid header regex (one a lookahead). The
    reference answers the one with fewer mismatches, never 404; stuntman the one whose rule holds."""
    def one(description: str, regex: str) -> dict:
        return http(description, {"method": "POST", "path": "/data", "headers": {"requestid": "1234"},
                                  "matchingRules": {"header": {"requestid": {"matchers": [
                                      {"match": "regex", "regex": regex}]}}}})
    reference, stuntman = both(document("c", "p", V3, one("is 1234", "^1234$"), one("not 1234", "^((?!1234).)*$")))
    for server in (reference, stuntman):
        assert server(get("/data", {"requestid": "1234"}, "POST")) == "is 1234"
        assert server(get("/data", {"requestid": "5678"}, "POST")) == "not 1234"
        assert server(get("/data", {"requestid": "9999"}, "POST")) == "not 1234"
    for headers in ({"requestid": "12345"}, {}):  # neither rule holds: the first in the file there
        assert reference(get("/data", headers, "POST")) == "is 1234"
        assert stuntman(get("/data", headers, "POST")) == NOT_FOUND


def test_issue_33_and_11_query_rules(both) -> None:
    """#33: query rules without a `query` in the request hold nothing (every parameter is
    unexpected) - in both; with the query, a regex rule holds every value of a repeated
    parameter. #11: a v2 rule `$.query.page[0]` of type on `page=1`."""
    rules_only = http("rules only", {"method": "GET", "path": "/api/test", "matchingRules": {
        "path": {"matchers": [{"match": "regex", "regex": "/api/test"}]},
        "query": {"firstParam": {"matchers": [{"match": "regex", "regex": "SPECIFIC"}]},
                  "secondParam": {"matchers": [{"match": "regex", "regex": "\\d+"}]}}}})
    numbered = http("numbered", {"method": "GET", "path": "/api/numbered", "query": {"firstParam": ["SPECIFIC", "1"]},
                                 "matchingRules": {"query": {"firstParam": {"matchers": [
                                     {"match": "regex", "regex": "SPECIFIC|\\d+"}]}}}})
    v3_reference, v3_stuntman = both(document("c", "p", V3, rules_only, numbered))
    v2_reference, v2_stuntman = both(document("c", "p", V2, http("page", {
        "method": "GET", "path": "/items", "query": "page=1",
        "matchingRules": {"$.query.page[0]": {"match": "type"}}})))
    expected = {
        "/api/test?firstParam=SPECIFIC&secondParam=7": NOT_FOUND,
        "/api/test": "rules only",
        "/api/numbered?firstParam=SPECIFIC&firstParam=7": "numbered",
        "/api/numbered?firstParam=SPECIFIC": "numbered",
        "/api/numbered?firstParam=x&firstParam=7": NOT_FOUND,
        "/api/numbered?firstParam=SPECIFIC&firstParam=7&firstParam=8": "numbered",
    }
    for target, verdict in expected.items():
        assert (v3_reference(get(target)), v3_stuntman(get(target))) == (verdict, verdict), target
    for target, verdict in {"/items?page=2": "page", "/items?page=1&page=3": "page", "/items": NOT_FOUND,
                            "/items?page=2&size=1": NOT_FOUND}.items():
        assert (v2_reference(get(target)), v2_stuntman(get(target))) == (verdict, verdict), target


@pytest.mark.parametrize("rule, example, sent", [("integer", 36, "36"), ("decimal", 1.5, "1.5"), ("number", 2, "2")])
def test_number_rules_refuse_json_strings_in_a_body(both, rule: str, example: Any, sent: str) -> None:
    """Found by this comparison: the string branch meant for query and header values also took a
    JSON string in a body. The specification's matchers check "the type of the value"."""
    reference, stuntman = both(document("c", "p", V3, http("create", {
        "method": "POST", "path": "/p", "headers": {"Content-Type": JSON}, "body": {"n": example},
        "matchingRules": {"body": {"$.n": {"matchers": [{"match": rule}]}}}})))

    def post(value: Any) -> Sent:
        return get("/p", {"Content-Type": JSON}, "POST", json.dumps({"n": value}).encode())

    assert reference(post(example)) == stuntman(post(example)) == "create"
    assert reference(post(sent)) == NOT_FOUND  # a string is not a number, whatever its characters
    assert stuntman(post(sent)) == NOT_FOUND


def test_a_404_and_the_cors_header(both) -> None:
    reference, stuntman = both(document("c", "p", V3, http("health", {"method": "GET", "path": "/health"})))
    for server in (reference, stuntman):
        assert server(get("/nothing")) == NOT_FOUND
    conn = HTTPConnection("127.0.0.1", reference.port, timeout=10)
    conn.request("GET", "/nothing")
    missed = conn.getresponse()
    assert (missed.read(), missed.getheader("Access-Control-Allow-Origin")) == (b"", "*")
    conn.close()
    conn = HTTPConnection("127.0.0.1", stuntman.server.port, timeout=10)
    conn.request("GET", "/heath")
    missed = conn.getresponse()
    assert b"health" in missed.read() and missed.getheader("Access-Control-Allow-Origin") is None
    conn.close()
    for port, cors in ((reference.port, "*"), (stuntman.server.port, None)):
        conn = HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/health")
        assert conn.getresponse().getheader("Access-Control-Allow-Origin") == cors
        conn.close()


def test_every_deviation_is_documented_once_with_a_spec_reference() -> None:
    assert len(DEVIATION_NAMES) == len(DEVIATIONS)
    for d in DEVIATIONS:
        assert d.reference and d.stuntman and ("README.md" in d.why or "specification" in d.why), d.name

