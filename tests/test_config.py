"""Stub files and the CLI: `stuntman validate`, `stuntman schema`, `stuntman run` errors, env vars, --help."""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess

import pytest
import yaml

from conftest import ROOT, STUNTMAN, call, free_port, run_cli, wait_port, write_stubs


def get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# -- stuntman validate ------------------------------------------------------------------------

def test_validate_demo_stubs_ok():
    result = run_cli("validate", "stubs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: 11 stub(s), 4 standalone fault(s) in 5 file(s)")


BAD_FILES = {
    "syntax.yaml": """\
        - name: s
          request:
            path: /a
           method: GET
          response: {status: 200}
    """,
    "unknown.yaml": """\
        - name: u
          request:
            method: GET
            hedaers: {Accept: json}
          response: {status: 200}
    """,
    "type.yaml": """\
        - name: t
          request: {path: /t}
          response:
            status: "abc"
    """,
    "twoops.yaml": """\
        - name: o
          request:
            path: /o
            headers:
              X-A: {equals: a, contains: b}
          response: {status: 200}
    """,
    "regex.yaml": """\
        - name: r
          request:
            pathRegex: "/r/([a-z"
          response: {status: 200}
    """,
    "missing.yaml": """\
        - name: fine
          request: {path: /ok}
          response: {status: 200}
        - name: m
          request: {path: /m}
          response:
            bodyFile: nope.json
    """,
    "escape.yaml": """\
        - name: e
          request: {path: /e}
          response:
            bodyFile: ../../etc/passwd
    """,
    "absolute.yaml": """\
        name: a
        request: {path: /abs}
        response:
          bodyFile: /etc/passwd
    """,
    "broken.json": '[\n  {"name": "j",\n   "request": {"path": "/j"},\n   "response": {"status": 200,}\n  }\n]\n',
    "unknown.json": '{\n  "name": "uj",\n  "request": {"path": "/uj", "hedaers": {}},\n  "response": {}\n}\n',
    "multi.yaml": """\
        - name: first
          request: {methd: GET}
          response: {}
        - name: second
          request: {path: /second}
          response: {stauts: 200}
    """,
}

# (file:line, field path, message fragment): one line of `stuntman validate` output each
EXPECTED_ERRORS = {
    "yaml-syntax": ("syntax.yaml:4", "", "invalid YAML"),
    "unknown-field": ("unknown.yaml:4", "[0].request.hedaers", "unknown field"),
    "wrong-type": ("type.yaml:4", "[0].response.status", "valid integer"),
    "two-operators": ("twoops.yaml:5", "[0].request.headers.X-A", "exactly one of"),
    "invalid-regex": ("regex.yaml:3", "[0].request.pathRegex", "invalid regex"),
    "bodyfile-missing": ("missing.yaml:7", "[1].response.bodyFile", "No such file"),
    "bodyfile-dotdot": ("escape.yaml:4", "[0].response.bodyFile", "escapes the stubs directory"),
    "bodyfile-absolute": ("absolute.yaml:4", "response.bodyFile", "escapes the stubs directory"),
    "invalid-json": ("broken.json:4", "", "invalid JSON"),
    "json-unknown-field": ("unknown.json:3", "request.hedaers", "unknown field"),
    "multi-first": ("multi.yaml:2", "[0].request.methd", "unknown field"),
    "multi-second": ("multi.yaml:6", "[1].response.stauts", "unknown field"),
}


@pytest.fixture(scope="module")
def bad_validate(tmp_path_factory):
    root = write_stubs(tmp_path_factory.mktemp("bad") / "stubs", BAD_FILES)
    return run_cli("validate", str(root))


def test_validate_bad_dir_exits_1(bad_validate):
    assert bad_validate.returncode == 1
    assert "Traceback" not in bad_validate.stderr


def test_validate_prints_every_error_once(bad_validate):
    lines = bad_validate.stdout.splitlines()
    assert len(lines) == len(EXPECTED_ERRORS), bad_validate.stdout
    assert f"{len(EXPECTED_ERRORS)} error(s)" in bad_validate.stderr


@pytest.mark.parametrize("where, field, message", EXPECTED_ERRORS.values(), ids=EXPECTED_ERRORS.keys())
def test_validate_error_line(bad_validate, where, field, message):
    """Each error reads `file:line: field.path: message`, line = the offending key's line."""
    prefix = f"{where}: {field}: " if field else f"{where}: "
    matching = [line for line in bad_validate.stdout.splitlines() if line.startswith(prefix)]
    assert matching, f"no line starting {prefix!r} in:\n{bad_validate.stdout}"
    assert message in matching[0]


def test_validate_missing_dir():
    result = run_cli("validate", "no/such/dir")
    assert result.returncode != 0
    assert result.stderr.strip() == "stuntman: error: stubs directory 'no/such/dir' does not exist"


def yaml_bomb(levels: int, indent: str = "") -> str:
    """Billion laughs: x0 is nine "lol"s, each next key nine aliases to the one before it, so
    `levels` lines of YAML expand to 9**levels strings (9 levels: about 500 bytes, 387 million)."""
    lines = [f'{indent}x0: &x0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"{indent}x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def bomb_stub(levels: int) -> str:
    return "request: {path: /bomb}\nresponse:\n  json:\n" + yaml_bomb(levels, "    ")


@pytest.mark.parametrize("levels", [9, 7])
def test_validate_refuses_a_yaml_bomb(tmp_path, levels):
    """Aliases are bounded while the file is parsed: a billion-laughs stub is one error naming the
    file and the line of the key whose aliases pass the limit, in a moment and without a traceback."""
    root = write_stubs(tmp_path / "stubs", {
        "ok.yaml": "request: {path: /ok}\nresponse: {body: ok}\n", "bomb.yaml": bomb_stub(levels)})
    result = run_cli("validate", str(root), timeout=15)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    assert result.stdout.splitlines() == ["bomb.yaml:8: YAML aliases expand past 10000 nodes (a YAML bomb?)"]


def test_validate_refuses_a_recursive_yaml_alias(tmp_path):
    root = write_stubs(tmp_path / "stubs", {"loop.yaml": """
        request: {path: /loop}
        response:
          json: &self {again: *self}
    """})
    result = run_cli("validate", str(root), timeout=15)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.splitlines() == [
        "loop.yaml:4: a YAML alias refers to a node that contains it (a recursive structure)"]


def test_stub_files_with_a_few_anchors_and_aliases_still_load(stuntman):
    st = stuntman({"shared.yaml": """
        - request: {path: /a}
          response: &ok {headers: &h {X-Team: checkout, Cache-Control: no-store}, json: &user {id: 1, roles: [a, b]}}
        - request: {path: /b}
          response: *ok
        - request: {path: /c}
          response: {headers: *h, json: {user: *user, again: *user}}
    """})
    assert get(st.port, "/b")[0] == 200
    status, headers, body = call(st.port, "GET", "/c")
    assert status == 200 and headers["x-team"] == "checkout"
    assert json.loads(body) == {"user": {"id": 1, "roles": ["a", "b"]}, "again": {"id": 1, "roles": ["a", "b"]}}


def test_body_files_are_not_stubs(tmp_path):
    """__files/ and any file served as a bodyFile are bodies, never parsed as stubs."""
    root = write_stubs(tmp_path / "stubs", {
        "__files/list.json": '[{"not": "a stub"}]',
        "data/users.json": '[{"id": 1, "name": "Ada"}]',
        ".hidden.yaml": "this: [is not valid",
        "s.yaml": """
            - request: {path: /list}
              response: {bodyFile: __files/list.json}
            - request: {path: /users}
              response: {bodyFile: data/users.json}
        """,
    })
    result = run_cli("validate", str(root))
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("ok: 2 stub(s), 0 standalone fault(s) in 1 file(s)")


def test_body_file_served_with_content_type(stuntman):
    st = stuntman({
        "data/users.json": '[{"id": 1, "name": "Ada"}]',
        "s.yaml": "- {request: {path: /users}, response: {bodyFile: data/users.json}}",
    })
    conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=10)
    conn.request("GET", "/users")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("content-type") == "application/json"
    assert json.loads(resp.read()) == [{"id": 1, "name": "Ada"}]
    conn.close()


# -- JSON stub files --------------------------------------------------------------------------

def test_json_stub_files_load(stuntman):
    st = stuntman({
        "one.json": json.dumps({"request": {"path": "/one"}, "response": {"body": "single"}}),
        "many.json": json.dumps([
            {"request": {"path": "/two"}, "response": {"body": "first-of-list"}},
            {"request": {"path": "/three"}, "response": {"json": {"n": 3}}},
        ]),
    })
    assert get(st.port, "/one") == (200, b"single")
    assert get(st.port, "/two") == (200, b"first-of-list")
    assert json.loads(get(st.port, "/three")[1]) == {"n": 3}


# -- stuntman schema --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def schema():
    result = run_cli("schema")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_schema_equals_committed_file(schema):
    assert schema == json.loads((ROOT / "stubs.schema.json").read_text())


_TYPES = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
          "boolean": bool, "null": type(None)}


def schema_errors(value, node: dict, root: dict, where: str = "$") -> list[str]:
    """A small JSON Schema checker for the keywords pydantic emits (jsonschema is not installed)."""
    if "$ref" in node:
        return schema_errors(value, root["$defs"][node["$ref"].rsplit("/", 1)[1]], root, where)
    if "anyOf" in node:
        failures = [schema_errors(value, alt, root, where) for alt in node["anyOf"]]
        if all(failures):  # report the alternative that got furthest (its errors are deepest)
            return max(failures, key=lambda errs: max(len(e.split(":")[0]) for e in errs))
    kind = node.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(isinstance(value, _TYPES[k]) and not (k in ("integer", "number") and isinstance(value, bool))
                   for k in kinds):
            return [f"{where}: expected {kind}, got {type(value).__name__}"]
    if "const" in node and value != node["const"]:
        return [f"{where}: expected {node['const']!r}"]
    if "enum" in node and value not in node["enum"]:
        return [f"{where}: {value!r} not in {node['enum']}"]
    errors = []
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and ("minimum" in node and value < node["minimum"] or "maximum" in node and value > node["maximum"]):
        errors.append(f"{where}: {value} out of range")
    if isinstance(value, dict):
        props = node.get("properties", {})
        errors += [f"{where}: missing {k}" for k in node.get("required", []) if k not in value]
        for key, item in value.items():
            extra = node.get("additionalProperties", True)
            if key in props:
                errors += schema_errors(item, props[key], root, f"{where}.{key}")
            elif extra is False:
                errors.append(f"{where}: unknown property {key!r}")
            elif isinstance(extra, dict):
                errors += schema_errors(item, extra, root, f"{where}.{key}")
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0):
            errors.append(f"{where}: fewer than {node['minItems']} items")
        if "items" in node:
            for i, item in enumerate(value):
                errors += schema_errors(item, node["items"], root, f"{where}[{i}]")
    return errors


DEMO_FILES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "stubs").rglob("*.yaml"))


def test_demo_dir_has_stub_files():
    assert len(DEMO_FILES) == 5


@pytest.mark.parametrize("path", DEMO_FILES)
def test_schema_accepts_demo_stubs(schema, path):
    data = yaml.safe_load((ROOT / path).read_text())
    assert schema_errors(data, schema, schema) == []


@pytest.mark.parametrize("stub, fragment", [
    ({"request": {"hedaers": {}}, "response": {}}, "$.request: unknown property 'hedaers'"),
    ({"request": {}, "response": {"status": "abc"}}, "$.response.status"),
    ({"request": {"method": 5}, "response": {}}, "$.request.method"),
    ({"request": {}, "response": {}, "sequence": "loop"}, "$.sequence"),
])
def test_schema_rejects_bad_stubs(schema, stub, fragment):
    """The checker above is not vacuous: the schema rejects what the loader rejects."""
    errors = schema_errors(stub, schema, schema)
    assert any(e.startswith(fragment) for e in errors), errors


# -- stuntman run: errors ---------------------------------------------------------------------

def assert_one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("stuntman: error: ") and fragment in lines[0], lines[0]


@pytest.mark.parametrize("which", ["--port", "--admin-port"])
def test_run_port_in_use(which):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        ports = {"--port": str(free_port()), "--admin-port": str(free_port())}
        ports[which] = str(taken)
        result = run_cli("run", "--stubs", "stubs", "--port", ports["--port"],
                         "--admin-port", ports["--admin-port"])
    assert_one_line_error(result, "already in use")
    assert str(taken) in result.stderr


def test_run_missing_stubs_dir():
    result = run_cli("run", "--stubs", "no/such/dir", "--port", str(free_port()),
                     "--admin-port", str(free_port()))
    assert_one_line_error(result, "stubs directory 'no/such/dir' does not exist")


@pytest.mark.parametrize("args, fragment", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--port", "abc"], "--port"),
    (["--port", "70000"], "--port"),
    (["--upstream", "ftp://example.com"], "--upstream"),
], ids=["unknown-flag", "port-not-a-number", "port-out-of-range", "upstream-scheme"])
def test_run_bad_flag(args, fragment):
    result = run_cli("run", "--stubs", "stubs", "--admin-port", str(free_port()), *args)
    assert_one_line_error(result, fragment)


def test_run_bad_stub_file(tmp_path):
    root = write_stubs(tmp_path / "stubs", {
        "a.yaml": "- request: {path: /a}\n  response: {status: abc}\n",
        "b.yaml": "- request: {path: /b, hedaers: {}}\n  response: {}\n",
    })
    port = free_port()
    result = run_cli("run", "--stubs", str(root), "--port", str(port), "--admin-port", str(free_port()))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("a.yaml:2: [0].response.status: ")
    assert lines[1] == "b.yaml:1: [0].request.hedaers: unknown field"
    assert lines[2].startswith("stuntman: error: 2 error(s)") and "not started" in lines[2]
    assert len(lines) == 3


@pytest.mark.parametrize("env, fragment", [
    ({"STUNTMAN_PORT": "abc"}, "STUNTMAN_PORT='abc'"),
    ({"STUNTMAN_MAX_BODY_BYTES": "lots"}, "STUNTMAN_MAX_BODY_BYTES='lots'"),
    ({"STUNTMAN_PRESERVE_HOST": "maybe"}, "STUNTMAN_PRESERVE_HOST='maybe'"),
])
def test_run_bad_env_value(env, fragment):
    result = run_cli("run", "--stubs", "stubs", "--admin-port", str(free_port()), env=env)
    assert_one_line_error(result, fragment)



@pytest.mark.parametrize("command", [["validate", "stubs"], ["schema"]])
def test_run_env_vars_do_not_break_other_commands(command):
    """STUNTMAN_PORT configures `run` only: a bad value must not stop `validate` or `schema`."""
    result = run_cli(*command, env={"STUNTMAN_PORT": "abc"})
    assert result.returncode == 0, result.stderr

# -- stuntman run: environment variables ------------------------------------------------------

@pytest.fixture
def env_server():
    """start(env) → `stuntman run` with no flags at all, configured only by STUNTMAN_* env vars."""
    procs = []

    def start(env: dict, port: int):
        proc = subprocess.Popen([*STUNTMAN, "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=ROOT, env={**os.environ, **env})
        procs.append(proc)
        wait_port(port, proc=proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _stub_dir(tmp_path):
    return write_stubs(tmp_path / "env-stubs", {"e.yaml": """
        - request: {path: /from-env}
          response: {body: env-stubs}
    """})


def test_env_port(env_server):
    port = free_port()
    env_server({"STUNTMAN_PORT": str(port), "STUNTMAN_ADMIN_PORT": str(free_port())}, port)
    status, body = get(port, "/api/products/7")  # the demo stubs (default dir), on the env port
    assert status == 200 and json.loads(body)["name"] == "Product 7"


def test_env_stubs(cli_server, tmp_path):
    _, port = cli_server(env={"STUNTMAN_STUBS": str(_stub_dir(tmp_path))})
    assert get(port, "/from-env") == (200, b"env-stubs")


def test_env_upstream(cli_server, upstream, tmp_path):
    _, port = cli_server("--stubs", str(_stub_dir(tmp_path)), env={"STUNTMAN_UPSTREAM": upstream.url})
    status, body = get(port, "/not/stubbed?x=1")
    assert status == 200
    assert json.loads(body)["path"] == "/not/stubbed?x=1"
    assert get(port, "/from-env") == (200, b"env-stubs")


def test_env_all_together(env_server, upstream, tmp_path):
    port = free_port()
    env_server({"STUNTMAN_PORT": str(port), "STUNTMAN_ADMIN_PORT": str(free_port()),
                "STUNTMAN_STUBS": str(_stub_dir(tmp_path)), "STUNTMAN_UPSTREAM": upstream.url}, port)
    assert get(port, "/from-env") == (200, b"env-stubs")
    assert json.loads(get(port, "/elsewhere")[1])["path"] == "/elsewhere"


def test_flag_beats_env(cli_server, tmp_path):
    """An explicit flag wins over its STUNTMAN_* variable."""
    _, port = cli_server("--stubs", str(_stub_dir(tmp_path)), env={"STUNTMAN_STUBS": "no/such/dir"})
    assert get(port, "/from-env") == (200, b"env-stubs")


# -- --help -----------------------------------------------------------------------------------

RUN_FLAGS = ["--stubs", "--host", "--port", "--admin-host", "--admin-port", "--upstream",
             "--upstream-timeout", "--connect-timeout", "--preserve-host", "--max-body-bytes",
             "--max-header-bytes", "--max-headers", "--max-url-bytes", "--idle-timeout",
             "--header-timeout", "--session-header", "--no-uvloop"]


@pytest.mark.parametrize("args, mentions", [
    ([], ["run", "validate", "schema", "--version", "--help"]),
    (["run"], RUN_FLAGS + ["STUNTMAN_" + f[2:].replace("-", "_").upper() for f in RUN_FLAGS]),
    (["validate"], ["DIR", "file:line"]),
    (["schema"], ["JSON Schema"]),
], ids=["stuntman", "run", "validate", "schema"])
def test_help(args, mentions):
    result = run_cli(*args, "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # argparse wraps lines
    missing = [m for m in mentions if m not in text]
    assert missing == []


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("stuntman ")


@pytest.mark.parametrize("headers, message", [
    ('{"Bad Name": x}', "invalid header name 'Bad Name'"),
    ('{X-Emoji: "\U0001F600"}', "header X-Emoji: value must be one line of Latin-1 text"),
    ('{X-Split: "a\\r\\nX-Injected: yes"}', "header X-Split: value must be one line of Latin-1 text"),
])
def test_response_headers_must_be_wire_safe(tmp_path, headers, message):
    stubs = write_stubs(tmp_path / "s", {"h.yaml": f"""
        - request: {{path: /a}}
          response:
            headers: {headers}
    """})
    result = run_cli("validate", str(stubs))
    assert result.returncode == 1
    assert f"h.yaml:4: [0].response.headers: {message}" in result.stdout


def test_latin1_response_header_values_are_served(stuntman):
    st = stuntman({"h.yaml": '- {request: {path: /a}, response: {headers: {X-Name: "caf\\xe9"}, body: ok}}'})
    conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=10)
    conn.request("GET", "/a")
    resp = conn.getresponse()
    assert resp.read() == b"ok" and resp.getheader("X-Name") == "caf\xe9"


# -- regexes are RE2: what it cannot run in linear time is refused at load ------------------

RE2_REFUSED = {
    "backref.yaml": """\
        - name: b
          request:
            path: /b
            headers:
              X-V: {regex: '(a)\\1'}
          response: {status: 200}
    """,
    "lookahead.yaml": """\
        - name: l
          request:
            pathRegex: '/l/(?=a)a+'
          response: {status: 200}
    """,
}


def test_validate_refuses_backreferences_and_lookarounds(tmp_path):
    result = run_cli("validate", str(write_stubs(tmp_path / "stubs", RE2_REFUSED)))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    for prefix in ("backref.yaml:5: [0].request.headers.X-V: ", "lookahead.yaml:3: [0].request.pathRegex: "):
        found = [line for line in lines if line.startswith(prefix)]
        assert found and "invalid regex" in found[0] and "RE2" in found[0], result.stdout


@pytest.mark.parametrize("request_spec, field", [
    ({"path": "/b", "headers": {"X-V": {"regex": "(a)\\1"}}}, "request.headers.X-V"),
    ({"pathRegex": "/l/(?<!x)a"}, "request.pathRegex"),
    ({"method": "POST", "path": "/j", "body": {"regex": "(?=a)"}}, "request.body"),
])
def test_admin_api_refuses_regexes_re2_cannot_run(stuntman, request_spec, field):
    import urllib.error
    import urllib.request

    st = stuntman({}, admin_port=0)
    req = urllib.request.Request(st.admin_url + "/__admin/mappings", method="POST",
                                 data=json.dumps({"request": request_spec, "response": {}}).encode(),
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=10)
    assert caught.value.code == 400
    errors = {e["field"]: e["message"] for e in json.loads(caught.value.read())["errors"]}
    assert "invalid regex" in errors[field], errors


def deep_stub(levels: int, style: str) -> str:
    """A stub whose JSON body nests `levels` collections below `json:` (block or flow style)."""
    if style == "flow":
        return "request: {path: /deep}\nresponse:\n  json: " + "[" * levels + "]" * levels + "\n"
    body = "".join(f"{'  ' * (i + 2)}k{i}:\n" for i in range(levels - 1)) + f"{'  ' * (levels + 1)}k: 1\n"
    return "request: {path: /deep}\nresponse:\n  json:\n" + body


@pytest.mark.parametrize("style, levels, line", [("block", 990, 102), ("flow", 990, 3), ("flow", 101, 3)])
def test_validate_refuses_collections_nested_too_deep(tmp_path, style, levels, line):
    """libyaml parses up to 1,000 levels, but building and validating the data recursed in Python
    and 990 levels ended in a RecursionError traceback. Past 100 levels the file is one error
    naming the line where the nesting goes too deep; 97 levels under `json:` still load."""
    root = write_stubs(tmp_path / "stubs", {"ok.yaml": deep_stub(97, style), "deep.yaml": deep_stub(levels, style)})
    result = run_cli("validate", str(root), timeout=30)
    assert "Traceback" not in result.stderr, result.stderr[-500:]
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"deep.yaml:{line}: collections nest deeper than 100 levels"]


def test_a_json_stub_file_nested_past_what_python_parses_is_one_error(tmp_path):
    nested = "[" * 100_000 + "]" * 100_000
    root = write_stubs(tmp_path / "stubs", {"ok.yaml": "request: {path: /ok}\nresponse: {body: ok}\n"})
    (root / "deep.json").write_text(f'[{{"request": {{"path": "/deep"}}, "response": {{"json": {nested}}}}}]')
    result = run_cli("validate", str(root), timeout=30)
    assert "Traceback" not in result.stderr, result.stderr[-500:]
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["deep.json: invalid JSON: arrays and objects nest deeper than 100 levels"]


def test_an_admin_yaml_body_nested_too_deep_is_a_400(stuntman):
    import urllib.error
    import urllib.request

    st = stuntman({}, admin_port=0)
    req = urllib.request.Request(st.admin_url + "/__admin/mappings", method="POST",
                                 data=deep_stub(990, "block").encode(),
                                 headers={"Content-Type": "application/yaml"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=10)
    assert caught.value.code == 400
    assert "collections nest deeper than 100 levels" in caught.value.read().decode()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_admin_max_body_bytes_from_the_command_line_or_the_env(cli_server, tmp_path, how):
    admin = free_port()
    stubs = str(_stub_dir(tmp_path))
    if how == "flag":
        cli_server("--stubs", stubs, "--admin-port", str(admin), "--admin-max-body-bytes", "4096")
    else:
        cli_server("--stubs", stubs, "--admin-port", str(admin), env={"STUNTMAN_ADMIN_MAX_BODY_BYTES": "4096"})
    wait_port(admin)
    body = json.dumps({"request": {"path": "/big"}, "response": {"body": "x" * 5000}})
    status, _, answer = call(admin, "POST", "/__admin/mappings", body, {"Content-Type": "application/json"})
    assert status == 413 and json.loads(answer)["limit"] == 4096


def test_a_path_template_naming_a_parameter_twice_is_refused_everywhere(tmp_path, stuntman):
    """`/x/{a}/{a}` compiled to a regex with one group name twice: validate printed a traceback, and
    POST /__admin/mappings and requests/count answered 500. Now one error naming the field."""
    root = write_stubs(tmp_path / "stubs", {"dup.yaml": '- request: {path: "/x/{a}/{a}"}\n  response: {body: ok}\n'})
    result = run_cli("validate", str(root))
    assert "Traceback" not in result.stderr and result.returncode == 1
    assert result.stdout.splitlines()[0] == \
        "dup.yaml:1: [0].request.path: path parameter {a} appears more than once: name each segment apart"
    st = stuntman({}, admin_port=0)
    port = st.server.admin_port
    for path, body in [("/__admin/mappings", {"request": {"path": "/x/{a}/{a}"}, "response": {}}),
                       ("/__admin/requests/count", {"path": "/x/{a}/{a}"})]:
        status, _, answer = call(port, "POST", path, json.dumps(body), {"Content-Type": "application/json"})
        assert status == 400 and b"appears more than once" in answer, (path, status, answer)
