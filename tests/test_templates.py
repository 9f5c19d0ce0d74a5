"""Response templates end to end: {{...}} expressions and filters, faker seeding, load errors."""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from datetime import datetime
from urllib.parse import quote

import pytest

from conftest import call, run_cli, write_stubs
from stuntman.config.loader import ConfigErrors
from stuntman.server import Server
from stuntman.settings import Settings

DOC = json.dumps({"a": {"b": ["first", "second"]}, "name": "Ada"})

# (expression, request: method path body headers, expected rendering)
EXPRESSIONS = {
    "path": ("{{path.id}}", ("GET", "/t/42", None, {}), "42"),
    "query": ("{{query.q}}", ("GET", "/t/1?q=hello", None, {}), "hello"),
    "header": ("{{headers.x-name}}", ("GET", "/t/1", None, {"X-Name": "Bob"}), "Bob"),
    "header-name-any-case": ("{{headers.X-NAME}}", ("GET", "/t/1", None, {"x-name": "Bob"}), "Bob"),
    "body": ("{{body}}", ("POST", "/t/1", b"plain text", {}), "plain text"),
    "body-json-field": ("{{body.name}}", ("POST", "/t/1", DOC, {}), "Ada"),
    "body-json-array-item": ("{{body.a.b.0}}", ("POST", "/t/1", DOC, {}), "first"),
    "body-json-last-item": ("{{body.a.b.-1}}", ("POST", "/t/1", DOC, {}), "second"),
    "request.method": ("{{request.method}}", ("DELETE", "/t/1", None, {}), "DELETE"),
    "request.path": ("{{request.path}}", ("GET", "/t/1?x=1", None, {}), "/t/1"),
    "request.url": ("{{request.url}}", ("GET", "/t/1?x=1", None, {}), "/t/1?x=1"),
    "default-when-missing": ("{{query.q | default 'none'}}", ("GET", "/t/1", None, {}), "none"),
    "default-when-empty": ("{{query.q | default 'none'}}", ("GET", "/t/1?q=", None, {}), "none"),
    "default-double-quotes": ('{{query.q | default "n/a"}}', ("GET", "/t/1", None, {}), "n/a"),
    "default-not-used": ("{{query.q | default 'none'}}", ("GET", "/t/1?q=set", None, {}), "set"),
    "upper": ("{{query.q | upper}}", ("GET", "/t/1?q=hello", None, {}), "HELLO"),
    "lower": ("{{headers.x-name | lower}}", ("GET", "/t/1", None, {"X-Name": "BoB"}), "bob"),
    "json-string": ("{{query.q | json}}", ("GET", "/t/1?q=hi", None, {}), '"hi"'),
    "json-object": ("{{body.a | json}}", ("POST", "/t/1", DOC, {}), '{"b": ["first", "second"]}'),
    "json-missing": ("{{query.q | json}}", ("GET", "/t/1", None, {}), "null"),
    "filter-chain": ("{{query.q | default 'x' | upper}}", ("GET", "/t/1", None, {}), "X"),
    "missing-is-empty": ("<{{query.q}}>", ("GET", "/t/1", None, {}), "<>"),
}


def _echo_stub(expression: str, where: str) -> str:
    """A stub on /t/{id} that renders `expression` in the body or in an X-Out header."""
    expr = expression.replace("'", "''")
    if where == "body":
        return f"""
            - request: {{path: "/t/{{id}}"}}
              response: {{body: '{expr}'}}
        """
    return f"""
        - request: {{path: "/t/{{id}}"}}
          response: {{headers: {{X-Out: '{expr}'}}, body: fixed}}
    """


@pytest.mark.parametrize("where", ["body", "header"])
@pytest.mark.parametrize("name", EXPRESSIONS)
def test_expression(stuntman, name, where):
    expression, (method, path, body, headers), expected = EXPRESSIONS[name]
    st = stuntman({"t.yaml": _echo_stub(expression, where)})
    status, got_headers, got_body = call(st.port, method, path, body, headers)
    assert status == 200
    if where == "body":
        assert got_body.decode() == expected
    else:
        assert (got_headers.get("x-out"), got_body) == (expected, b"fixed")


@pytest.mark.parametrize("where", ["body", "header"])
def test_now(stuntman, where):
    st = stuntman({"t.yaml": _echo_stub("{{now}}|{{now.epoch}}|{{now.epochMs}}|{{now.date}}", where)})
    _, headers, body = call(st.port, "GET", "/t/1")
    text = body.decode() if where == "body" else headers["x-out"]
    iso, epoch, epoch_ms, date = text.split("|")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", iso)
    assert re.fullmatch(r"\d{10}", epoch) and re.fullmatch(r"\d{13}", epoch_ms)
    assert date == iso[:10]
    assert datetime.fromisoformat(iso.replace("Z", "+00:00")).tzinfo is not None


@pytest.mark.parametrize("where", ["body", "header"])
def test_uuid_is_fresh_v4_per_request(stuntman, where):
    st = stuntman({"t.yaml": _echo_stub("{{uuid}}", where)})
    seen = []
    for _ in range(2):
        _, headers, body = call(st.port, "GET", "/t/1")
        seen.append(uuid.UUID(body.decode() if where == "body" else headers["x-out"]))
    assert all(u.version == 4 for u in seen)
    assert seen[0] != seen[1]


def test_json_response_fields_are_templated(stuntman):
    st = stuntman({"t.yaml": """
        - request: {path: "/users/{id}"}
          response:
            json: {id: "{{path.id}}", tag: "user-{{query.tag | upper}}", fixed: 3, list: ["{{request.method}}"]}
    """})
    status, headers, body = call(st.port, "GET", "/users/7?tag=vip")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"id": "7", "tag": "user-VIP", "fixed": 3, "list": ["GET"]}


@pytest.mark.parametrize("value", ['say "hi"', "back\\slash", "line\nbreak", 'tab\t"\\"', "ünïcödé ✓"])
def test_json_body_escapes_values(stuntman, value):
    """A query value with quotes, backslashes or control characters still yields valid JSON."""
    st = stuntman({"t.yaml": """
        - request: {path: /echo}
          response: {json: {q: "{{query.q}}", n: 1}}
    """})
    status, _, body = call(st.port, "GET", "/echo?q=" + quote(value))
    assert status == 200
    assert json.loads(body) == {"q": value, "n": 1}


def test_header_template_cannot_inject_headers(stuntman):
    """CR/LF in a templated header value must not split the response (no injected header)."""
    st = stuntman({"t.yaml": """
        - request: {path: /echo}
          response: {headers: {X-Out: "{{query.q}}"}, body: fixed}
    """})
    status, headers, body = call(st.port, "GET", "/echo?q=" + quote("a\r\nX-Injected: yes"))
    assert status == 200 and body == b"fixed"
    assert "x-injected" not in headers


def test_template_false_serves_braces_literally(stuntman):
    st = stuntman({"t.yaml": """
        - request: {path: /raw}
          response: {body: "{{path.id}} stays", template: false}
    """})
    assert call(st.port, "GET", "/raw")[2] == b"{{path.id}} stays"


# -- faker ------------------------------------------------------------------------------------

FAKER_STUB = """
    - name: person
      {seed}
      request: {{path: /person}}
      response:
        json: {{name: "{{{{faker.name}}}}", email: "{{{{faker.email}}}}", city: "{{{{faker.city}}}}"}}
"""


def _faker_run(stuntman, seed_line: str, requests: int = 3) -> list[dict]:
    st = stuntman({"f.yaml": FAKER_STUB.format(seed=seed_line)})
    return [json.loads(call(st.port, "GET", "/person")[2]) for _ in range(requests)]


@pytest.mark.parametrize("seed_line", ["seed: 7", ""], ids=["explicit-seed", "seed-from-name"])
def test_faker_same_seed_same_sequence(stuntman, seed_line):
    """Two fresh servers from the same stub answer the same request sequence identically."""
    first = _faker_run(stuntman, seed_line)
    second = _faker_run(stuntman, seed_line)
    assert first == second
    assert len({p["name"] for p in first}) > 1  # values advance from request to request
    assert all("@" in p["email"] and p["city"] for p in first)


def test_faker_different_seed_different_output(stuntman):
    assert _faker_run(stuntman, "seed: 7") != _faker_run(stuntman, "seed: 8")


# -- load errors ------------------------------------------------------------------------------

def _load(tmp_path, text: str) -> None:
    root = write_stubs(tmp_path / "stubs", {"t.yaml": text})
    Server(replace(Settings(), stubs=root, port=0, admin_port=None)).load()


@pytest.mark.parametrize("response, field, message", [
    ('{body: "x {{nosuch.thing}}"}', "response.body", "unknown template expression 'nosuch.thing'"),
    ('{body: "{{path}}"}', "response.body", "unknown template expression 'path'"),
    ('{json: {a: "{{request.nope}}"}}', "response.json", "unknown template expression 'request.nope'"),
    ('{body: "{{faker.nosuchprovider}}"}', "response.body", "unknown faker provider 'nosuchprovider'"),
    ('{headers: {X-A: "{{faker.nosuchprovider}}"}}', "response.headers", "unknown faker provider"),
    ('{body: "{{query.q | bogus}}"}', "response.body", "unknown template filter 'bogus'"),
], ids=["expression", "bare-root", "json", "faker-body", "faker-header", "filter"])
def test_unknown_template_is_load_error(tmp_path, response, field, message):
    with pytest.raises(ConfigErrors) as exc:
        _load(tmp_path, f"name: t\nrequest: {{path: /t}}\nresponse: {response}\n")
    [error] = exc.value.errors
    assert error.file == "t.yaml"
    assert error.field.startswith(field)
    assert message in error.message


def test_unknown_template_in_sequence_names_its_index(tmp_path):
    with pytest.raises(ConfigErrors) as exc:
        _load(tmp_path, """
            name: t
            request: {path: /t}
            responses:
              - body: fine
              - body: "{{nope}}"
        """)
    [error] = exc.value.errors
    assert error.field == "responses[1].body"


def test_unknown_template_in_list_file_names_stub_index(tmp_path):
    """Field paths are paths inside the file: in a list of stubs they start with the index."""
    with pytest.raises(ConfigErrors) as exc:
        _load(tmp_path, """
            - name: fine
              request: {path: /a}
              response: {body: ok}
            - name: broken
              request: {path: /b}
              response: {body: "{{nope}}"}
        """)
    [error] = exc.value.errors
    assert error.field == "[1].response.body"


def test_validate_prints_file_and_line_of_template_error(tmp_path):
    root = write_stubs(tmp_path / "stubs", {"t.yaml": """\
        name: t
        request: {path: /t}
        response:
          status: 200
          body: "hello {{faker.nosuchprovider}}"
    """})
    result = run_cli("validate", str(root))
    assert result.returncode == 1
    assert "t.yaml:5: response.body: unknown faker provider 'nosuchprovider'" in result.stdout
