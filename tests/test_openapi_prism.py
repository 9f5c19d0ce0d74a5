"""stuntman's OpenAPI stubs against Prism (@stoplight/prism-cli, the mock whose conventions
stuntman follows), on the same specs and the same requests over real sockets: the petstore (3.0)
and the multi-file rich spec (3.0).

Where both should agree the tests assert equality: explicit examples (status, content type,
body), `Prefer` and `__code`/`__example`/`__dynamic` selection, 404 for an unknown path, 406
for an unacceptable Accept, the fields a rejected request is blamed for, 401 for unmet security
(stuntman with --enforce-security), generated data that validates against the response schema
(checked by openapi-schema-validator, resolving the spec's files itself). Where stuntman differs
on purpose, a `test_deviation_...` asserts each side's answer and says why. The two places this
comparison found stuntman wrong (an undeclared Prefer code, security checked after validation)
are fixed, and their tests assert the answer both now give.

Prism is compared at the root (it ignores `servers`). Not sent to it: a matrix-style path
parameter (`GET /points/;coords=3,4`), which makes Prism 5.14.2 exit with a TypeError.

Prism comes from `make peers` (npm, into .peers/); without it these tests fail, they do not skip.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from conftest import ROOT, call, free_port

PRISM = ROOT / ".peers" / "node_modules" / ".bin" / "prism"
SPECS = ROOT / "tests" / "openapi" / "specs"
PETSTORE = SPECS / "petstore-3.0.yaml"
RICH = SPECS / "rich-3.0" / "openapi.yaml"

BEARER = {"Authorization": "Bearer t0ken"}
REQUEST_ID = {"X-Request-ID": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}
RICH_OK = {**BEARER, **REQUEST_ID}  # what every rich request needs (security and a required header)
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PROBLEM = "application/problem+json"


# -- the servers -------------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def json(self):
        return json.loads(self.body)


def send(port: int, method: str, path: str, body=None, headers: dict | None = None) -> Answer:
    if isinstance(body, (dict, list)):
        body, headers = json.dumps(body), {**JSON, **(headers or {})}
    return Answer(*call(port, method, path, body=body, headers=headers))


@dataclass
class Peers:
    """One spec served by Prism, by stuntman and by stuntman with --enforce-security."""
    prism: int
    stuntman: int
    enforcing: int

    def both(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[Answer, Answer]:
        """(Prism's answer, stuntman's) to the same request."""
        return send(self.prism, method, path, body, headers), send(self.stuntman, method, path, body, headers)

    def enforced(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[Answer, Answer]:
        """(Prism's answer, the answer of stuntman with --enforce-security)."""
        return send(self.prism, method, path, body, headers), send(self.enforcing, method, path, body, headers)


def _wait(port: int, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{' '.join(map(str, proc.args[:3]))} exited ({proc.returncode}): "
                                 f"{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on {port} after {timeout} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    """{"petstore": Peers, "rich": Peers}: two Prisms and four stuntmen, started at once (Prism
    takes seconds to start) and stopped after the module."""
    assert PRISM.exists(), f"{PRISM} is missing: `make peers` installs Prism (npm)"
    logs = tmp_path_factory.mktemp("peers")
    empty = logs / "no-stubs"
    empty.mkdir()
    started: list[tuple[int, subprocess.Popen, Path]] = []

    def start(name: str, argv: list[str], port: int) -> int:
        log = logs / f"{name}.log"
        with log.open("wb") as out:  # a file, not a pipe: Prism logs every request
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
        started.append((port, proc, log))
        return port

    def prism(name: str, spec: Path) -> int:
        port = free_port()
        return start(f"prism-{name}", [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)], port)

    def stuntman(name: str, spec: Path, *flags: str) -> int:
        port = free_port()
        return start(f"stuntman-{name}{''.join(flags)}", [
            sys.executable, "-m", "stuntman", "run", "--stubs", str(empty), "--no-watch", "--port", str(port),
            "--admin-port", str(free_port()), "--openapi", str(spec), *flags], port)

    try:
        servers = {name: Peers(prism(name, spec), stuntman(name, spec), stuntman(name, spec, "--enforce-security"))
                   for name, spec in (("petstore", PETSTORE), ("rich", RICH))}
        for port, proc, log in started:
            _wait(port, proc, log, timeout=60)
        yield servers
    finally:
        for _, proc, _ in started:
            proc.terminate()
        for _, proc, _ in started:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def petstore(peers) -> Peers:
    return peers["petstore"]


@pytest.fixture(scope="module")
def rich(peers) -> Peers:
    return peers["rich"]


# -- an independent check of generated data ----------------------------------------------------

@cache
def _document(uri: str):
    assert uri.startswith("file://"), uri
    return yaml.safe_load(Path(uri.removeprefix("file://")).read_text())


REGISTRY = Registry(retrieve=lambda uri: Resource.from_contents(_document(uri), default_specification=DRAFT4))


def conforms(spec: Path, ref: str, value) -> list[str]:
    """What openapi-schema-validator finds wrong with value against the schema at `ref` of spec
    (its $refs to other files resolved from disk here, not by stuntman); [] when it conforms."""
    validator = OAS30Validator({"$ref": spec.resolve().as_uri() + ref}, registry=REGISTRY,
                               format_checker=oas30_format_checker)
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]


def schema_of(path: str, method: str = "get", status: str = "200") -> str:
    """The JSON pointer of an operation's response schema (application/json)."""
    return (f"#/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}/responses/{status}"
            "/content/application~1json/schema")


# -- the same answers --------------------------------------------------------------------------

FLUFFY, REX = {"id": 1, "name": "Fluffy", "tag": "cat"}, {"id": 2, "name": "Rex", "tag": "dog"}
PETS = [FLUFFY, REX]
NOT_FOUND = {"code": 404, "message": "no pet with that id"}

EXAMPLES = [  # spec, method, path, body, headers → status, body (an explicit example of the spec)
    ("petstore", "GET", "/pets/1", None, {}, 200, FLUFFY),
    ("petstore", "GET", "/pets", None, {}, 200, PETS),
    ("petstore", "GET", "/pets?limit=5&tags=cat&tags=dog", None, {}, 200, PETS),
    ("petstore", "POST", "/pets", {"name": "Tom"}, {}, 201, FLUFFY),  # the first example
    ("petstore", "GET", "/pets/1", None, {"Prefer": "code=404"}, 404, NOT_FOUND),
    ("petstore", "GET", "/pets/1?__code=404", None, {}, 404, NOT_FOUND),
    ("petstore", "POST", "/pets", {"name": "Tom"}, {"Prefer": "example=rex"}, 201, REX),  # a $ref'd example
    ("petstore", "POST", "/pets?__example=rex", {"name": "Tom"}, {}, 201, REX),
    ("petstore", "DELETE", "/pets/1", None, {"X-API-Key": "k"}, 204, None),
    ("petstore", "DELETE", "/pets/1", None, {"X-API-Key": "k", "Prefer": "code=404"}, 404, NOT_FOUND),
    ("rich", "GET", "/pets", None, RICH_OK, 200, [{"id": 1, "name": "Tom", "kind": "cat", "indoor": True},
                                                  {"id": 2, "name": "Rex", "kind": "dog", "goodBoy": True}]),
    ("rich", "POST", "/login", b"username=a%40b.co&password=12345678", FORM, 204, None),
]


@pytest.mark.parametrize(("spec", "method", "path", "body", "headers", "status", "expected"), EXAMPLES,
                         ids=[f"{c[0]}-{c[1]} {c[2]} {c[4].get('Prefer', '')}".strip() for c in EXAMPLES])
def test_explicit_examples_are_answered_identically(peers, spec, method, path, body, headers, status, expected):
    prism, stuntman = peers[spec].both(method, path, body, headers)
    assert (prism.status, stuntman.status) == (status, status)
    if expected is None:
        assert prism.body == stuntman.body == b""
    else:
        assert prism.type == stuntman.type == "application/json"
        assert prism.json == stuntman.json == expected
        assert prism.body == stuntman.body  # byte for byte: compact JSON, the spec's key order


def test_declared_response_headers_are_sent_by_both(petstore, rich):
    for answer in petstore.both("GET", "/pets"):
        int(answer.headers["x-total-count"])  # an int64
    for answer in petstore.both("POST", "/pets", {"name": "Tom"}):
        assert answer.headers["location"].startswith(("http://", "https://"))  # format: uri
    for answer in rich.both("GET", "/pets", headers=RICH_OK):
        assert int(answer.headers["x-total-count"]) >= 0 and int(answer.headers["x-rate-limit-remaining"]) >= 0
    prism, stuntman = rich.both("POST", "/login", b"username=a%40b.co&password=12345678", FORM)
    assert prism.headers["set-cookie"] == stuntman.headers["set-cookie"] == "session=0123456789abcdef; Path=/; HttpOnly"


def test_prefer_code_falls_back_to_the_default_response_with_the_code_asked_for(rich):
    error = "#/components/schemas/Error"
    for code in ("500", "418"):
        prism, stuntman = rich.both("GET", "/pets", headers={**RICH_OK, "Prefer": f"code={code}"})
        assert prism.status == stuntman.status == int(code)
        assert prism.type == stuntman.type == "application/json"
        assert conforms(RICH, error, prism.json) == conforms(RICH, error, stuntman.json) == []


def test_a_named_example_that_does_not_exist_is_404_problem_json(petstore):
    for method, path, body in (("POST", "/pets", {"name": "Tom"}), ("GET", "/pets/1", None)):
        prism, stuntman = petstore.both(method, path, body, {"Prefer": "example=nope"})
        assert prism.status == stuntman.status == 404
        assert prism.type == stuntman.type == PROBLEM
        assert "nope" in prism.json["detail"] and "nope" in stuntman.json["detail"]


def test_prefer_code_the_operation_does_not_declare_is_404_problem_json(petstore):
    # GET /pets/{petId} declares 200 and 404, no default
    prism, stuntman = petstore.both("GET", "/pets/1", headers={"Prefer": "code=418"})
    assert (prism.status, prism.type) == (404, PROBLEM) and "418" in prism.json["detail"]
    assert (stuntman.status, stuntman.type) == (404, PROBLEM) and "418" in stuntman.json["detail"]


@pytest.mark.parametrize(("spec", "path"), [("petstore", "/nothing"), ("petstore", "/pets/1/"),
                                            ("petstore", "/PETS/1"), ("rich", "/nothing")])
def test_an_unknown_path_is_404(peers, spec, path):
    prism, stuntman = peers[spec].both("GET", path, headers=RICH_OK)
    assert prism.status == stuntman.status == 404


def test_an_accept_the_operation_cannot_answer_is_406_problem_json(petstore):
    prism, stuntman = petstore.both("GET", "/pets/1", headers={"Accept": "application/xml"})
    assert prism.status == stuntman.status == 406
    assert prism.type == stuntman.type == PROBLEM


# -- invalid requests --------------------------------------------------------------------------

INVALID = [  # spec, method, path, body, headers → the fields blamed, Prism's status, stuntman's
    ("petstore", "GET", "/pets?limit=0", None, {}, {"query.limit"}, 422, 400),
    ("petstore", "GET", "/pets?limit=abc", None, {}, {"query.limit"}, 422, 400),
    ("petstore", "GET", "/pets/abc", None, {}, {"path.petid"}, 422, 400),
    ("petstore", "POST", "/pets", {"name": "", "tag": 5}, {}, {"body.name", "body.tag"}, 400, 400),
    ("petstore", "POST", "/pets", {"tag": "x"}, {}, {"body"}, 400, 400),  # name is required
    ("petstore", "POST", "/pets", b"name=x", FORM, {"content-type"}, 400, 415),
    ("rich", "GET", "/pets/1", None, RICH_OK, {"query.verbose"}, 422, 400),  # a required query parameter
    ("rich", "GET", "/pets/1?verbose=maybe", None, RICH_OK, {"query.verbose"}, 422, 400),
    ("rich", "GET", "/pets", None, BEARER, {"header.x-request-id"}, 422, 400),  # a required header
    ("rich", "GET", "/trees/not-a-uuid", None, RICH_OK, {"path.treeid"}, 422, 400),
    ("rich", "POST", "/pets", [1], RICH_OK, {"body"}, 422, 422),  # the body's type
    ("rich", "POST", "/pets", {"name": "Tom", "kind": "cow"}, RICH_OK, {"body.kind"}, 422, 422),
    ("rich", "POST", "/pets", b'{"name": "Tom", "kind": "cat"}', {**RICH_OK, "Content-Type": "text/plain"},
     {"content-type"}, 422, 415),
    ("rich", "POST", "/login", {"username": "a@b.co", "password": "12345678"}, {}, {"content-type"}, 415, 415),
    ("rich", "POST", "/login", b"username=a%40b.co", FORM, {"body"}, 422, 400),  # password is required
    ("rich", "POST", "/formats", {"dateTime": "x", "date": "2020-01-01", "uuid": REQUEST_ID["X-Request-ID"],
                                  "email": "a@b.co"}, RICH_OK, {"body.datetime"}, 422, 400),
]
INVALID_IDS = [f"{c[0]}-{c[1]} {c[2]} {sorted(c[5])}" for c in INVALID]


def prism_blames(answer: Answer) -> set[str]:
    """The fields Prism's violations name: from the problem's `validation` (when Prism made the
    answer up) or the sl-violations header (when it answers the spec's error response), as
    `query.limit`, `body.name`, `content-type`; security violations left out."""
    if "sl-violations" in answer.headers:
        violations = json.loads(answer.headers["sl-violations"])
    elif answer.json["type"].endswith("#INVALID_CONTENT_TYPE"):  # a made-up 415 lists nothing
        violations = [{"location": ["request"], "code": 415}]
    else:
        violations = answer.json["validation"]
    blamed = set()
    for v in violations:
        where = [str(part).lower() for part in v["location"] if part != "request"]
        if v["code"] == 401:
            continue
        if v["code"] == 415:
            where = ["content-type"]
        elif v["code"] == "required" and where and where[0] in ("query", "header", "path", "cookie"):
            where.append(v["message"].rsplit("'", 2)[1].lower())  # "must have required property 'x'"
        blamed.add(".".join(where))
    return blamed


def stuntman_blames(answer: Answer) -> set[str]:
    """The fields stuntman's problem names, in the same form."""
    assert answer.type == PROBLEM
    return {".".join([e["location"].lower(), *[p.lower() for p in e["pointer"].split("/") if p]])
            for e in answer.json["errors"]}


@pytest.mark.parametrize(("spec", "method", "path", "body", "headers", "blamed", "_prism", "_stuntman"),
                         INVALID, ids=INVALID_IDS)
def test_both_reject_an_invalid_request_and_blame_the_same_fields(peers, spec, method, path, body, headers,
                                                                 blamed, _prism, _stuntman):
    prism, stuntman = peers[spec].both(method, path, body, headers)
    assert prism.status in (400, 415, 422) and stuntman.status in (400, 415, 422)
    assert prism_blames(prism) == stuntman_blames(stuntman) == blamed


@pytest.mark.parametrize(("spec", "method", "path", "body", "headers", "_blamed", "prism_status", "stuntman_status"),
                         INVALID, ids=INVALID_IDS)
def test_deviation_invalid_request_status_and_body(peers, spec, method, path, body, headers, _blamed,
                                                   prism_status, stuntman_status):
    """Prism answers an invalid request with the operation's own error response, the first it
    declares of 422, 400, `default` (415 first for a wrong content type), its example or data made
    from its schema, and lists the violations in an `sl-violations` header; only when there is none
    does it make up a 422 (or 415) problem with a `validation` list. So the same mistake gets 400
    from one operation, 422 from the next, and a body that does not say what is wrong.
    stuntman always answers `application/problem+json` listing every violation (location, pointer,
    the schema keyword that failed): 415 when only the content type is wrong, 422 when the
    operation declares 422 and not 400, else 400 (the status most APIs use for a bad request)."""
    prism, stuntman = peers[spec].both(method, path, body, headers)
    assert prism.status == prism_status
    if "sl-violations" in prism.headers:  # the spec's response, with its own content type
        assert prism.type == "application/json" and "errors" not in prism.json
    else:
        assert prism.type == PROBLEM and prism.json["status"] == prism_status
    assert stuntman.status == stuntman_status
    assert stuntman.type == PROBLEM and stuntman.json["status"] == stuntman_status and stuntman.json["errors"]


# -- security ----------------------------------------------------------------------------------

SECURED = [  # spec, method, path, headers → status when the requirement is met (or not declared)
    ("petstore", "DELETE", "/pets/1", {}, None),
    ("petstore", "DELETE", "/pets/1", {"X-API-Key": "k"}, 204),
    ("rich", "GET", "/pets", REQUEST_ID, None),
    ("rich", "GET", "/pets", {**REQUEST_ID, "Authorization": "Basic dTpw"}, None),  # not a bearer token
    ("rich", "GET", "/pets", RICH_OK, 200),
    ("rich", "POST", "/login", FORM, 204),  # security: [] overrides the spec's
]


@pytest.mark.parametrize(("spec", "method", "path", "headers", "met"), SECURED,
                         ids=[f"{c[0]}-{c[1]} {c[2]} {sorted(c[3])}" for c in SECURED])
def test_unmet_security_is_401_with_enforce_security(peers, spec, method, path, headers, met):
    body = b"username=a%40b.co&password=12345678" if path == "/login" else None
    prism, stuntman = peers[spec].enforced(method, path, body, headers)
    assert prism.status == stuntman.status == (met or 401)


def test_deviation_security_is_reported_not_enforced_by_default(petstore, rich):
    """Prism answers 401 whenever a request does not meet the operation's declared security.
    stuntman, by default, answers as if it did and names the unmet requirement in
    `x-stuntman-security`: a stub stands in for a service while the client is written, often
    before it has credentials; `--enforce-security` gives Prism's 401."""
    prism, stuntman = petstore.both("DELETE", "/pets/1")
    assert prism.status == 401 and prism.type == PROBLEM
    assert stuntman.status == 204 and stuntman.headers["x-stuntman-security"] == "unmet: api_key"
    prism, stuntman = rich.both("GET", "/pets", headers=REQUEST_ID)
    assert prism.status == 401
    assert stuntman.status == 200 and stuntman.headers["x-stuntman-security"] == "unmet: bearer"


def test_deviation_the_401_body(rich):
    """Prism's 401 is the operation's declared 401, else its `default` response (here the Error
    schema, `application/json`, with an `sl-violations` header), else a made-up problem. stuntman's
    is always a problem saying which requirement is unmet, with a WWW-Authenticate challenge."""
    prism, stuntman = rich.enforced("GET", "/pets", headers=REQUEST_ID)
    assert (prism.status, prism.type) == (401, "application/json")
    assert json.loads(prism.headers["sl-violations"])[0]["code"] == 401
    assert conforms(RICH, "#/components/schemas/Error", prism.json) == []
    assert (stuntman.status, stuntman.type) == (401, PROBLEM) and "bearer" in stuntman.json["detail"]
    assert stuntman.headers["www-authenticate"] == "Bearer"


def test_enforced_security_is_checked_before_the_request_is_validated(petstore, rich):
    for peers, method, path, headers in ((petstore, "DELETE", "/pets/abc", {}),  # petId must be an integer
                                         (rich, "GET", "/pets", {})):  # X-Request-ID is required
        prism, stuntman = peers.enforced(method, path, headers=headers)
        assert prism.status == 401
        assert stuntman.status == 401


# -- generated data ----------------------------------------------------------------------------

DYNAMIC = [  # spec, path, headers, the response schema
    ("petstore", "/pets/1", {"Prefer": "dynamic=true"}, "#/components/schemas/Pet"),
    ("petstore", "/pets?__dynamic=true", {}, "#/components/schemas/Pets"),
    ("petstore", "/pets/1", {"Prefer": "code=404, dynamic=true"}, "#/components/schemas/Error"),
    ("rich", "/people/ada", {**RICH_OK, "Prefer": "dynamic=true"}, schema_of("/people/{name}")),
]


@pytest.mark.parametrize(("spec", "path", "headers", "schema"), DYNAMIC,
                         ids=[f"{c[0]}-{c[1]} {c[2].get('Prefer', '')}".strip() for c in DYNAMIC])
def test_dynamic_data_is_fresh_and_conforms_on_both(peers, spec, path, headers, schema):
    file = PETSTORE if spec == "petstore" else RICH
    for port in (peers[spec].prism, peers[spec].stuntman):
        bodies = []
        for _ in range(4):
            answer = send(port, "GET", path, headers=headers)
            assert answer.status in (200, 404) and answer.type == "application/json"
            assert conforms(file, schema, answer.json) == [], (port, answer.body)
            bodies.append(answer.body)
        assert len(set(bodies)) > 1  # fresh data for each request


def test_deviation_generated_data_conforms_where_prisms_does_not(rich):
    """Without an explicit example Prism fills the schema with placeholders ("string", 0,
    user@example.com) and stops recursion with `{}`, which breaks `required` (it flags its own
    answer in `sl-violations`); its dynamic data ignores discriminators and turns `nullable` under
    `allOf` into a property. stuntman's data validates against the schema every time (a discriminator
    picks the schema, recursion stops at an optional field), is the same for the same path unless
    dynamic, and echoes a path parameter into the field of the same name."""
    person = schema_of("/people/{name}")
    prism, stuntman = rich.both("GET", "/people/ada", headers=RICH_OK)
    assert prism.json["name"] == "string" and conforms(RICH, person, prism.json) != []
    assert "sl-violations" in prism.headers
    assert stuntman.json["name"] == "ada" and conforms(RICH, person, stuntman.json) == []
    assert send(rich.stuntman, "GET", "/people/ada", headers=RICH_OK).body == stuntman.body
    prism, stuntman = rich.both("GET", "/pets/1?verbose=yes", headers=RICH_OK)  # a oneOf with a discriminator
    pet = "#/components/schemas/Pet"
    assert conforms(RICH, pet, prism.json) != [] and conforms(RICH, pet, stuntman.json) == []
    tree = schema_of("/trees/{treeId}")
    dynamic = {**RICH_OK, "Prefer": "dynamic=true"}
    broken = 0
    for _ in range(3):
        prism, stuntman = rich.both("GET", f"/trees/{REQUEST_ID['X-Request-ID']}", headers=dynamic)
        broken += conforms(RICH, tree, prism.json) != []
        assert conforms(RICH, tree, stuntman.json) == []
    assert broken  # in 60 tries with Prism 5.14.2, all 60 were


def test_deviation_answers_are_not_checked_against_the_spec_while_serving(rich):
    """Prism checks each answer it makes against the response schema and lists what fails in
    `sl-violations`, with a JSON Schema validator that ignores discriminators: the rich spec's own
    example of GET /pets is flagged (a cat also matches Lizard, which requires nothing more), though
    the discriminator `kind: cat` picks Cat and it conforms. stuntman serves the spec's examples as
    written and adds no such header (its generated data conforms by construction)."""
    prism, stuntman = rich.both("GET", "/pets", headers=RICH_OK)
    assert prism.json == stuntman.json
    assert {v["code"] for v in json.loads(prism.headers["sl-violations"])} >= {"oneOf"}
    assert "sl-violations" not in stuntman.headers
    assert conforms(RICH, schema_of("/pets"), stuntman.json) == []


# -- the other deviations ----------------------------------------------------------------------

def test_deviation_the_base_path_is_served_too(petstore, rich):
    """Prism serves every operation at the root and ignores `servers`. stuntman serves each
    operation under the base path of each server URL (variables at their defaults), where a client
    configured from the spec sends it, and at the root too when that is unambiguous."""
    prism, stuntman = petstore.both("GET", "/api/v1/pets/1")
    assert prism.status == 404 and (stuntman.status, stuntman.json) == (200, FLUFFY)
    for path in ("/rich/v1/pets", "/local/pets"):
        prism, stuntman = rich.both("GET", path, headers=RICH_OK)
        assert prism.status == 404 and stuntman.status == 200


def test_deviation_example_pairing(petstore):
    """A request body equal to a named request example selects the response example of the same
    name (Microcks' convention); Prism answers the first example whatever the body."""
    prism, stuntman = petstore.both("POST", "/pets", {"name": "Rex", "tag": "dog"})
    assert prism.status == stuntman.status == 201
    assert prism.json == FLUFFY and stuntman.json == REX


def test_deviation_unmatched_requests(petstore):
    """Both answer 404 to a path the spec does not have; Prism's is a problem, stuntman's is its
    usual text listing the nearest routes and why each did not match. A method the path does not
    declare is 405 from Prism; stuntman answers 404 like any request no route matches (with
    --upstream it would pass through: the contract does not own the path)."""
    prism, stuntman = petstore.both("GET", "/nothing")
    assert prism.type == PROBLEM and stuntman.type == "text/plain; charset=utf-8"
    assert b"nearest: listPets" in stuntman.body
    prism, stuntman = petstore.both("PUT", "/pets/1", {"name": "Tom"})
    assert (prism.status, prism.type) == (405, PROBLEM)
    assert stuntman.status == 404 and b"method: expected GET, got PUT" in stuntman.body


def test_deviation_head_is_answered_like_get(petstore):
    """HTTP requires a server that answers GET to answer HEAD (RFC 9110 9.3.2): stuntman does,
    with GET's status and headers; Prism answers 405 unless the spec declares `head`."""
    prism, stuntman = petstore.both("HEAD", "/pets/1")
    assert prism.status == 405
    assert (stuntman.status, stuntman.type, stuntman.body) == (200, "application/json", b"")


def test_deviation_no_content_type_without_content(petstore, rich):
    """A response the spec declares without content (204) has no Content-Type from stuntman;
    Prism sends `text/plain` with an empty body."""
    for peers, method, path, body, headers in (
            (petstore, "DELETE", "/pets/1", None, {"X-API-Key": "k"}),
            (rich, "POST", "/login", b"username=a%40b.co&password=12345678", FORM)):
        prism, stuntman = peers.both(method, path, body, headers)
        assert prism.status == stuntman.status == 204
        assert prism.type == "text/plain" and "content-type" not in stuntman.headers


def test_deviation_prefer_code_with_an_unknown_example(petstore):
    """`Prefer: code=404, example=nope`: the 404 response has no example `nope`. stuntman says
    so with a 404 problem, as when the example alone is unknown; Prism fails with a 500."""
    prism, stuntman = petstore.both("GET", "/pets/1", headers={"Prefer": "code=404, example=nope"})
    assert (prism.status, prism.type) == (500, PROBLEM)
    assert (stuntman.status, stuntman.type) == (404, PROBLEM) and "nope" in stuntman.json["detail"]
