"""The admin API answers its own clients only, never a web page the developer happens to visit:
a cross-origin request (Origin of another site) gets 403, a body a page can send without a
preflight (text/plain, form-encoded, no type) 415, a Host that does not name the admin API (DNS
rebinding) 421; with a token too. Raw http.client, so Origin, Host and Content-Type are exactly
what a browser would send."""
from __future__ import annotations

import json

from conftest import call, wait_port
from stuntman.client import AsyncStuntman, Stuntman

EVIL = "http://evil.example"
STUB = json.dumps({"request": {"method": "GET", "path": "/pwned"}, "response": {"body": "pwned"}})
FAULT = json.dumps({"type": "error", "status": 503})
TOKEN = "s3cret-admin-token"


def admin_port(st) -> int:
    return st.server.admin_port


def assert_refused(answer, status: int) -> None:
    code, headers, body = answer
    assert code == status, (code, body)
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]


def test_a_cross_site_simple_post_creating_a_stub_is_refused_and_creates_nothing(stuntman):
    st = stuntman({}, admin_port=0)
    port = admin_port(st)
    answer = call(port, "POST", "/__admin/mappings", STUB,
                        {"Content-Type": "text/plain", "Origin": EVIL})
    assert_refused(answer, 403)
    assert call(st.port, "GET", "/pwned")[0] == 404
    assert json.loads(call(port, "GET", "/__admin/mappings")[2])["meta"]["total"] == 0


def test_cross_site_shutdown_recording_and_faults_are_refused(stuntman, upstream):
    st = stuntman({}, admin_port=0)
    port = admin_port(st)
    evil = {"Origin": EVIL, "Content-Type": "text/plain"}
    assert_refused(call(port, "POST", "/__admin/shutdown", headers={"Origin": EVIL}), 403)
    assert_refused(call(port, "POST", "/__admin/recordings/start",
                              json.dumps({"name": "stolen", "upstream": upstream.url}), evil), 403)
    assert_refused(call(port, "POST", "/__admin/faults", FAULT, evil), 403)
    # even with the documented content type: a page elsewhere is refused
    assert_refused(call(port, "POST", "/__admin/faults", FAULT,
                              {"Origin": EVIL, "Content-Type": "application/json"}), 403)
    assert not st.server.stop_requested.is_set()
    assert json.loads(call(port, "GET", "/__admin/recordings/status")[2])["recording"] is False
    assert [f for f in json.loads(call(port, "GET", "/__admin/faults")[2])["faults"]] == []
    assert call(st.port, "GET", "/anything")[0] == 404  # still serving, no fault


def test_an_origin_that_is_not_the_admin_apis_own_is_refused(stuntman):
    st = stuntman({}, admin_port=0)
    port = admin_port(st)
    for origin in ("null", f"http://127.0.0.1:{port + 1}", f"https://127.0.0.1:{port}",
                   f"http://localhost:{port}", f"http://evil.example:{port}"):
        assert_refused(call(port, "GET", "/__admin/requests",
                                  headers={"Host": f"127.0.0.1:{port}", "Origin": origin}), 403)
    # its own origin (the admin docs page's fetches) is served
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        status, _, _ = call(port, "POST", "/__admin/mappings", STUB,
                                  {"Host": host, "Origin": f"http://{host}", "Content-Type": "application/json"})
        assert status == 201, host


def test_bodies_must_be_json_or_yaml(stuntman):
    st = stuntman({}, admin_port=0)
    port = admin_port(st)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                         "application/octet-stream"):
        assert_refused(call(port, "POST", "/__admin/mappings", STUB, {"Content-Type": content_type}), 415)
        assert_refused(call(port, "POST", "/__admin/faults", FAULT, {"Content-Type": content_type}), 415)
    # a body without a content type; a page's empty <form> post is refused for its Origin
    assert_refused(call(port, "POST", "/__admin/mappings", STUB), 415)
    assert_refused(call(port, "POST", "/__admin/shutdown", "", {
        "Content-Type": "application/x-www-form-urlencoded", "Origin": EVIL}), 403)
    assert not st.server.stop_requested.is_set()
    assert call(st.port, "GET", "/pwned")[0] == 404
    # what the API documents still works; so does a POST without a body
    assert call(port, "POST", "/__admin/mappings", STUB,
                      {"Content-Type": "application/json; charset=utf-8"})[0] == 201
    assert call(port, "POST", "/__admin/mappings", "request: {path: /yaml}\nresponse: {body: yaml}\n",
                      {"Content-Type": "application/yaml"})[0] == 201
    assert call(port, "POST", "/__admin/scenarios/reset")[0] == 200
    assert call(st.port, "GET", "/pwned")[2] == b"pwned"
    assert call(st.port, "GET", "/yaml")[2] == b"yaml"


def test_a_dns_rebinding_host_cannot_read_the_journal(stuntman):
    st = stuntman({}, admin_port=0, journal_size=100)
    port = admin_port(st)
    call(st.port, "POST", "/login", body=b'{"password": "hunter2"}', headers={"Authorization": "Bearer app-token"})
    for host in (f"evil.example:{port}", "evil.example", f"localhost.evil.example:{port}",
                 f"127.0.0.1:{port + 1}", "bad host:x"):
        code, _, body = call(port, "GET", "/__admin/requests", headers={"Host": host})
        assert code == 421, (host, code)
        assert b"/login" not in body and b"app-token" not in body
        assert json.loads(body)["error"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        code, _, body = call(port, "GET", "/__admin/requests", headers={"Host": host})
        assert code == 200 and b"/login" in body, host
    # probes may come with any Host (a load balancer's); ready says nothing but ready
    assert call(port, "GET", "/__admin/ready", headers={"Host": "10.1.2.3:8081"})[0] == 200


def test_with_a_token_every_rule_still_holds(stuntman):
    st = stuntman({}, admin_port=0, admin_token=TOKEN)
    port = admin_port(st)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert_refused(call(port, "POST", "/__admin/mappings", STUB,
                              {**auth, "Content-Type": "text/plain", "Origin": EVIL}), 403)
    assert_refused(call(port, "POST", "/__admin/mappings", STUB, {**auth, "Content-Type": "text/plain"}), 415)
    assert_refused(call(port, "GET", "/__admin/requests", headers={**auth, "Host": f"evil.example:{port}"}), 421)
    assert_refused(call(port, "POST", "/__admin/shutdown", headers={**auth, "Origin": EVIL}), 403)
    assert not st.server.stop_requested.is_set()
    assert call(port, "POST", "/__admin/mappings", STUB, {**auth, "Content-Type": "application/json"})[0] == 201
    assert call(port, "GET", "/__admin/requests")[0] == 401  # and the token is still needed


def test_the_clients_send_what_the_api_accepts(stuntman):
    import asyncio

    st = stuntman({}, admin_port=0)
    admin = Stuntman(st.admin_url)
    created = admin.create_stub({"request": {"path": "/sync"}, "response": {"body": "sync"}})
    assert admin.count_requests({"path": "/sync"}) == 0

    async def via_async() -> str:
        async with AsyncStuntman(st.admin_url) as client:
            stub = await client.create_stub({"request": {"path": "/async"}, "response": {"body": "async"}})
            await client.reset_scenarios()
            return stub["id"]

    asyncio.run(via_async())
    assert call(st.port, "GET", "/sync")[2] == b"sync" and call(st.port, "GET", "/async")[2] == b"async"
    admin.delete_stub(created["id"])


def test_admin_allowed_host_names_a_service_from_the_flag_or_the_environment(cli_server, tmp_path):
    (tmp_path / "stubs").mkdir()
    for args, env in ((["--admin-allowed-host", "stuntman", "--admin-allowed-host", "admin.test:9999"], {}),
                      ([], {"STUNTMAN_ADMIN_ALLOWED_HOSTS": "stuntman, admin.test:9999"})):
        proc, _ = cli_server("--stubs", str(tmp_path / "stubs"), "--no-watch", *args, env=env)
        port = int(proc.args[proc.args.index("--admin-port") + 1])
        wait_port(port, proc=proc)
        assert call(port, "GET", "/__admin/health", headers={"Host": f"stuntman:{port}"})[0] == 200
        assert call(port, "GET", "/__admin/health", headers={"Host": "stuntman"})[0] == 200  # any port
        assert call(port, "GET", "/__admin/health", headers={"Host": "admin.test:9999"})[0] == 200
        assert call(port, "GET", "/__admin/health", headers={"Host": f"admin.test:{port}"})[0] == 421
        assert call(port, "GET", "/__admin/health", headers={"Host": f"evil.example:{port}"})[0] == 421
        # an allowed name is allowed as an origin too, only its own
        assert call(port, "GET", "/__admin/health",
                          headers={"Host": f"stuntman:{port}", "Origin": f"http://stuntman:{port}"})[0] == 200
        assert call(port, "GET", "/__admin/health",
                          headers={"Host": f"stuntman:{port}", "Origin": EVIL})[0] == 403
        proc.terminate()
        proc.wait(10)
    proc, _ = cli_server("--stubs", str(tmp_path / "stubs"), "--no-watch")
    port = int(proc.args[proc.args.index("--admin-port") + 1])
    wait_port(port, proc=proc)
    assert call(port, "GET", "/__admin/health", headers={"Host": f"stuntman:{port}"})[0] == 421

