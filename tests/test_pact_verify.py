"""`stuntman verify-pact`: a live provider held to a pact, over real sockets.

(a) Conformance: the Pact specification's response cases (every version). One aiohttp server per
version answers `GET /case/N` with case N's actual response (its status, headers and body bytes;
a v4 body's declared contentType as Content-Type when the case has no such header, and no
Content-Type at all when the case has none: aiohttp's default application/octet-stream is taken
off). One pact per version holds, for each case, `GET /case/N` → the case's expected response;
`verify-pact --json` runs once per version and each case's verdict must be the case's `match`.
(b) A real aiohttp provider with a provider-state endpoint: the pact passes, the state calls are
setup then teardown with Pact's JSON; a provider that breaks the contract fails with the exact
mismatch lines; connection refused and a failed state call are named.
(c) stuntman serving a pact (`run --pact`) satisfies that same pact.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict

import pact_cases as pc
from conftest import ROOT, STUNTMAN, free_port
from stuntman.testing import LoopThread

VERSIONS = list(pc.VERSIONS)
UNTYPED = web.ResponseKey("untyped", bool)  # the case has no Content-Type: aiohttp's default is taken off
SENDABLE = {v: [(name, case) for name, case in pc.cases(v, "response") if pc.unsendable(case, "response") is None]
            for v in VERSIONS}


def verify_pact(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*STUNTMAN, "verify-pact", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


class Serving:
    """An aiohttp application on a free loopback port, on a loop of its own."""

    def __init__(self, app: web.Application):
        self.thread = LoopThread()
        self.runner = web.AppRunner(app, access_log=None)
        self.thread.call(self.runner.setup())
        self.port = free_port()
        self.thread.call(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.thread.call(self.runner.cleanup())
        self.thread.stop()


# -- (a) the specification's response cases ----------------------------------------------------

def _case_app(version: str) -> web.Application:
    """GET /case/N → case N's actual response, as its bytes."""
    cases = SENDABLE[version]

    async def answer(request: web.Request) -> web.Response:
        actual = cases[int(request.match_info["n"])][1]["actual"]
        body, declared = pc.body_bytes(actual, version)
        headers = CIMultiDict(pc.headers_of(actual))
        if declared and "Content-Type" not in headers:
            headers["Content-Type"] = declared
        response = web.Response(status=actual.get("status", 200), headers=headers, body=body or b"")
        response[UNTYPED] = "Content-Type" not in headers
        return response

    async def untyped(request: web.Request, response: web.StreamResponse) -> None:
        if response.get(UNTYPED):  # (after aiohttp's defaults, before the head is written)
            response.headers.popall("Content-Type", None)

    app = web.Application()
    app.router.add_get("/case/{n:[0-9]+}", answer)
    app.on_response_prepare.append(untyped)
    return app


def _cases_pact(version: str) -> dict:
    """One pact of every sendable case: interaction N is GET /case/N → case N's expected response."""
    interactions = []
    for i, (name, case) in enumerate(SENDABLE[version]):
        [entry] = pc.pact_for(case, version, "response")["interactions"]
        entry["description"] = f"{i}: {name}"
        entry["request"] = {"method": "GET", "path": f"/case/{i}"}
        interactions.append(entry)
    return {"consumer": {"name": "spec"}, "provider": {"name": "spec"}, "interactions": interactions,
            "metadata": {"pactSpecification": {"version": pc.VERSIONS[version]}}}


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    """version → {pointer: interaction report} from one `verify-pact --json` run (made on first use)."""
    found: dict[str, dict[str, dict]] = {}

    def of(version: str) -> dict[str, dict]:
        if version not in found:
            server = Serving(_case_app(version))
            try:
                pact = tmp_path_factory.mktemp(f"verify-{version}") / "cases.json"
                pact.write_text(json.dumps(_cases_pact(version)))
                done = verify_pact(str(pact), "--against", server.url, "--json")
            finally:
                server.stop()
            assert done.returncode in (0, 1), done.stderr
            [report] = json.loads(done.stdout)["pacts"]
            found[version] = {r["pointer"]: r for r in report["interactions"]}
        return found[version]

    return of


@pytest.mark.parametrize("version, index, name", [(v, i, name) for v in VERSIONS
                                                 for i, (name, _) in enumerate(SENDABLE[v])])
def test_a_response_case_is_verified_over_the_wire_as_the_specification_says(verdicts, version, index, name):
    case = SENDABLE[version][index][1]
    result = verdicts(version)[f"/interactions/{index}"]
    assert result["error"] is None and result["status"] == case["actual"].get("status", 200), result
    assert result["passed"] == case["match"], \
        f"{version}/{name} ({case.get('comment', '')}): expected {'a match' if case['match'] else 'a mismatch'}, " \
        f"got {result['mismatches']}"


def test_every_response_case_but_two_folded_headers_goes_on_the_wire():
    assert sum(len(SENDABLE[v]) for v in VERSIONS) == 355
    assert sorted(f"{v}/{name}" for v in VERSIONS for name, case in pc.cases(v, "response")
                  if pc.unsendable(case, "response")) == \
        [f"{v}/headers/matches content type with parameters in different order" for v in ("v3", "v4")]


# -- (b) a real provider -----------------------------------------------------------------------

USER_RULES = {"body": {"$.id": {"matchers": [{"match": "integer"}]}, "$.name": {"matchers": [{"match": "type"}]}}}
CONTRACT: dict[str, Any] = {
    "consumer": {"name": "web"}, "provider": {"name": "users"},
    "interactions": [
        {"description": "get user 1", "providerStates": [{"name": "user 1 exists", "params": {"id": 1}}],
         "request": {"method": "GET", "path": "/users/1"},
         "response": {"status": 200, "headers": {"Content-Type": "application/json"},
                      "body": {"id": 1, "name": "Ann"}, "matchingRules": USER_RULES}},
        {"description": "list active users",
         "request": {"method": "GET", "path": "/users", "query": {"active": ["true"]},
                     "headers": {"Accept": "application/json"}},
         "response": {"status": 200, "headers": {"Content-Type": "application/json", "X-Total-Count": "1"},
                      "body": {"items": [{"id": 7, "name": "Cy"}]},
                      "matchingRules": {
                          "header": {"X-Total-Count": {"matchers": [{"match": "regex", "regex": "^[0-9]+$"}]}},
                          "body": {"$.items": {"matchers": [{"match": "type", "min": 1}]},
                                   "$.items[*].id": {"matchers": [{"match": "integer"}]},
                                   "$.items[*].name": {"matchers": [{"match": "type"}]}}}}},
        {"description": "create a user",
         "request": {"method": "POST", "path": "/users", "headers": {"Content-Type": "application/json"},
                     "body": {"name": "Bob"}},
         "response": {"status": 201, "headers": {"Location": "/users/2"}, "body": {"id": 2, "name": "Bob"},
                      "matchingRules": {
                          "header": {"Location": {"matchers": [{"match": "regex", "regex": "^/users/[0-9]+$"}]}},
                          **USER_RULES}}},
    ],
    "metadata": {"pactSpecification": {"version": "3.0.0"}},
}


class Provider:
    """The users service: user 1 exists only while its provider state is set up; each request is
    checked to be the pact's (a 400 otherwise); `broken` breaks the contract three ways."""

    def __init__(self, broken: bool = False):
        self.broken = broken
        self.state_calls: list[dict] = []
        self.users: dict[int, str] = {}
        app = web.Application()
        app.router.add_post("/_pact/provider-states", self.state)
        app.router.add_get("/users/{id}", self.get_user)
        app.router.add_get("/users", self.list_users)
        app.router.add_post("/users", self.create_user)
        self.server = Serving(app)
        self.url = self.server.url

    async def state(self, request: web.Request) -> web.Response:
        call = await request.json()
        self.state_calls.append(call)
        if call["state"] == "user 1 exists":
            if call["action"] == "setup":
                self.users[call["params"]["id"]] = "Ann"
            else:
                self.users.pop(call["params"]["id"], None)
        return web.json_response({})

    async def get_user(self, request: web.Request) -> web.Response:
        user = int(request.match_info["id"])
        if user not in self.users:
            return web.json_response({"error": "no such user"}, status=404)
        return web.json_response({"id": user, "name": self.users[user]})

    async def list_users(self, request: web.Request) -> web.Response:
        if request.query_string != "active=true" or request.headers.get("Accept") != "application/json":
            return web.json_response({"error": "not the pact's request"}, status=400)
        items = [{"id": "x" if self.broken else 7, "name": "Cy"}, {"id": 8, "name": "Di"}]
        headers = {} if self.broken else {"X-Total-Count": "2"}
        return web.json_response({"items": items, "next": None}, headers=headers)

    async def create_user(self, request: web.Request) -> web.Response:
        if await request.read() != b'{"name": "Bob"}' or request.content_type != "application/json":
            return web.json_response({"error": "not the pact's request"}, status=400)
        return web.json_response({"id": 12, "name": "Bob"}, status=200 if self.broken else 201,
                                 headers={"Location": "/users/12"})

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def pact_file(tmp_path) -> Path:
    path = tmp_path / "web-users.json"
    path.write_text(json.dumps(CONTRACT))
    return path


@pytest.fixture
def provider():
    started: list[Provider] = []

    def start(broken: bool = False) -> Provider:
        started.append(Provider(broken))
        return started[-1]

    yield start
    for p in started:
        p.stop()


def test_a_provider_keeping_the_pact_passes_with_its_states_set_up_and_torn_down(provider, pact_file):
    users = provider()
    done = verify_pact(str(pact_file), "--against", users.url,
                       "--provider-state-url", f"{users.url}/_pact/provider-states")
    assert done.returncode == 0, done.stdout + done.stderr
    assert users.state_calls == [{"state": "user 1 exists", "params": {"id": 1}, "action": "setup"},
                                 {"state": "user 1 exists", "params": {"id": 1}, "action": "teardown"}]
    assert done.stdout.splitlines()[1:] == [
        "  ✓ get user 1 (given 'user 1 exists'): GET /users/1 → 200",
        "  ✓ list active users: GET /users → 200",
        "  ✓ create a user: POST /users → 201",
        "3 interactions: 3 passed, 0 failed"]


def test_without_its_state_the_interaction_that_needs_one_fails(provider, pact_file):
    done = verify_pact(str(pact_file), "--against", provider().url, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["summary"] == {"interactions": 3, "passed": 2, "failed": 1, "skipped": 0, "pending": 0}
    [failed] = [r for r in report["pacts"][0]["interactions"] if not r["passed"]]
    assert failed["source"] == f"{pact_file}#/interactions/0" and failed["status"] == 404
    assert failed["mismatches"][0] == "status: expected 200, got 404"
    assert failed["notes"] == ["no provider state URL: the provider states were not set up"]


def test_a_provider_breaking_the_pact_fails_naming_each_mismatch(provider, pact_file):
    users = provider(broken=True)
    done = verify_pact(str(pact_file), "--against", users.url,
                       "--provider-state-url", f"{users.url}/_pact/provider-states")
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "  ✓ get user 1 (given 'user 1 exists'): GET /users/1 → 200",
        "  ✗ list active users: GET /users → 200",
        "      header.x-total-count: expected '1', but it is missing",
        "      body $.items[0].id: expected an integer, got 'x'",
        "  ✗ create a user: POST /users → 200",
        "      status: expected 201, got 200",
        "3 interactions: 1 passed, 2 failed"]


def test_connection_refused_is_named(pact_file):
    port = free_port()
    done = verify_pact(str(pact_file), "--against", f"http://127.0.0.1:{port}", "--json")
    assert done.returncode == 1
    errors = {r["error"] for r in json.loads(done.stdout)["pacts"][0]["interactions"]}
    assert errors == {f"cannot connect to 127.0.0.1:{port}: Connection refused"}


def test_a_failing_state_setup_fails_its_interaction_without_sending_it(provider, pact_file):
    users = provider()
    done = verify_pact(str(pact_file), "--against", users.url, "--provider-state-url", f"{users.url}/nowhere")
    assert done.returncode == 1
    assert done.stdout.splitlines()[1:3] == [
        "  ✗ get user 1 (given 'user 1 exists'): GET /users/1",
        f"      error: provider state 'user 1 exists' setup: POST {users.url}/nowhere answered 404: 404: Not Found"]


def test_usage_and_load_errors_exit_2(tmp_path, pact_file):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"interactions": [{"description": "x", "request": {"method": "GET"},
                                                 "response": {"status": 99}}]}))
    done = verify_pact(str(bad), "--against", "http://127.0.0.1:1")
    assert done.returncode == 2
    assert done.stderr.strip() == f"stuntman: error: {bad}#/interactions/0/response/status: " \
                                  "the status is a number from 100 to 599, not 99"
    done = verify_pact(str(pact_file), "--against", "localhost:8080")
    assert (done.returncode, done.stderr.strip()) == (2, "stuntman: error: --against 'localhost:8080': expected an "
                                                         "http:// or https:// URL with a host")


def test_the_request_goes_out_as_the_pact_writes_it_and_a_pending_failure_fails_nothing(tmp_path):
    """The path as written (not normalized), the query, the headers (repeats joined), the body
    bytes; nothing of aiohttp's own (Accept, Accept-Encoding, User-Agent); --header replaces the
    pact's header of that name; the base URL's path prefixes the pact's."""
    seen: list[dict] = []

    async def record(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "target": request.raw_path, "body": await request.read(),
                     "headers": [(k.decode().lower(), v.decode()) for k, v in request.raw_headers]})
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    server = Serving(app)
    http = {"type": "Synchronous/HTTP", "response": {"status": 204}}
    pact = {"consumer": {"name": "c"}, "provider": {"name": "p"}, "metadata": {"pactSpecification": {"version": "4.0"}},
            "interactions": [
                {**http, "description": "odd path", "request": {"method": "GET", "path": "/a//th%69ng/../x y"}},
                {**http, "description": "query and headers", "request": {
                    "method": "DELETE", "path": "/q", "query": {"b": ["1", "2"], "a": ["x&y"]},
                    "headers": {"X-Multi": ["one", "two"], "Authorization": "pact's"}}},
                {**http, "description": "a body", "request": {
                    "method": "PUT", "path": "/b", "body": {"content": "AAEC", "encoded": "base64",
                                                           "contentType": "application/octet-stream"}}},
                {"type": "Synchronous/HTTP", "description": "pending", "pending": True,
                 "request": {"path": "/p"}, "response": {"status": 200}}]}
    (tmp_path / "p.json").write_text(json.dumps(pact))
    try:
        done = verify_pact(str(tmp_path / "p.json"), "--against", f"{server.url}/base/", "--header",
                           "Authorization: Bearer t0k", "--json")
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["summary"] == {"interactions": 4, "passed": 3, "failed": 1, "skipped": 0,
                                                  "pending": 1}
    framing, auth = {"host", "content-length", "connection"}, ("authorization", "Bearer t0k")
    assert [(s["method"], s["target"], [h for h in s["headers"] if h[0] not in framing], s["body"]) for s in seen] == [
        ("GET", "/base/a//th%69ng/../x%20y", [auth], b""),
        ("DELETE", "/base/q?b=1&b=2&a=x%26y", [("x-multi", "one, two"), auth], b""),
        ("PUT", "/base/b", [("content-type", "application/octet-stream"), auth], b"\x00\x01\x02"),
        ("GET", "/base/p", [auth], b"")]


# -- (c) stuntman serving the pact ------------------------------------------------------------

def test_stuntman_serving_a_pact_satisfies_it_and_messages_are_skipped(cli_server, tmp_path):
    v4 = {"consumer": {"name": "web"}, "provider": {"name": "users"},
          "interactions": [{"type": "Synchronous/HTTP", **entry} for entry in CONTRACT["interactions"]]
          + [{"type": "Asynchronous/Messages", "description": "user created", "contents": {"content": {"id": 1}}}],
          "metadata": {"pactSpecification": {"version": "4.0"}}}
    v4["interactions"][2]["response"]["generators"] = {"body": {"$.id": {"type": "RandomInt", "min": 100,
                                                                         "max": 999}}}
    (tmp_path / "stubs").mkdir()
    for name, pact in (("v3.json", CONTRACT), ("v4.json", v4)):
        (tmp_path / "pacts").mkdir(exist_ok=True)
        (tmp_path / "pacts" / name).write_text(json.dumps(pact))
        _, port = cli_server("--stubs", str(tmp_path / "stubs"), "--pact", str(tmp_path / "pacts" / name))
        done = verify_pact(str(tmp_path / "pacts" / name), "--against", f"http://127.0.0.1:{port}", "--json")
        assert done.returncode == 0, done.stdout
        assert json.loads(done.stdout)["summary"] == {"interactions": 3 + (name == "v4.json"), "passed": 3,
                                                      "failed": 0, "skipped": int(name == "v4.json"), "pending": 0}


def test_a_recorded_upstream_replayed_by_stuntman_still_satisfies_its_consumers(provider, pact_file, stuntman,
                                                                                 tmp_path):
    """verify-pact through stuntman: recording the real provider (its state set up by hand), then
    replaying the recording (no upstream: only what was recorded answers), says whether what was
    recorded keeps the pact."""
    users = provider()
    users.users[1] = "Ann"  # (the state the recorded exchange needs)
    recorder = stuntman({}, upstream=users.url, recordings=tmp_path / "rec", record_to="users")
    done = verify_pact(str(pact_file), "--against", recorder.url)
    assert done.returncode == 0, done.stdout + done.stderr
    replaying = stuntman({}, recordings=tmp_path / "rec", replay=("users",))
    done = verify_pact(str(pact_file), "--against", replaying.url)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = provider(broken=True)  # the provider changes; what it answers now breaks the pact
    broken.users[1] = "Ann"
    recorder = stuntman({}, upstream=broken.url, recordings=tmp_path / "rec2", record_to="users")
    verify_pact(str(pact_file), "--against", recorder.url)
    replaying = stuntman({}, recordings=tmp_path / "rec2", replay=("users",))
    done = verify_pact(str(pact_file), "--against", replaying.url)
    assert done.returncode == 1 and "body $.items[0].id: expected an integer, got 'x'" in done.stdout
