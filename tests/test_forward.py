"""Forward-proxy recording with HTTPS interception (mitmproxy as the engine): curl through
`stuntman record --forward`, trusting stuntman's CA, to an HTTPS upstream with a self-signed
certificate; upstream verification on by default; the exchange recorded, redacted."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from conftest import STUNTMAN, free_port, run_cli, wait_port
from test_proxy import tls_upstream  # noqa: F401  (the fixture)
from test_record import recorded

SECRET = "forward-secret-token"


def curl(proxy_port: int, ca: str, url: str, *headers: str) -> subprocess.CompletedProcess:
    args = ["curl", "-sS", "--max-time", "10", "-x", f"http://127.0.0.1:{proxy_port}", "--cacert", ca, url]
    for header in headers:
        args += ["-H", header]
    return subprocess.run(args, capture_output=True, text=True, timeout=20)


@pytest.fixture
def forward(tmp_path):
    procs = []

    def start(*args):
        port = free_port()
        proc = subprocess.Popen([*STUNTMAN, "record", "--forward", "--port", str(port), "--ca-dir",
                                 str(tmp_path / "ca"), "--recordings", str(tmp_path / "rec"), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        wait_port(port, timeout=30, proc=proc)
        return proc, port
    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def test_https_through_the_forward_proxy_is_recorded(forward, tls_upstream, tmp_path):  # noqa: F811
    up, cert = tls_upstream
    proc, port = forward("--to", "dev", "--upstream-ca", str(cert))
    ca = run_cli("ca", "--path", "--ca-dir", str(tmp_path / "ca")).stdout.strip()
    assert ca.endswith(".pem")
    assert "BEGIN CERTIFICATE" in run_cli("ca", "--export", "--ca-dir", str(tmp_path / "ca")).stdout
    url = f"https://localhost:{up.port}/api/things?x=1"
    result = curl(port, ca, url, f"Authorization: Bearer {SECRET}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["path"] == "/api/things?x=1"
    # the exchange was on disk before curl had its answer
    [exchange] = recorded(tmp_path / "rec" / "dev")
    assert exchange["upstream"] == f"https://localhost:{up.port}"
    assert exchange["request"]["url"] == "/api/things?x=1" and exchange["response"]["status"] == 200
    assert SECRET not in json.dumps(exchange) and "Authorization: [REDACTED]" in exchange["request"]["headers"]
    # and it replays like any recording
    replay = run_cli("export", "har", "dev", "--recordings", str(tmp_path / "rec"))
    assert replay.returncode == 0 and "/api/things?x=1" in replay.stdout
    proc.terminate()
    assert proc.wait(10) == 0


def test_upstream_certificates_are_verified_unless_told_not_to(forward, tls_upstream, tmp_path):  # noqa: F811
    up, _ = tls_upstream
    _, strict = forward("--to", "strict")
    ca = run_cli("ca", "--path", "--ca-dir", str(tmp_path / "ca")).stdout.strip()
    url = f"https://localhost:{up.port}/x"
    refused = subprocess.run(
        ["curl", "-sS", "-w", "%{http_code}", "--max-time", "10", "-x", f"http://127.0.0.1:{strict}",
         "--cacert", ca, url], capture_output=True, text=True, timeout=20)
    assert refused.stdout.endswith("502") and "Certificate verify failed: self-signed certificate" in refused.stdout
    assert recorded(tmp_path / "rec" / "strict") == []  # mitmproxy's own 502 is not an upstream's answer
    _, lax = forward("--to", "lax", "--insecure-upstream")
    time.sleep(0.1)
    allowed = curl(lax, ca, url)
    assert allowed.returncode == 0 and json.loads(allowed.stdout)["path"] == "/x"


def test_mitmproxy_flow_files_import_through_mitmproxys_reader(stuntman, tmp_path):
    from mitmproxy import io
    from mitmproxy.test import tflow

    flows = []
    for i in range(3):
        flow = tflow.tflow(resp=True)
        flow.request.path = f"/api/items/{i}?x=1"
        flow.request.content = b""  # (the test flow has a body by default; a GET has none)
        flow.request.headers["Authorization"] = f"Bearer {SECRET}"
        flow.response.set_content(json.dumps({"item": i}).encode())
        flows.append(flow)
    flows.append(tflow.tflow(err=True))  # no response: skipped, said so
    path = tmp_path / "flows.mitm"
    with open(path, "wb") as f:
        writer = io.FlowWriter(f)
        for flow in flows:
            writer.add(flow)
    result = run_cli("import", "mitmproxy", str(path), "--to", "m", "--recordings", str(tmp_path / "rec"))
    assert result.returncode == 0 and "imported 3 exchange(s)" in result.stdout, result.stderr
    assert "skipped flows[3]: no response" in result.stderr
    exchanges = recorded(tmp_path / "rec" / "m")
    assert [e["request"]["url"] for e in exchanges] == [f"/api/items/{i}?x=1" for i in range(3)]
    assert SECRET not in json.dumps(exchanges)
    replay = stuntman({}, recordings=tmp_path / "rec", replay=("m",))
    from conftest import call

    assert json.loads(call(replay.port, "GET", "/api/items/2?x=1")[2]) == {"item": 2}
    bad = tmp_path / "not.mitm"
    bad.write_bytes(b"garbage")
    assert run_cli("import", "mitmproxy", str(bad), "--to", "x", "--recordings", str(tmp_path)).returncode == 2
