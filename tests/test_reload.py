"""Hot reload of stubs/ and the admin API's reload/health/token, end to end over real sockets."""
from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from conftest import STUNTMAN, call, free_port, wait_port
from stuntman.server import Server
from stuntman.settings import Settings

V1 = "- {name: greeting, request: {path: /greeting}, response: {body: v1}}\n"
V2 = "- {name: greeting, request: {path: /greeting}, response: {body: v2}}\n"
BROKEN = "- {name: greeting, request: {path: /greeting}, response: {body: v3}\n"  # unclosed


def eventually(check, timeout: float = 30.0):
    """Poll until check() is truthy (reload is asynchronous); fail with its last value. (A deadline
    for a hang, not a timing: a loaded CI machine, the suite in two workers, can take seconds.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"not true within {timeout} s: {value!r}"
            return value
        time.sleep(0.05)


def admin(st, method: str, path: str, token: str | None = None):
    req = urllib.request.Request(st.admin_url + path, method=method, data=b"" if method == "POST" else None)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def body(st, path="/greeting") -> bytes:
    return call(st.port, "GET", path)[2]


def test_an_edited_file_takes_effect_without_restart(stuntman):
    st = stuntman({"g.yaml": V1}, watch=True)
    assert body(st) == b"v1"
    (st.stubs / "g.yaml").write_text(V2)
    eventually(lambda: body(st) == b"v2")


def test_added_and_deleted_files_take_effect(stuntman):
    st = stuntman({"g.yaml": V1}, watch=True)
    (st.stubs / "more" / "x.yaml").parent.mkdir()
    (st.stubs / "more" / "x.yaml").write_text("- {request: {path: /extra}, response: {body: extra}}\n")
    eventually(lambda: body(st, "/extra") == b"extra")
    (st.stubs / "g.yaml").unlink()
    eventually(lambda: call(st.port, "GET", "/greeting")[0] == 404)
    assert body(st, "/extra") == b"extra"


def test_a_change_made_the_moment_start_returns_is_seen(tmp_path: Path):
    """The port opens only once the watches are in place: a file written right after start(),
    before the loop runs anything else, is reloaded (it was lost while the watcher started late)."""
    (tmp_path / "g.yaml").write_text(V1)

    async def scenario() -> dict[str, int]:
        server = Server(replace(Settings(), stubs=tmp_path, port=0, admin_port=None, watch=True))
        server.load()
        await server.start()
        try:
            (tmp_path / "more").mkdir()  # no await between start() and these writes
            (tmp_path / "more" / "x.yaml").write_text("- {request: {path: /extra}, response: {body: extra}}\n")
            for _ in range(600):  # a deadline for a hang (30 s), not a timing
                if len(server.table.routes) == 2:
                    break
                await asyncio.sleep(0.05)
            return dict(server.reloads)
        finally:
            await server.close()

    reloads = asyncio.run(scenario())
    assert reloads["ok"] >= 1 and not reloads["error"]


def test_a_bad_edit_keeps_the_last_good_configuration_and_is_reported(stuntman):
    st = stuntman({"g.yaml": V1}, watch=True, admin_port=0)
    (st.stubs / "g.yaml").write_text(BROKEN)
    status, health = eventually(lambda: (lambda r: r if r[1]["status"] == "degraded" else None)(
        admin(st, "GET", "/__admin/health")))
    assert status == 200 and health["stubs"] == 1
    [error] = health["configErrors"]
    assert error["file"] == "g.yaml" and error["line"] == 2 and "invalid YAML" in error["message"]
    assert body(st) == b"v1"  # still the last good table
    (st.stubs / "g.yaml").write_text(V2)
    eventually(lambda: body(st) == b"v2")
    assert admin(st, "GET", "/__admin/health")[1]["configErrors"] == []


def test_a_reload_storm_ends_on_the_last_content_and_serves_throughout(stuntman):
    st = stuntman({"g.yaml": V1}, watch=True)
    statuses: list[int] = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            statuses.append(call(st.port, "GET", "/greeting")[0])

    worker = threading.Thread(target=client)
    worker.start()
    try:
        for i in range(100):
            (st.stubs / "g.yaml").write_text(V1.replace("v1", f"storm-{i}"))
            time.sleep(0.02)
        eventually(lambda: body(st) == b"storm-99")
    finally:
        stop.set()
        worker.join(10)
    assert statuses and set(statuses) == {200}, f"{len(statuses)} requests, statuses {set(statuses)}"


def test_admin_reload_applies_files_or_reports_errors(stuntman):
    st = stuntman({"g.yaml": V1}, admin_port=0)  # no watcher: reload only when asked
    (st.stubs / "g.yaml").write_text(V2)
    time.sleep(0.3)
    assert body(st) == b"v1"
    assert admin(st, "POST", "/__admin/mappings/reload") == (200, {"reloaded": True, "stubs": 1})
    assert body(st) == b"v2"
    (st.stubs / "g.yaml").write_text(BROKEN)
    status, answer = admin(st, "POST", "/__admin/mappings/reload")
    assert status == 422 and answer["reloaded"] is False and answer["stubs"] == 1
    assert answer["configErrors"][0]["file"] == "g.yaml"
    assert body(st) == b"v2"


def test_admin_token_is_required_when_set(stuntman):
    st = stuntman({"g.yaml": V1}, admin_port=0, admin_token="s3cret")
    status, answer = admin(st, "GET", "/__admin/health")
    assert status == 401 and "Bearer" in answer["error"]
    assert admin(st, "GET", "/__admin/health", token="wrong")[0] == 401
    assert admin(st, "GET", "/__admin/health", token="s3cret")[0] == 200


def test_admin_on_a_non_loopback_address_refuses_to_start_without_a_token(tmp_path):
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    args = [*STUNTMAN, "run", "--stubs", str(stubs), "--port", str(free_port()), "--admin-host", "0.0.0.0"]
    result = subprocess.run([*args, "--admin-port", str(free_port())], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "stuntman: error: the admin API on 0.0.0.0 would be reachable from other hosts: set "
        "--admin-token (or STUNTMAN_ADMIN_TOKEN), or bind it to 127.0.0.1"]

    admin_port = free_port()
    proc = subprocess.Popen([*args, "--admin-port", str(admin_port)], env={"STUNTMAN_ADMIN_TOKEN": "tok",
                            "PATH": "/usr/bin:/bin"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_port(admin_port, proc=proc)
        req = urllib.request.Request(f"http://127.0.0.1:{admin_port}/__admin/health",
                                     headers={"Authorization": "Bearer tok"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["status"] == "ok"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/__admin/health", timeout=10)
            raise AssertionError("served without the token")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
    finally:
        proc.terminate()
        proc.wait(10)
