"""The admin API's stubs at runtime (mappings), scenarios and shutdown, over real sockets."""
from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import STUNTMAN, call, free_port, wait_port

FILES = {"files.yaml": """
    - name: from-file
      request: {method: GET, path: /file}
      response: {body: file-v1}
    - name: order-pending
      scenario: order
      requiredState: Started
      request: {path: /order}
      response: {body: pending}
    - name: pay
      scenario: order
      newState: paid
      request: {method: POST, path: /order/pay}
      response: {status: 202}
    - name: order-paid
      scenario: order
      requiredState: paid
      request: {path: /order}
      response: {body: paid}
"""}


def api(st, method: str, path: str, body=None, content_type: str = "application/json", token: str | None = None):
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    req = urllib.request.Request(st.admin_url + path, method=method, data=data,
                                 headers={"Content-Type": content_type} if data is not None else {})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def text(st, path: str, method: str = "GET", headers=None) -> tuple[int, bytes]:
    status, _, body = call(st.port, method, path, headers=headers)
    return status, body


def test_create_read_replace_delete_a_stub(stuntman):
    st = stuntman(FILES, admin_port=0)
    status, created = api(st, "POST", "/__admin/mappings", {
        "name": "runtime", "request": {"method": "GET", "path": "/runtime/{id}"},
        "response": {"json": {"id": "{{path.id}}"}}})
    assert status == 201 and created["name"] == "runtime" and created["source"] == "admin-api"
    stub_id = created["id"]
    assert json.loads(text(st, "/runtime/7")[1]) == {"id": "7"}

    status, listing = api(st, "GET", "/__admin/mappings")
    assert status == 200 and listing["meta"]["total"] == 5
    sources = {m["name"]: m["source"] for m in listing["mappings"]}
    assert sources["runtime"] == "admin-api" and sources["from-file"] == "files.yaml:2"
    assert api(st, "GET", f"/__admin/mappings/{stub_id}") == (200, created)

    status, replaced = api(st, "PUT", f"/__admin/mappings/{stub_id}", {
        "request": {"path": "/runtime/{id}"}, "response": {"body": "replaced"}})
    assert status == 200 and replaced["id"] == stub_id
    assert text(st, "/runtime/7") == (200, b"replaced")

    assert api(st, "DELETE", f"/__admin/mappings/{stub_id}") == (200, {"deleted": stub_id})
    assert text(st, "/runtime/7")[0] == 404
    assert api(st, "DELETE", f"/__admin/mappings/{stub_id}")[0] == 404
    assert api(st, "GET", f"/__admin/mappings/{stub_id}")[0] == 404


def test_yaml_bodies_are_accepted(stuntman):
    st = stuntman({}, admin_port=0)
    status, created = api(st, "POST", "/__admin/mappings",
                          "request: {path: /y}\nresponse: {body: from-yaml}\n", "application/yaml")
    assert status == 201
    assert text(st, "/y") == (200, b"from-yaml")


def yaml_bomb(levels: int, indent: str = "") -> str:
    """Billion laughs: x0 is nine "lol"s, each next key nine aliases to the one before it, so
    `levels` lines of YAML expand to 9**levels strings (9 levels: about 500 bytes, 387 million)."""
    lines = [f'{indent}x0: &x0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"{indent}x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


BOMB_LIMIT = "YAML aliases expand past 10000 nodes (a YAML bomb?)"


@pytest.mark.parametrize("levels", [9, 7])
def test_a_yaml_bomb_body_is_refused_at_once_and_creates_nothing(stuntman, levels):
    """Aliases are bounded while the body is parsed: 400 in the stubs' error format, naming the
    limit and where, long before the expansion would freeze the loop or be echoed back."""
    st = stuntman(FILES, admin_port=0)
    bomb = "request: {path: /bomb}\nresponse:\n  json:\n" + yaml_bomb(levels, "    ")
    started = time.monotonic()
    status, answer = api(st, "POST", "/__admin/mappings", bomb, "application/yaml")
    assert time.monotonic() - started < 2
    assert status == 400 and answer["error"] == "invalid stub"
    assert answer["errors"] == [{"field": "", "message": f"admin request body:8: {BOMB_LIMIT}"}]
    assert api(st, "GET", "/__admin/mappings")[1]["meta"]["total"] == 4
    assert text(st, "/file") == (200, b"file-v1")


def test_yaml_bodies_with_a_few_anchors_and_large_bodies_still_work(stuntman):
    st = stuntman({}, admin_port=0)
    status, created = api(st, "POST", "/__admin/mappings", """
request: {path: /anchored}
response:
  headers: &h {X-Team: checkout}
  json: {user: &u {id: 1, roles: [a, b]}, again: *u, headers: *h}
""", "application/yaml")
    assert status == 201 and created["response"]["headers"] == {"X-Team": "checkout"}
    assert json.loads(text(st, "/anchored")[1]) == {
        "user": {"id": 1, "roles": ["a", "b"]}, "again": {"id": 1, "roles": ["a", "b"]},
        "headers": {"X-Team": "checkout"}}
    big = "x" * 100_000  # parsed on a worker thread (above the inline size), as JSON and as YAML
    for path, body, content_type in [("/big-yaml", f"request: {{path: /big-yaml}}\nresponse: {{body: {big}}}\n",
                                      "application/yaml"),
                                     ("/big-json", {"request": {"path": "/big-json"}, "response": {"body": big}},
                                      "application/json")]:
        assert api(st, "POST", "/__admin/mappings", body, content_type)[0] == 201
        assert text(st, path) == (200, big.encode())


def test_a_yaml_bomb_in_a_stub_file_fails_the_reload_and_the_previous_stubs_keep_serving(stuntman):
    st = stuntman({"g.yaml": "- {name: greeting, request: {path: /greeting}, response: {body: v1}}\n"},
                  admin_port=0)
    (st.stubs / "bomb.yaml").write_text("request: {path: /bomb}\nresponse:\n  json:\n" + yaml_bomb(9, "    "))
    started = time.monotonic()
    status, answer = api(st, "POST", "/__admin/mappings/reload")
    assert time.monotonic() - started < 2
    assert status == 422 and answer["reloaded"] is False and answer["stubs"] == 1
    assert answer["configErrors"] == [{"file": "bomb.yaml", "line": 8, "field": "", "message": BOMB_LIMIT}]
    assert text(st, "/greeting") == (200, b"v1")
    assert text(st, "/bomb")[0] == 404


def test_invalid_stubs_get_400_with_field_paths_and_change_nothing(stuntman):
    st = stuntman(FILES, admin_port=0)
    status, answer = api(st, "POST", "/__admin/mappings", {
        "request": {"methd": "GET", "headers": {"X-A": {"equals": "a", "contains": "b"}}},
        "response": {"status": "abc"}})
    assert status == 400
    fields = {e["field"]: e["message"] for e in answer["errors"]}
    assert fields["request.methd"] == "unknown field"
    assert "exactly one of" in fields["request.headers.X-A"]
    assert "valid integer" in fields["response.status"]
    status, answer = api(st, "POST", "/__admin/mappings", "{not json")
    assert status == 400 and "not valid JSON" in answer["error"]
    status, answer = api(st, "POST", "/__admin/mappings", {
        "request": {"path": "/f"}, "response": {"bodyFile": "../../etc/passwd"}})
    assert status == 400 and answer["errors"][0]["field"] == "response.bodyFile"
    assert "escapes the stubs directory" in answer["errors"][0]["message"]
    assert api(st, "GET", "/__admin/mappings")[1]["meta"]["total"] == 4


def test_an_existing_id_is_not_created_twice(stuntman):
    st = stuntman({}, admin_port=0)
    stub = {"id": "fixed", "request": {"path": "/a"}, "response": {"body": "a"}}
    assert api(st, "POST", "/__admin/mappings", stub)[0] == 201
    status, answer = api(st, "POST", "/__admin/mappings", stub)
    assert status == 400 and answer["errors"][0]["field"] == "id"


def test_file_stubs_can_be_changed_at_runtime_and_reset_restores_the_files(stuntman):
    st = stuntman(FILES, admin_port=0)
    file_id = next(m["id"] for m in api(st, "GET", "/__admin/mappings")[1]["mappings"]
                   if m["name"] == "from-file")
    api(st, "PUT", f"/__admin/mappings/{file_id}", {"request": {"path": "/file"}, "response": {"body": "api"}})
    assert text(st, "/file") == (200, b"api")
    api(st, "POST", "/__admin/mappings", {"request": {"path": "/extra"}, "response": {"body": "extra"}})
    assert api(st, "POST", "/__admin/mappings/reload")[0] == 200  # a reload keeps the API's changes
    assert text(st, "/file") == (200, b"api") and text(st, "/extra") == (200, b"extra")

    assert api(st, "DELETE", "/__admin/mappings")[1]["meta"]["total"] == 0
    assert text(st, "/file")[0] == 404

    status, answer = api(st, "POST", "/__admin/mappings/reset")
    assert status == 200 and answer["stubs"] == 4
    assert text(st, "/file") == (200, b"file-v1") and text(st, "/extra")[0] == 404


def test_scenarios_are_listed_set_and_reset_per_session(stuntman):
    st = stuntman(FILES, admin_port=0)
    status, listing = api(st, "GET", "/__admin/scenarios")
    assert listing["scenarios"] == [{"name": "order", "state": "Started", "possibleStates": ["Started", "paid"]}]
    assert api(st, "POST", "/__admin/scenarios", {"name": "order", "state": "paid", "session": "t1"})[0] == 200
    assert text(st, "/order", headers={"X-Stuntman-Session": "t1"}) == (200, b"paid")
    assert text(st, "/order") == (200, b"pending")  # the default session is untouched
    assert api(st, "GET", "/__admin/scenarios?session=t1")[1]["scenarios"][0]["state"] == "paid"
    text(st, "/order/pay", "POST")
    assert text(st, "/order") == (200, b"paid")
    assert api(st, "POST", "/__admin/scenarios/reset?session=t1")[0] == 200
    assert text(st, "/order", headers={"X-Stuntman-Session": "t1"}) == (200, b"pending")
    assert text(st, "/order") == (200, b"paid")
    api(st, "POST", "/__admin/scenarios/reset")
    assert text(st, "/order") == (200, b"pending")
    assert api(st, "POST", "/__admin/scenarios", {"name": "order"})[0] == 400


def test_stub_changes_while_traffic_flows_are_never_half_applied(stuntman):
    """50 creates and deletes against 2,000 requests: every request answered from a whole table."""
    st = stuntman(FILES, admin_port=0)
    statuses: list[tuple[int, bytes]] = []

    def traffic():
        for _ in range(2000):
            statuses.append(text(st, "/file"))

    worker = threading.Thread(target=traffic)
    worker.start()
    created = []
    for i in range(50):
        _, stub = api(st, "POST", "/__admin/mappings", {"request": {"path": f"/tmp/{i}"}, "response": {"body": "t"}})
        created.append(stub["id"])
        if i % 2:
            api(st, "DELETE", f"/__admin/mappings/{created.pop(0)}")
    worker.join(60)
    assert set(statuses) == {(200, b"file-v1")} and len(statuses) == 2000
    assert api(st, "GET", "/__admin/mappings")[1]["meta"]["total"] == 4 + 25


def test_shutdown_stops_a_running_server(tmp_path):
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    port, admin_port = free_port(), free_port()
    proc = subprocess.Popen([*STUNTMAN, "run", "--stubs", str(stubs), "--port", str(port),
                             "--admin-port", str(admin_port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_port(admin_port, proc=proc)
    req = urllib.request.Request(f"http://127.0.0.1:{admin_port}/__admin/shutdown", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read()) == {"shuttingDown": True}
    assert proc.wait(10) == 0


def test_errors_name_the_input_sent_and_its_fields_not_a_stub_it_became(stuntman, tmp_path):
    """A recording request, a request matcher (find, count, a snapshot's filter) are validated
    through a stub's model: their errors said "invalid stub" and named the stub's fields
    (proxy.record, request.method). They name what was sent, with its own field paths."""
    st = stuntman(FILES, admin_port=0, recordings=tmp_path, journal_responses=1024)
    up = "http://127.0.0.1:9"
    for body, field, words in [({"name": "rt", "upstream": "not a url"}, "upstream", "URL"),
                               ({"name": "a\x00b", "upstream": up}, "name", "control characters"),
                               ({"name": "rt", "upstream": up, "filter": {"method": "FETCH"}}, "filter.method",
                                "unknown HTTP method 'FETCH'"),
                               ({"name": "rt", "upstream": up, "filter": {"headers": {"X-A": {"regex": "("}}}},
                                "filter.headers.X-A", "invalid regex"),
                               ({"upstream": up}, "name", "name is required")]:
        status, answer = api(st, "POST", "/__admin/recordings/start", body)
        assert status == 400 and answer["error"] == "invalid recording request", (body, answer)
        assert answer["errors"][0]["field"] == field and words in answer["errors"][0]["message"], (body, answer)
    assert api(st, "GET", "/__admin/recordings/status")[1] == {"recording": False}
    for path in ("/__admin/requests/count", "/__admin/requests/find"):
        matcher = {"method": "FETCH", "headers": {"X-A": {"equals": "a", "contains": "b"}}}
        status, answer = api(st, "POST", path, matcher)
        assert status == 400 and answer["error"] == "invalid request matcher"
        assert [e["field"] for e in answer["errors"]] == ["method", "headers.X-A"]
    status, answer = api(st, "POST", "/__admin/recordings/snapshot", {"name": "snap", "filter": {"methd": "GET"}})
    assert status == 400 and answer["error"] == "invalid snapshot request"
    assert answer["errors"] == [{"field": "filter.methd", "message": "unknown field"}]
    status, answer = api(st, "POST", "/__admin/near-misses", {"method": 5})
    assert status == 400 and "stub" not in answer["error"]
    status, answer = api(st, "POST", "/__admin/mappings", {"request": {"method": "FETCH"}, "response": {}})
    assert status == 400 and answer["error"] == "invalid stub" and answer["errors"][0]["field"] == "request.method"


@pytest.mark.parametrize("body, content_type", [
    ("[" * 100_000, "application/json"),  # 100 kB: parsed off the loop, where the parser gives up
    (json.dumps({"request": {"path": "/deep"}, "response": {"json": json.loads("[" * 500 + "]" * 500)}}),
     "application/json"),  # parses, then each step after it (validation, the definition kept) would recurse
    ("[" * 100_000, "application/yaml"),
], ids=["json-100000-open", "json-500-deep-stub", "yaml-100000-open"])
def test_a_deeply_nested_body_is_a_400_on_every_admin_endpoint_and_the_server_keeps_serving(stuntman, tmp_path,
                                                                                               body, content_type):
    st = stuntman(FILES, admin_port=0, recordings=tmp_path, journal_responses=1024)
    file_id = next(m["id"] for m in api(st, "GET", "/__admin/mappings")[1]["mappings"] if m["name"] == "from-file")
    fault_id = api(st, "POST", "/__admin/faults", {"type": "latency", "fixed_ms": 1, "route": "from-file"})[1]["id"]
    for method, path in [("POST", "/__admin/mappings"), ("PUT", f"/__admin/mappings/{file_id}"),
                         ("POST", "/__admin/faults"), ("PUT", f"/__admin/faults/{fault_id}"),
                         ("PATCH", f"/__admin/faults/{fault_id}"), ("POST", "/__admin/requests/find"),
                         ("POST", "/__admin/requests/count"), ("POST", "/__admin/near-misses"),
                         ("POST", "/__admin/scenarios"), ("POST", "/__admin/recordings/start"),
                         ("POST", "/__admin/recordings/snapshot")]:
        started = time.monotonic()
        status, answer = api(st, method, path, body, content_type)
        assert status == 400 and ("nest deeper than 100 levels" in json.dumps(answer)  # ours, or libyaml's:
                                  or "exceeded maximum nesting depth" in answer["error"]), (path, status, answer)
        assert time.monotonic() - started < 5
    assert api(st, "GET", "/__admin/mappings")[1]["meta"]["total"] == 4
    assert text(st, "/file") == (200, b"file-v1")
    nested = {"request": {"path": "/ninety"}, "response": {"json": json.loads("[" * 90 + "]" * 90)}}
    assert api(st, "POST", "/__admin/mappings", nested)[0] == 201  # as deep as anyone needs: fine
    assert text(st, "/ninety") == (200, b"[" * 90 + b"]" * 90)


def _chunked(st, path: str, chunks: list[bytes]) -> tuple[int, str, dict]:
    """A POST whose body is sent chunked (no Content-Length to refuse it by)."""
    conn = http.client.HTTPConnection("127.0.0.1", int(st.admin_url.rsplit(":", 1)[1]), timeout=10)
    try:
        conn.request("POST", path, body=iter(chunks), headers={"Content-Type": "application/json"},
                     encode_chunked=True)
        resp = conn.getresponse()
        return resp.status, resp.headers.get("Content-Type", ""), json.loads(resp.read())
    finally:
        conn.close()


def test_an_oversized_admin_body_is_a_json_413_naming_the_limit_which_is_configurable(stuntman):
    """Over the limit (1 MiB by default) the answer was aiohttp's plain-text 413: now JSON like
    every admin error, naming the limit; admin_max_body_bytes (--admin-max-body-bytes) sets it."""
    def stub(size: int) -> dict:
        return {"request": {"path": f"/big{size}"}, "response": {"body": "x" * size}}

    st = stuntman(FILES, admin_port=0)
    status, answer = api(st, "POST", "/__admin/mappings", stub(1024 * 1024))
    assert status == 413 and answer == {"limit": 1048576, "error": "the body is larger than the admin API "
                                        "takes: 1048576 bytes (--admin-max-body-bytes)"}
    assert api(st, "POST", "/__admin/mappings", stub(1000 * 1000))[0] == 201  # just under it
    small = stuntman(FILES, admin_port=0, admin_max_body_bytes=4096)
    for method, path in [("POST", "/__admin/mappings"), ("POST", "/__admin/requests/count"),
                         ("POST", "/__admin/recordings/start"), ("POST", "/__admin/scenarios")]:
        status, answer = api(small, method, path, stub(5000))
        assert status == 413 and answer["limit"] == 4096 and "4096 bytes" in answer["error"], (path, answer)
    body = json.dumps(stub(5000)).encode()
    status, content_type, answer = _chunked(small, "/__admin/mappings", [body[i:i + 1000]
                                                                       for i in range(0, len(body), 1000)])
    assert (status, content_type, answer["limit"]) == (413, "application/json; charset=utf-8", 4096)
    assert api(small, "POST", "/__admin/mappings", stub(3000))[0] == 201
    assert api(small, "GET", "/__admin/mappings")[1]["meta"]["total"] == 5
    large = stuntman({}, admin_port=0, admin_max_body_bytes=3 * 1024 * 1024)
    assert api(large, "POST", "/__admin/mappings", stub(2 * 1024 * 1024))[0] == 201


@pytest.mark.parametrize("name", ["a\x00b", "../out", "", "x" * 256])
def test_a_snapshot_into_a_name_no_recording_could_have_is_a_400_naming_the_field(stuntman, tmp_path, name):
    """recordings/snapshot took any name: a NUL, an empty or a `..` name answered 500."""
    st = stuntman(FILES, admin_port=0, recordings=tmp_path / "rec", journal_responses=1024)
    status, answer = api(st, "POST", "/__admin/recordings/snapshot", {"name": name})
    assert status == 400 and answer["error"] == "invalid snapshot request" and answer["errors"][0]["field"] == "name"


def test_a_snapshot_never_writes_outside_the_recordings_directory(stuntman, tmp_path):
    """An absolute name (which the command line may give) wrote wherever it pointed."""
    st = stuntman(FILES, admin_port=0, recordings=tmp_path / "rec", journal_responses=1024)
    status, answer = api(st, "POST", "/__admin/recordings/snapshot", {"name": str(tmp_path / "elsewhere")})
    assert status == 400 and answer["errors"][0]["field"] == "name"
    assert not (tmp_path / "elsewhere").exists()
