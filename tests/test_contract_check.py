"""`stuntman contract check RECORDING --openapi SPEC`, end to end as a user runs it: traffic recorded
through stuntman in front of a real aiohttp upstream, then the command run as a subprocess; its
findings, pointers and exit status asserted exactly."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from aiohttp import web

from conftest import ROOT, STUNTMAN, call, serving

SPECS = ROOT / "tests" / "openapi" / "check"
JSON = {"Content-Type": "application/json"}


# -- the upstream: a pet service that keeps its contract, except where it does not ---------------

async def _list(request: web.Request) -> web.Response:
    return web.json_response([{"id": 1, "name": "Rex"}], headers={"X-Total": "1"})


async def _show(request: web.Request) -> web.Response:
    pet_id = int(request.match_info["id"])
    if pet_id == 7:  # breaks the contract: a name that is a number, and no id
        return web.json_response({"name": 42})
    return web.json_response({"id": pet_id, "name": "Rex"})


async def _create(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"id": 3, **body}, status=201)


async def _login(request: web.Request) -> web.Response:
    return web.json_response({"token": "tok_0123456789abcdef"})


async def _other(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


ROUTES = (("GET", "/v1/pets", _list), ("HEAD", "/v1/pets", _list), ("GET", "/v1/pets/mine", _list),
          ("GET", "/v1/pets/{id}", _show), ("GET", "/pets/{id}", _show), ("GET", "/orgs/{org}/pets/{id}", _show),
          ("POST", "/v1/pets", _create), ("POST", "/login", _login), ("*", "/{tail:.*}", _other))


def record(stuntman, tmp_path: Path, requests: list[tuple], name: str = "pets") -> Path:
    """The requests, sent through stuntman recording into tmp_path/name (in the order given)."""
    with serving(*ROUTES) as url:
        proxy = stuntman({}, upstream=url, recordings=tmp_path, record_to=name)
        for method, path, *rest in requests:
            body = json.dumps(rest[0]).encode() if rest else None
            call(proxy.port, method, path, body=body, headers=JSON if rest else {})
    return tmp_path / name


def check(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess:
    """`stuntman contract check ...` run in cwd (so the report names files as the user gave them)."""
    return subprocess.run([*STUNTMAN, "contract", "check", *map(str, args)], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def spec(tmp_path: Path, name: str = "pets.yaml") -> str:
    shutil.copy(SPECS / name, tmp_path / name)
    return name


def findings(result: subprocess.CompletedProcess) -> list[tuple]:
    """(seq, method, url, status, operation, undocumented, [violations]) of each exchange in a JSON report."""
    report = json.loads(result.stdout)
    return [(x["seq"], x["method"], x["url"], x["status"], x["operation"], x["undocumented"],
             [(v["direction"], v["location"], v["pointer"], v["message"], v["schema"]) for v in x["violations"]])
            for x in report["exchanges"]]


# -- a recording with one good and two contract-breaking exchanges -------------------------------

BREAKING = [("GET", "/v1/pets?limit=5"), ("GET", "/v1/pets/7"), ("POST", "/v1/pets", {"name": ""})]


def test_violations_of_a_recording_made_through_stuntman_as_text(stuntman, tmp_path):
    record(stuntman, tmp_path, BREAKING)
    result = check(tmp_path, "pets", "--openapi", spec(tmp_path))
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    assert result.stdout == (
        "contract check: pets against pets.yaml\n"
        "\n"
        "#2 GET /v1/pets/7 -> 200  [GET /pets/{petId}]\n"
        "  pets/exchanges/000002-GET-v1-pets-7.json\n"
        "  response body: missing required property \"id\"\n"
        "           schema: pets.yaml#/components/schemas/Pet/required\n"
        "  response body/name: must be string, got integer 42\n"
        "           schema: pets.yaml#/components/schemas/Pet/properties/name/type\n"
        "\n"
        "#3 POST /v1/pets -> 201  [POST /pets]\n"
        "  pets/exchanges/000003-POST-v1-pets.json\n"
        "  request  body/name: must be at least 1 characters long, got 0\n"
        "           schema: pets.yaml#/components/schemas/NewPet/properties/name/minLength\n"
        "\n"
        "3 exchanges, 3 checked, 3 violations, 0 undocumented\n")


def test_violations_as_json(stuntman, tmp_path):
    record(stuntman, tmp_path, BREAKING)
    result = check(tmp_path, "pets", "--openapi", spec(tmp_path), "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["summary"] == {"exchanges": 3, "checked": 3, "violations": 3, "undocumented": 0,
                                 "redactedViolations": 0, "operations": 5}
    assert findings(result) == [
        (1, "GET", "/v1/pets?limit=5", 200, "GET /pets", None, []),
        (2, "GET", "/v1/pets/7", 200, "GET /pets/{petId}", None, [
            ("response", "body", "", 'missing required property "id"', "pets.yaml#/components/schemas/Pet/required"),
            ("response", "body", "/name", "must be string, got integer 42",
             "pets.yaml#/components/schemas/Pet/properties/name/type")]),
        (3, "POST", "/v1/pets", 201, "POST /pets", None, [
            ("request", "body", "/name", 'must be at least 1 characters long, got 0',
             "pets.yaml#/components/schemas/NewPet/properties/name/minLength")]),
    ]
    assert report["exchanges"][1]["where"] == "pets/exchanges/000002-GET-v1-pets-7.json"
    assert report["exchanges"][1]["source"] == "pets.yaml#/paths/~1pets~1{petId}/get"


def test_a_clean_recording_keeps_the_contract(stuntman, tmp_path):
    # under the server's base path (/v1) and at the root (/pets/3); a literal path (/pets/mine)
    # before the template that also matches it (/pets/{petId}: "mine" is no integer); HEAD is
    # checked as GET, without the body its response cannot have
    record(stuntman, tmp_path, [("GET", "/v1/pets?limit=100"), ("GET", "/pets/3"), ("GET", "/v1/pets/mine"),
                                ("HEAD", "/v1/pets")])
    result = check(tmp_path, "pets", "--openapi", spec(tmp_path), "--format", "json")
    assert (result.returncode, result.stderr) == (0, "")
    assert [(x[1], x[4], x[6]) for x in findings(result)] == [
        ("GET", "GET /pets", []), ("GET", "GET /pets/{petId}", []), ("GET", "GET /pets/mine", []),
        ("HEAD", "GET /pets", [])]
    text = check(tmp_path, "pets", "--openapi", "pets.yaml")
    assert (text.returncode, text.stdout) == (0, "contract check: pets against pets.yaml\n\n"
                                                 "4 exchanges, 4 checked, 0 violations, 0 undocumented\n")


def test_a_query_parameter_and_a_missing_response_header(stuntman, tmp_path):
    async def no_total(request):  # the contract requires X-Total
        return web.json_response([])
    with serving(("GET", "/v1/pets", no_total)) as url:
        proxy = stuntman({}, upstream=url, recordings=tmp_path, record_to="pets")
        call(proxy.port, "GET", "/v1/pets?limit=500")
    result = check(tmp_path, "pets", "--openapi", spec(tmp_path), "--format", "json")
    assert result.returncode == 1, result.stderr
    assert findings(result)[0][-1] == [
        ("request", "query.limit", "", "must be <= 100, got 500",
         "pets.yaml#/paths/~1pets/get/parameters/0/schema/maximum"),
        ("response", "header.X-Total", "", "required header parameter is missing",
         "pets.yaml#/paths/~1pets/get/responses/200/headers/X-Total/required"),
    ]


# -- exchanges that are not in the contract ------------------------------------------------------

def test_undocumented_paths_and_methods_fail_the_check(stuntman, tmp_path):
    record(stuntman, tmp_path, [("GET", "/v1/pets?limit=1"), ("GET", "/v1/admin/stats"), ("DELETE", "/v1/pets/7")])
    result = check(tmp_path, "pets", "--openapi", spec(tmp_path))
    assert result.returncode == 1, result.stderr
    assert result.stdout == (
        "contract check: pets against pets.yaml\n"
        "\n"
        "#2 GET /v1/admin/stats -> 200  [not in the contract]\n"
        "  pets/exchanges/000002-GET-v1-admin-stats.json\n"
        "  no operation's path matches /v1/admin/stats (under '/v1' or the root)\n"
        "\n"
        "#3 DELETE /v1/pets/7 -> 200  [not in the contract]\n"
        "  pets/exchanges/000003-DELETE-v1-pets-7.json\n"
        "  the contract has no DELETE /v1/pets/7 (documented methods: GET)\n"
        "\n"
        "3 exchanges, 1 checked, 0 violations, 2 undocumented\n")
    allowed = check(tmp_path, "pets", "--openapi", "pets.yaml", "--allow-undocumented", "--format", "json")
    assert allowed.returncode == 0, allowed.stdout
    assert json.loads(allowed.stdout)["ok"] is True
    assert [x[5] for x in findings(allowed)] == [
        None, "no operation's path matches /v1/admin/stats (under '/v1' or the root)",
        "the contract has no DELETE /v1/pets/7 (documented methods: GET)"]


# -- base paths with path parameters ---------------------------------------------------------------

def test_a_server_variable_in_the_base_path_matches_every_tenant(stuntman, tmp_path):
    async def order(request):
        total = -1 if request.match_info["t"] == "b" else 9.5
        return web.json_response({"id": request.match_info["id"], "total": total})
    with serving(("GET", "/tenants/{t}/v2/orders/{id}", order)) as url:
        proxy = stuntman({}, upstream=url, recordings=tmp_path, record_to="orders")
        for path in ("/tenants/acme/v2/orders/ord_1", "/tenants/b/v2/orders/ord_2", "/tenants/c/v2/orders/x9"):
            call(proxy.port, "GET", path)
    result = check(tmp_path, "orders", "--openapi", spec(tmp_path, "tenants.yaml"), "--format", "json")
    assert result.returncode == 1, result.stderr
    assert findings(result) == [
        (1, "GET", "/tenants/acme/v2/orders/ord_1", 200, "GET /orders/{orderId}", None, []),
        (2, "GET", "/tenants/b/v2/orders/ord_2", 200, "GET /orders/{orderId}", None, [
            ("response", "body", "/total", "must be >= 0, got -1",
             "tenants.yaml#/paths/~1orders~1{orderId}/get/responses/200/content/application~1json/schema/properties"
             "/total/minimum")]),
        (3, "GET", "/tenants/c/v2/orders/x9", 200, "GET /orders/{orderId}", None, [
            ("request", "path.orderId", "", 'must match the pattern ^ord_[0-9]+$, got "x9"',
             "tenants.yaml#/paths/~1orders~1{orderId}/get/parameters/0/schema/pattern")]),
    ]


def test_a_base_path_given_with_a_parameter(stuntman, tmp_path):
    record(stuntman, tmp_path, [("GET", "/orgs/o1/pets/4"), ("GET", "/orgs/o2/pets/0"), ("GET", "/v1/pets/4")])
    result = check(tmp_path, "pets", "--openapi", spec(tmp_path), "--base-path", "/orgs/{org}", "--format", "json")
    assert result.returncode == 1, result.stderr
    assert findings(result) == [
        (1, "GET", "/orgs/o1/pets/4", 200, "GET /pets/{petId}", None, []),
        (2, "GET", "/orgs/o2/pets/0", 200, "GET /pets/{petId}", None, [
            ("request", "path.petId", "", "must be >= 1, got 0",
             "pets.yaml#/paths/~1pets~1{petId}/parameters/0/schema/minimum")]),
        # --base-path replaces the spec's servers: /v1 is no base path any more
        (3, "GET", "/v1/pets/4", 200, None,
         "no operation's path matches /v1/pets/4 (under '/orgs/{org}' or the root)", []),
    ]


# -- redaction, other inputs, errors ---------------------------------------------------------------

def test_violations_on_redacted_values_are_not_counted(stuntman, tmp_path):
    # the password and the token are valid as sent; the recording holds [REDACTED] for both, which
    # is too short for the password and does not match the token's pattern
    record(stuntman, tmp_path, [("POST", "/login", {"user": "ada", "password": "correct-horse-battery"})])
    result = check(tmp_path, "pets", "--openapi", spec(tmp_path))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.endswith(
        "1 exchange, 1 checked, 0 violations, 0 undocumented (2 on redacted values not counted)\n")
    [exchange] = (tmp_path / "pets" / "exchanges").iterdir()
    recorded = json.loads(exchange.read_text())
    assert recorded["request"]["body"]["json"]["password"] == "[REDACTED]"  # what the check saw
    assert recorded["response"]["body"]["json"]["token"] == "[REDACTED]"


def test_a_har_export_and_a_single_exchange_file(stuntman, tmp_path):
    directory = record(stuntman, tmp_path, BREAKING)
    exported = subprocess.run([*STUNTMAN, "export", "har", str(directory), "--out", str(tmp_path / "pets.har")],
                              capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    result = check(tmp_path, "pets.har", "--openapi", spec(tmp_path), "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [x["where"] for x in report["exchanges"]] == ["pets.har entries[0]", "pets.har entries[1]",
                                                         "pets.har entries[2]"]
    assert [[v["pointer"] for v in x["violations"]] for x in report["exchanges"]] == [[], ["", "/name"], ["/name"]]
    one = check(tmp_path, "pets/exchanges/000003-POST-v1-pets.json", "--openapi", "pets.yaml", "--format", "json")
    assert one.returncode == 1, one.stderr
    assert findings(one) == [(3, "POST", "/v1/pets", 201, "POST /pets", None, [
        ("request", "body", "/name", "must be at least 1 characters long, got 0",
         "pets.yaml#/components/schemas/NewPet/properties/name/minLength")])]


def test_a_directory_of_recordings_and_output_to_a_file(stuntman, tmp_path):
    record(stuntman, tmp_path / "recordings", [("GET", "/v1/pets/1")], name="a")
    record(stuntman, tmp_path / "recordings", [("GET", "/v1/pets/7")], name="b")
    result = check(tmp_path, "recordings", "--openapi", spec(tmp_path), "--output", "report.txt")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "")
    text = (tmp_path / "report.txt").read_text()
    assert "  recordings/b/exchanges/000001-GET-v1-pets-7.json\n" in text
    assert "recordings/a/" not in text
    assert text.endswith("2 exchanges, 2 checked, 2 violations, 0 undocumented\n")


def test_a_broken_spec_is_a_usage_error_naming_the_file_and_pointer(stuntman, tmp_path):
    record(stuntman, tmp_path, [("GET", "/v1/pets/1")])
    shutil.copytree(SPECS / "broken", tmp_path / "broken")
    result = check(tmp_path, "pets", "--openapi", "broken/spec.yaml")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("stuntman: error: broken/spec.yaml#/paths/~1pets/get/responses/200/content/"
                             "application~1json/schema: $ref points at nothing: #/components/schemas/Missing\n")
    missing = check(tmp_path, "pets", "--openapi", "nope.yaml")
    assert missing.returncode == 2 and missing.stderr.startswith("stuntman: error: nope.yaml: cannot read"), \
        missing.stderr


def test_a_missing_recording_is_a_usage_error(tmp_path):
    result = check(tmp_path, "no-such-recording", "--openapi", SPECS / "pets.yaml")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("stuntman: error: no recording at 'no-such-recording' "
                             "(nor 'recordings/no-such-recording')\n")
    (tmp_path / "empty").mkdir()
    result = check(tmp_path, "empty", "--openapi", SPECS / "pets.yaml")
    assert result.returncode == 2
    assert result.stderr == "stuntman: error: no recording at 'empty': no index.jsonl in it or below it\n"
    result = check(tmp_path, "empty", "--openapi", SPECS / "pets.yaml", "--base-path", "v1")
    assert result.returncode == 2
    assert result.stderr == "stuntman: error: --base-path 'v1': expected a path starting with '/'\n"


def test_an_exchange_stuntman_injected_a_fault_into_says_so(stuntman, tmp_path):
    # the breaking exchange went through a latency fault: the report names it next to the findings
    with serving(*ROUTES) as url:
        proxy = stuntman({"f.yaml": "faults:\n  - {name: slow-pets, type: latency, fixed_ms: 1, "
                                    "request: {path: /v1/pets/7}}\n"},
                         upstream=url, recordings=tmp_path, record_to="pets")
        call(proxy.port, "GET", "/v1/pets/7")
    result = check(tmp_path, "pets", "--openapi", spec(tmp_path))
    assert result.returncode == 1, result.stderr
    assert "  (stuntman injected faults into this exchange: slow-pets)\n" in result.stdout
    assert json.loads(check(tmp_path, "pets", "--openapi", "pets.yaml", "--format", "json").stdout
                      )["exchanges"][0]["faults"] == ["slow-pets"]
