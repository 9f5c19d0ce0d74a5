"""The admin API's stubs at runtime (mappings), scenarios and shutdown, over real sockets."""
from __future__ import annotations

import json
import subprocess
import threading
import urllib.error
import urllib.request

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


def api(st, method: str, path: str, body=None, content_type: str = "application/json"):
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    req = urllib.request.Request(st.admin_url + path, method=method, data=data,
                                 headers={"Content-Type": content_type} if data is not None else {})
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
