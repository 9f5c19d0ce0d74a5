"""The admin API against its own OpenAPI 3.1 document: fuzzed with schemathesis (bounded), no
server error, every response as documented; and the human docs page."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import ROOT, wait_port

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_fuzzing_the_admin_api_from_its_document_finds_no_server_error_and_no_undocumented_answer(
        cli_server, tmp_path):
    shutil.copytree(ROOT / "stubs", tmp_path / "stubs")
    proc, port = cli_server("--stubs", str(tmp_path / "stubs"), "--no-watch")
    admin = proc.args[proc.args.index("--admin-port") + 1]
    wait_port(int(admin), proc=proc)
    url = f"http://127.0.0.1:{admin}/__admin/openapi.json"
    # The coverage phase enumerates every branch of a schema: on the stub and fault bodies (a
    # union of ten fault kinds, nested matchers) that is minutes, so those bodies get the fuzzing
    # phase (bounded examples) and the coverage phase does the rest.
    runs = (["--phases", "examples,fuzzing", "--max-examples", "60"],
            ["--phases", "coverage", "--max-examples", "25", "--exclude-path-regex", "^/__admin/(mappings|faults)"])
    for phases in runs:
        result = subprocess.run(
            [str(SCHEMATHESIS), "run", url, "--exclude-path", "/__admin/shutdown", "--checks", CHECKS,
             "--seed", "20261125", "--workers", "1", *phases],
            capture_output=True, text=True, timeout=300, cwd=tmp_path)  # it writes .schemathesis/ there
        assert result.returncode == 0, result.stdout[-6000:]
        assert " passed" in result.stdout and "failed" not in result.stdout.split("SUMMARY")[-1]
    assert proc.poll() is None  # and stuntman is still up


def test_the_document_describes_every_admin_route_and_the_docs_page_lists_them(stuntman):
    st = stuntman({}, admin_port=0)
    with urllib.request.urlopen(st.admin_url + "/__admin/openapi.json", timeout=10) as resp:
        doc = json.loads(resp.read())
    assert doc["openapi"] == "3.1.0"
    app_routes = {(r.method, r.resource.canonical) for r in st.server._admin.runner.app.router.routes()
                  if r.method != "HEAD"}
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops
                  if method != "parameters"}
    assert app_routes == documented
    with urllib.request.urlopen(st.admin_url + "/__admin/docs", timeout=10) as resp:
        page = resp.read().decode()
    assert resp.headers["Content-Type"].startswith("text/html")
    for method, path in documented:
        assert f"<code>{method} {path}</code>" in page
