"""Request matching end to end: stubs loaded from YAML, requests over real sockets."""
from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import quote

import pytest

from conftest import call, run_cli, write_stubs

# -- string matchers on query, headers and body ---------------------------------------------

# name: (matcher as written in YAML, a value that matches, a value that does not); None = not sent
MATCHERS = {
    "equals": ("{equals: abc}", "abc", "abcd"),
    "plain-string-is-equals": ("abc", "abc", "ABC"),
    "contains": ("{contains: bc}", "xbcx", "xbxc"),
    "regex": ("{regex: '^a[0-9]+$'}", "a123", "a12b"),
    "absent": ("{absent: true}", None, "x"),
    "present": ("{present: true}", "anything", None),
    "anyOf": ("{anyOf: [red, {regex: '^bl'}]}", "blue", "green"),
    "allOf": ("{allOf: [{contains: a}, {contains: b}]}", "cab", "car"),
    "not": ("{not: {equals: x}}", "y", "x"),
    "ignoreCase-equals": ("{equals: Hello, ignoreCase: true}", "hELLO", "hELLO!"),
    "ignoreCase-contains": ("{contains: Ell, ignoreCase: true}", "oh hello", "help"),
}

LOCATIONS = {
    "query": "query: {v: %s}",
    "headers": "headers: {X-V: %s}",
    "body": "body: %s",
}


def _send(port, location, value):
    if location == "query":
        path = "/m" if value is None else f"/m?v={quote(value)}"
        return call(port, "POST", path)
    if location == "headers":
        return call(port, "POST", "/m", headers={} if value is None else {"X-V": value})
    return call(port, "POST", "/m", body=None if value is None else value.encode())


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize("expect_match", [True, False], ids=["match", "no-match"])
@pytest.mark.parametrize("name", MATCHERS)
def test_string_matcher(stuntman, name, expect_match, location):
    """Each matcher accepts its positive value and rejects its negative one, wherever it is used."""
    matcher, good, bad = MATCHERS[name]
    st = stuntman({"m.yaml": f"""
        - name: m
          request:
            path: /m
            {LOCATIONS[location] % matcher}
          response: {{body: matched}}
    """})
    status, headers, body = _send(st.port, location, good if expect_match else bad)
    if expect_match:
        assert (status, body) == (200, b"matched")
    else:
        assert status == 404 and headers["x-stuntman-match"] == "none"


def test_query_matcher_accepts_any_of_repeated_values(stuntman):
    """?v=a&v=b satisfies `v: b`: one of the repeated values is enough."""
    st = stuntman({"m.yaml": """
        - request: {path: /m, query: {v: b}}
          response: {body: matched}
    """})
    assert call(st.port, "GET", "/m?v=a&v=b")[0] == 200
    assert call(st.port, "GET", "/m?v=a&v=c")[0] == 404


def test_header_names_are_case_insensitive(stuntman):
    st = stuntman({"m.yaml": """
        - request: {path: /m, headers: {x-api-KEY: secret}}
          response: {body: matched}
    """})
    assert call(st.port, "GET", "/m", headers={"X-Api-Key": "secret"})[0] == 200
    assert call(st.port, "GET", "/m", headers={"X-Api-Key": "SECRET"})[0] == 404


# -- methods ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method_yaml, accepted, rejected", [
    ("POST", ["POST"], ["GET", "PUT"]),
    ("[PUT, PATCH]", ["PUT", "PATCH"], ["POST", "DELETE"]),
    ("ANY", ["GET", "POST", "DELETE", "OPTIONS", "PATCH"], []),
    ("get", ["GET"], ["POST"]),
], ids=["string", "list", "ANY", "lower-case"])
def test_method(stuntman, method_yaml, accepted, rejected):
    st = stuntman({"m.yaml": f"""
        - request: {{method: {method_yaml}, path: /m}}
          response: {{body: matched}}
    """})
    for method in accepted:
        assert call(st.port, method, "/m")[0] == 200, method
    for method in rejected:
        assert call(st.port, method, "/m")[0] == 404, method


def test_head_matches_get_stub_without_body(stuntman):
    """HEAD is answered by a GET stub: same status and headers, no body."""
    st = stuntman({"m.yaml": """
        - request: {method: GET, path: /m}
          response: {status: 201, headers: {X-Kind: get-stub}, body: hello}
    """})
    status, headers, body = call(st.port, "HEAD", "/m")
    assert (status, headers["x-kind"], body) == (201, "get-stub", b"")
    assert headers["content-length"] == "5"


def test_head_does_not_match_post_stub(stuntman):
    st = stuntman({"m.yaml": """
        - request: {method: POST, path: /m}
          response: {body: hello}
    """})
    assert call(st.port, "HEAD", "/m")[0] == 404


# -- paths ------------------------------------------------------------------------------------

def test_exact_path(stuntman):
    st = stuntman({"m.yaml": """
        - request: {path: /api/items}
          response: {body: matched}
    """})
    assert call(st.port, "GET", "/api/items")[0] == 200
    assert call(st.port, "GET", "/api/items?any=query")[0] == 200
    for other in ("/api/items/", "/api/item", "/api/items/1", "/API/items"):
        assert call(st.port, "GET", other)[0] == 404, other


def test_path_template_two_params(stuntman):
    st = stuntman({"m.yaml": """
        - request: {path: "/users/{id}/orders/{order}"}
          response: {body: "{{path.id}}|{{path.order}}"}
    """})
    assert call(st.port, "GET", "/users/u1/orders/7")[2] == b"u1|7"


def test_path_template_decodes_percent_encoding(stuntman):
    """/users/john%20doe → path.id is "john doe"."""
    st = stuntman({"m.yaml": """
        - request: {path: "/users/{id}"}
          response: {body: "id=[{{path.id}}]"}
    """})
    status, _, body = call(st.port, "GET", "/users/john%20doe")
    assert (status, body) == (200, b"id=[john doe]")


@pytest.mark.parametrize("path", ["/users/", "/users", "/users/a/b", "/people/a"])
def test_path_template_needs_exactly_one_nonempty_segment(stuntman, path):
    st = stuntman({"m.yaml": """
        - request: {path: "/users/{id}"}
          response: {body: matched}
    """})
    assert call(st.port, "GET", path)[0] == 404


def test_path_template_with_partial_segment(stuntman):
    st = stuntman({"m.yaml": """
        - request: {path: "/files/{name}.json"}
          response: {body: "{{path.name}}"}
    """})
    assert call(st.port, "GET", "/files/report.json")[2] == b"report"
    assert call(st.port, "GET", "/files/report.xml")[0] == 404


def test_path_regex_named_groups_in_template(stuntman):
    st = stuntman({"m.yaml": r"""
        - request: {pathRegex: '/orders/(?P<year>\d{4})/(?P<num>\d+)'}
          response: {body: "{{path.year}}-{{path.num}}"}
    """})
    status, _, body = call(st.port, "GET", "/orders/2024/17")
    assert (status, body) == (200, b"2024-17")


@pytest.mark.parametrize("path", ["/orders/24/17", "/orders/2024/x", "/orders/2024/17/extra", "/x/orders/2024/1"])
def test_path_regex_must_match_whole_path(stuntman, path):
    st = stuntman({"m.yaml": r"""
        - request: {pathRegex: '/orders/(?P<year>\d{4})/(?P<num>\d+)'}
          response: {body: matched}
    """})
    assert call(st.port, "GET", path)[0] == 404


def test_path_prefix(stuntman):
    st = stuntman({"m.yaml": """
        - request: {pathPrefix: /static/}
          response: {body: "{{request.path}}"}
    """})
    assert call(st.port, "GET", "/static/css/site.css")[2] == b"/static/css/site.css"
    assert call(st.port, "GET", "/static/")[0] == 200
    for other in ("/static", "/stat", "/api/static/x"):
        assert call(st.port, "GET", other)[0] == 404, other


# -- JSON bodies ------------------------------------------------------------------------------

JSON_CASES = [
    # (matcher flags, request body, should match)
    ("", {"b": [1, 2], "a": {"y": 2, "x": 1}}, True),           # key order is irrelevant
    ("", {"a": {"x": 1, "y": 2}, "b": [1, 2], "c": 3}, False),   # extra key
    ("", {"a": {"x": 1}, "b": [1, 2]}, False),                   # missing key
    ("", {"a": {"x": 1, "y": 2}, "b": [2, 1]}, False),           # array order matters
    ("", {"a": {"x": 1, "y": "2"}, "b": [1, 2]}, False),         # "2" is not 2
    ("ignoreExtraElements: true", {"a": {"x": 1, "y": 2, "z": 0}, "b": [1, 2], "c": 3}, True),
    ("ignoreExtraElements: true", {"a": {"x": 1}, "b": [1, 2], "c": 3}, False),
    ("ignoreExtraElements: true", {"a": {"x": 1, "y": 3}, "b": [1, 2]}, False),
    ("ignoreArrayOrder: true", {"a": {"x": 1, "y": 2}, "b": [2, 1]}, True),
    ("ignoreArrayOrder: true", {"a": {"x": 1, "y": 2}, "b": [2, 2]}, False),
    ("ignoreArrayOrder: true", {"a": {"x": 1, "y": 2}, "b": [2, 1, 3]}, False),
]


@pytest.mark.parametrize("flags, sent, matches", JSON_CASES)
def test_body_json(stuntman, flags, sent, matches):
    st = stuntman({"m.yaml": f"""
        - request:
            path: /m
            body: {{json: {{a: {{x: 1, y: 2}}, b: [1, 2]}}{", " + flags if flags else ""}}}
          response: {{body: matched}}
    """})
    status = call(st.port, "POST", "/m", body=json.dumps(sent))[0]
    assert status == (200 if matches else 404)


def test_body_json_ignore_order_and_extra_pairs_elements_correctly(stuntman):
    """With both flags each expected element needs its own actual element, whatever the order:
    [{a:1}, {a:1, b:2}] is satisfied by [{a:1, b:2}, {a:1}]."""
    st = stuntman({"m.yaml": """
        - request:
            path: /m
            body: {json: [{a: 1}, {a: 1, b: 2}], ignoreExtraElements: true, ignoreArrayOrder: true}
          response: {body: matched}
    """})
    assert call(st.port, "POST", "/m", body=b'[{"a": 1, "b": 2}, {"a": 1}]')[0] == 200
    assert call(st.port, "POST", "/m", body=b'[{"a": 1}, {"a": 1}]')[0] == 404


@pytest.mark.parametrize("sent, matches", [
    (b'{"n": 1.0, "ok": true}', True),
    (b'{"n": 1, "ok": 1}', False),
    (b'{"n": "1", "ok": true}', False),
])
def test_body_json_number_and_boolean_types(stuntman, sent, matches):
    """JSON numbers compare by value (1 == 1.0); true is not 1 and "1" is not 1."""
    st = stuntman({"m.yaml": """
        - request: {path: /m, body: {json: {n: 1, ok: true}}}
          response: {body: matched}
    """})
    assert call(st.port, "POST", "/m", body=sent)[0] == (200 if matches else 404)

def test_body_json_rejects_non_json(stuntman):
    st = stuntman({"m.yaml": """
        - request: {path: /m, body: {json: {a: 1}}}
          response: {body: matched}
    """})
    assert call(st.port, "POST", "/m", body=b"a=1")[0] == 404
    assert call(st.port, "POST", "/m", body=b'{"a": 1}')[0] == 200


@pytest.mark.parametrize("items, matches", [
    ([{"qty": 0}, {"qty": 2}], True),
    ([{"qty": 0}, {"qty": -1}], False),
    ([], False),
])
def test_body_json_path_filter(stuntman, items, matches):
    st = stuntman({"m.yaml": """
        - request: {path: /m, body: {jsonPath: "$.items[?@.qty > 0]"}}
          response: {body: matched}
    """})
    status = call(st.port, "POST", "/m", body=json.dumps({"items": items}))[0]
    assert status == (200 if matches else 404)


@pytest.mark.parametrize("role, matches", [("admin", True), ("owner", True), ("guest", False)])
def test_body_json_path_with_matcher(stuntman, role, matches):
    st = stuntman({"m.yaml": """
        - request:
            path: /m
            body:
              jsonPath: {expression: $.user.role, matches: {anyOf: [admin, owner]}}
          response: {body: matched}
    """})
    status = call(st.port, "POST", "/m", body=json.dumps({"user": {"role": role}}))[0]
    assert status == (200 if matches else 404)


def test_body_json_path_matcher_on_number(stuntman):
    """A non-string value is matched as its JSON text."""
    st = stuntman({"m.yaml": """
        - request:
            path: /m
            body: {jsonPath: {expression: $.total, matches: {regex: '^[0-9]+$'}}}
          response: {body: matched}
    """})
    assert call(st.port, "POST", "/m", body=b'{"total": 250}')[0] == 200
    assert call(st.port, "POST", "/m", body=b'{"total": 2.5}')[0] == 404


@pytest.mark.parametrize("form, matches", [
    ("name=john+doe&age=42", True),
    ("age=42&name=john%20doe", True),
    ("name=john+doe&age=forty", False),
    ("name=john+doe&age=42&debug=1", False),
    ("age=42", False),
])
def test_body_form_fields(stuntman, form, matches):
    st = stuntman({"m.yaml": """
        - request:
            path: /m
            body:
              form: {name: john doe, age: {regex: '^[0-9]+$'}, debug: {absent: true}}
          response: {body: matched}
    """})
    status = call(st.port, "POST", "/m", body=form.encode(),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})[0]
    assert status == (200 if matches else 404)


# -- priority and ties ------------------------------------------------------------------------

def test_lower_priority_number_wins(stuntman):
    st = stuntman({"m.yaml": """
        - name: general
          priority: 5
          request: {path: /p}
          response: {body: general}
        - name: preferred
          priority: 1
          request: {path: /p}
          response: {body: preferred}
    """})
    assert call(st.port, "GET", "/p")[2] == b"preferred"


def test_priority_beats_specificity(stuntman):
    """A low priority number wins even over a more specific stub."""
    st = stuntman({"m.yaml": """
        - name: specific
          request: {method: GET, path: /p/1, headers: {X-A: a}}
          response: {body: specific}
        - name: catch-all
          priority: 1
          request: {pathPrefix: /p}
          response: {body: catch-all}
    """})
    assert call(st.port, "GET", "/p/1", headers={"X-A": "a"})[2] == b"catch-all"


@pytest.mark.parametrize("first, second, request_path, headers, winner", [
    ("{path: '/p/{id}'}", "{path: /p/1}", "/p/1", {}, b"second"),              # exact beats template
    ("{pathPrefix: /p}", "{path: '/p/{id}'}", "/p/1", {}, b"second"),         # template beats prefix
    ("{pathRegex: '/p/.*'}", "{pathPrefix: /p/}", "/p/1", {}, b"second"),     # prefix beats regex
    ("{pathPrefix: /p}", "{pathPrefix: /p/1}", "/p/1", {}, b"second"),        # longer prefix wins
    ("{path: /p/1}", "{path: /p/1, method: GET}", "/p/1", {}, b"second"),     # a method beats ANY
    ("{path: /p/1}", "{path: /p/1, headers: {X-A: a}}", "/p/1", {"X-A": "a"}, b"second"),
    ("{path: /p/1}", "{path: /p/1, query: {q: x}}", "/p/1?q=x", {}, b"second"),
    ("{path: /p/1}", "{path: /p/1}", "/p/1", {}, b"first"),                   # then file order
], ids=["exact>template", "template>prefix", "prefix>regex", "longer-prefix", "method",
        "header", "query", "file-order"])
def test_tie_more_specific_then_file_order(stuntman, first, second, request_path, headers, winner):
    st = stuntman({"m.yaml": f"""
        - request: {first}
          response: {{body: first}}
        - request: {second}
          response: {{body: second}}
    """})
    assert call(st.port, "GET", request_path, headers=headers)[2] == winner


def test_tie_file_order_across_files(stuntman):
    """Files load in path order: a.yaml's stub comes before b.yaml's."""
    st = stuntman({
        "b.yaml": "- {request: {path: /p}, response: {body: b}}",
        "a.yaml": "- {request: {path: /p}, response: {body: a}}",
    })
    assert call(st.port, "GET", "/p")[2] == b"a"


def test_more_specific_stub_falls_back_when_it_does_not_match(stuntman):
    st = stuntman({"m.yaml": """
        - request: {path: /p, headers: {X-A: a}}
          response: {body: with-header}
        - request: {path: /p}
          response: {body: plain}
    """})
    assert call(st.port, "GET", "/p", headers={"X-A": "a"})[2] == b"with-header"
    assert call(st.port, "GET", "/p", headers={"X-A": "b"})[2] == b"plain"


# -- many stubs -------------------------------------------------------------------------------

def test_thousand_stubs_all_resolve(stuntman):
    """1,000 exact, template and regex stubs: every request lands on its own stub."""
    stubs, expected = [], {}
    for i in range(1000):
        kind = i % 3
        if kind == 0:
            stubs.append(f"- {{request: {{path: /items/{i}}}, response: {{body: exact-{i}}}}}")
            expected[f"/items/{i}"] = f"exact-{i}"
        elif kind == 1:
            stubs.append(f"- {{request: {{path: '/items/{i}/{{id}}'}}, response: {{body: 'tpl-{i}:{{{{path.id}}}}'}}}}")
            expected[f"/items/{i}/v{i * 3}"] = f"tpl-{i}:v{i * 3}"
        else:
            stubs.append(f"- {{request: {{pathRegex: '/items/{i}/n/(?P<n>[0-9]+)'}}, "
                         f"response: {{body: 'rx-{i}:{{{{path.n}}}}'}}}}")
            expected[f"/items/{i}/n/{i * 7}"] = f"rx-{i}:{i * 7}"
    st = stuntman({"many.yaml": "\n".join(stubs) + "\n"})
    conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=10)
    wrong = {}
    for path, body in expected.items():
        conn.request("GET", path)
        resp = conn.getresponse()
        got = resp.read().decode()
        if (resp.status, got) != (200, body):
            wrong[path] = (resp.status, got[:60])
    conn.close()
    assert wrong == {}
    assert call(st.port, "GET", "/items/1000")[0] == 404


# -- limits and misses ------------------------------------------------------------------------

def test_body_over_limit_on_body_route_is_413(stuntman):
    st = stuntman({"m.yaml": """
        - request: {method: POST, path: /m, body: {contains: needle}}
          response: {body: matched}
    """}, max_body_bytes=1000)
    status, _, body = call(st.port, "POST", "/m", body=b"needle" + b"x" * 5000)
    assert status == 413
    assert b"1000" in body


def test_body_over_limit_is_fine_when_route_ignores_body(stuntman):
    st = stuntman({"m.yaml": """
        - request: {method: POST, path: /m}
          response: {body: matched}
    """}, max_body_bytes=1000)
    status, _, body = call(st.port, "POST", "/m", body=b"x" * 5000)
    assert (status, body) == (200, b"matched")


def test_body_over_limit_only_413_when_a_route_that_could_match_needs_it(stuntman):
    """A POST stub that matches on the body must not turn a big PUT (its own stub ignores bodies) into 413."""
    st = stuntman({"m.yaml": """
        - request: {method: POST, path: /m, body: {contains: needle}}
          response: {body: post}
        - request: {method: PUT, path: /m}
          response: {body: put}
    """}, max_body_bytes=1000)
    status, _, body = call(st.port, "PUT", "/m", body=b"x" * 5000)
    assert (status, body) == (200, b"put")


def test_a_declared_body_over_the_limit_on_a_body_route_is_413_before_the_body_arrives(stuntman):
    """Content-Length already says the body will not be kept: answer 413 at once instead of
    waiting for bytes it would drop (the client sends none here: it waits for the answer)."""
    import socket

    st = stuntman({"m.yaml": """
        - request: {method: POST, path: /m, body: {contains: needle}}
          response: {body: matched}
    """}, max_body_bytes=1000)
    with socket.create_connection(("127.0.0.1", st.port), timeout=3) as sock:
        sock.sendall(b"POST /m HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")


def test_a_body_over_the_limit_on_a_route_that_answers_with_it_is_413(stuntman):
    """A template that reads the body cannot render a body that was let go: 413, whether the
    Content-Length says so up front or the body turns out too long (chunked)."""
    import socket

    st = stuntman({"m.yaml": """
        - request: {method: POST, path: /echo}
          response: {body: "got {{body}}"}
    """}, max_body_bytes=1000)
    status, _, body = call(st.port, "POST", "/echo", body=b"small")
    assert (status, body) == (200, b"got small")
    with socket.create_connection(("127.0.0.1", st.port), timeout=3) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")
    with socket.create_connection(("127.0.0.1", st.port), timeout=3) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + b"800\r\n" + b"x" * 2048 + b"\r\n0\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")


NEAR_STUBS = """
    - name: list-orders
      request: {method: GET, path: /api/orders}
      response: {body: orders}
    - name: get-user
      request:
        method: GET
        path: "/api/users/{id}"
        headers: {Accept: {contains: json}}
      response: {body: user}
"""


def test_unmatched_names_nearest_stub_and_differing_field(stuntman):
    st = stuntman({"m.yaml": NEAR_STUBS})
    status, headers, body = call(st.port, "GET", "/api/users/7", headers={"Accept": "text/html"})
    assert status == 404
    assert headers["x-stuntman-match"] == "none"
    text = body.decode()
    first = text.split("nearest:")[1]
    assert first.lstrip().startswith("get-user")
    assert "headers.accept" in first and "text/html" in first
    assert "path:" not in first


def test_unmatched_json_report(stuntman):
    """With Accept: json the near-miss report is JSON, nearest first with its diff lines."""
    st = stuntman({"m.yaml": NEAR_STUBS})
    status, headers, body = call(st.port, "POST", "/api/orders", headers={"Accept": "application/json"})
    assert status == 404 and headers["x-stuntman-match"] == "none"
    report = json.loads(body)
    assert report["request"] == {"method": "POST", "url": "/api/orders"}
    nearest = report["nearest"][0]
    assert nearest["name"] == "list-orders"
    assert [d.split(":")[0] for d in nearest["diff"]] == ["method"]


def test_a_body_nested_too_deep_for_json_is_not_json_not_a_server_error(stuntman):
    """3,000 nested arrays (6 KB) exhaust Python's recursion in json.loads: the body is simply not
    JSON to the matchers and templates (no match, a 404 near miss), never a 500."""
    st = stuntman({"s.yaml": """
        - name: json
          request: {method: POST, path: /deep, body: {json: {ok: true}}}
          response: {body: matched}
        - name: any
          request: {method: POST, path: /echo}
          response: {body: "ok={{body.ok | default 'none'}}"}
    """})
    deep = b"[" * 3000 + b"]" * 3000
    status, _, body = call(st.port, "POST", "/deep", body=deep, headers={"Content-Type": "application/json"})
    assert status == 404 and b"body: expected body equals JSON" in body
    status, _, body = call(st.port, "POST", "/echo", body=deep)
    assert (status, body) == (200, b"ok=none")


# -- regexes run in linear time (RE2): a catastrophic pattern cannot freeze the data plane -----

# (the field reports: Python's backtracking re took 9 s on a 28-character path and 31 s on the header,
# holding the event loop, so every other request waited; two more a's here: 4x, for faster machines)
CATASTROPHIC = {
    "pathRegex": ("request: {pathRegex: '/r/(a+)+$'}", "/r/" + "a" * 26 + "!", {}),
    "header-regex": ("request: {path: /h, headers: {X-V: {regex: '^(a|aa)+$'}}}", "/h", {"X-V": "a" * 39 + "!"}),
}


def _timed(port, path, headers, out):
    """One GET with a socket timeout; `out` gets (status, seconds). Not a benchmark: a hang detector."""
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        out.append((resp.status, time.monotonic() - start))
    finally:
        conn.close()


@pytest.mark.parametrize("name", CATASTROPHIC)
def test_catastrophic_regex_answers_quickly_and_holds_no_one(stuntman, name):
    stub, path, headers = CATASTROPHIC[name]
    st = stuntman({"m.yaml": f"""
        - name: evil
          {stub}
          response: {{body: evil}}
        - name: plain
          request: {{path: /plain}}
          response: {{body: plain}}
    """})
    evil: list = []
    worker = threading.Thread(target=_timed, args=(st.port, path, headers, evil))
    worker.start()
    time.sleep(0.05)  # the evil request is in the matcher (or done) when the plain one arrives
    plain: list = []
    _timed(st.port, "/plain", {}, plain)
    worker.join(15)
    assert evil and evil[0][0] == 404 and evil[0][1] < 2, evil
    assert plain and plain[0][0] == 200 and plain[0][1] < 2, plain


def test_regex_matchers_still_match_with_re2(stuntman):
    """The syntax the docs use: named groups, (?i), anchors, classes; ignoreCase on a regex."""
    st = stuntman({"m.yaml": r"""
        - request: {pathRegex: '/u/(?P<id>\d+)/(?P<slug>[a-z-]+)\.json'}
          response: {body: "{{path.id}}:{{path.slug}}"}
        - request: {path: /i, headers: {X-V: {regex: '(?i)^bearer \w+$'}}}
          response: {body: inline-flag}
        - request: {path: /c, query: {q: {regex: '^ab+c$', ignoreCase: true}}}
          response: {body: ignore-case}
        - request: {path: /b, method: POST, body: {regex: 'é{2}\s'}}
          response: {body: unicode-body}
    """})
    assert call(st.port, "GET", "/u/42/a-b.json")[2] == b"42:a-b"
    assert call(st.port, "GET", "/u/42/a-b.jsonx")[0] == 404
    assert call(st.port, "GET", "/i", headers={"X-V": "BEARER tok"})[2] == b"inline-flag"
    assert call(st.port, "GET", "/i", headers={"X-V": "xBEARER tok"})[0] == 404
    assert call(st.port, "GET", "/c?q=ABBC")[2] == b"ignore-case"
    assert call(st.port, "POST", "/b", body="xéé y".encode())[2] == b"unicode-body"
    assert call(st.port, "POST", "/b", body="xé y".encode())[0] == 404


@pytest.mark.parametrize("expression, sent, matches", [
    ("$[?@.amount > 1000]", {"amount": 5000}, True),  # the object body itself (WireMock, Jayway)
    ("$[?@.amount > 1000]", {"amount": 10}, False),
    ("$[?@.amount > 1000]", {"amount": "5000"}, False),  # a string is not more than a number
    ("$[?(@.amount > 1000)]", {"amount": 5000}, True),  # Jayway's parentheses
    ("$ [ ?@.amount > 1000]", {"amount": 5000}, True),
    ("$[?@.amount > $.limit]", {"amount": 5000, "limit": 100}, True),  # `$` is still the body
    ("$[?@.amount > $.limit]", {"amount": 5000, "limit": 9000}, False),
    ("$[?@.amount > 1000]", {"order": {"amount": 5000}}, True),  # RFC 9535: a member matches
    ("$[?@.amount > 1000]", [{"amount": 5000}], True),  # RFC 9535: an element matches
    ("$[?@.amount > 1000]", [[{"amount": 5000}]], False),  # an array body is not tested itself
    ("$[?@.amount > 1000]", 5000, False),
    ("$.order[?@.amount > 1000]", {"order": {"amount": 5000}}, False),  # only a filter at the root
])
def test_body_json_path_filter_at_the_root_tests_an_object_body_itself(stuntman, expression, sent, matches):
    """RFC 9535 filters an object's member values, so `$[?@.amount > 1000]` never matched the
    body {"amount": 5000} (the demo's 402 answered 201); WireMock users write it and expect a match."""
    st = stuntman({"m.yaml": f"""
        - request: {{method: POST, path: /m, body: {{jsonPath: "{expression}"}}}}
          response: {{body: matched}}
    """})
    status = call(st.port, "POST", "/m", body=json.dumps(sent))[0]
    assert status == (200 if matches else 404)


def test_body_json_path_filter_at_the_root_then_a_matcher(stuntman):
    st = stuntman({"m.yaml": """
        - request:
            path: /m
            body: {jsonPath: {expression: "$[?@.amount > 1000].currency", matches: {equals: EUR}}}
          response: {body: matched}
    """})
    assert call(st.port, "POST", "/m", body=b'{"amount": 5000, "currency": "EUR"}')[0] == 200
    assert call(st.port, "POST", "/m", body=b'{"amount": 5000, "currency": "USD"}')[0] == 404
    assert call(st.port, "POST", "/m", body=b'{"amount": 50, "currency": "EUR"}')[0] == 404


def _posted(port, path, body, out):
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        out.append((resp.status, time.monotonic() - start))
    finally:
        conn.close()


@pytest.mark.parametrize("expression", ["$[?match(@.name, '(a+)+b')]", "$[?@.name =~ /(a+)+b/]",
                                        "$[?search(@.name, '^(a|aa)+$')]"])
def test_a_catastrophic_regex_in_a_json_path_filter_holds_no_one(stuntman, expression):
    """JSONPath's match()/search() and `=~ /re/` compiled with Python's re: `(a+)+b` against 24
    characters took 0.6 s and each one more doubles it, with the event loop held. They run on RE2."""
    st = stuntman({"m.yaml": f"""
        - name: evil
          request: {{method: POST, path: /j, body: {{jsonPath: "{expression}"}}}}
          response: {{body: evil}}
        - name: plain
          request: {{path: /plain}}
          response: {{body: plain}}
    """})
    evil: list = []
    body = json.dumps([{"name": "a" * 40 + "c"}])
    worker = threading.Thread(target=_posted, args=(st.port, "/j", body, evil))
    worker.start()
    time.sleep(0.05)
    plain: list = []
    _timed(st.port, "/plain", {}, plain)
    worker.join(15)
    assert evil and evil[0][0] == 404 and evil[0][1] < 2, evil
    assert plain and plain[0][0] == 200 and plain[0][1] < 2, plain


def test_json_path_regexes_still_match_on_re2_and_refuse_what_re2_cannot_run(stuntman, tmp_path):
    st = stuntman({"m.yaml": r"""
        - request: {method: POST, path: /m, body: {jsonPath: "$[?match(@.sku, 'AB-[0-9]{3}')]"}}
          response: {body: match}
        - request: {method: POST, path: /s, body: {jsonPath: "$[?search(@.note, 'urgent')]"}}
          response: {body: search}
        - request: {method: POST, path: /i, body: {jsonPath: "$[?@.name =~ /ada.*/i]"}}
          response: {body: literal}
    """})
    post = {"Content-Type": "application/json"}
    assert call(st.port, "POST", "/m", json.dumps([{"sku": "AB-123"}]), post)[2] == b"match"
    assert call(st.port, "POST", "/m", json.dumps([{"sku": "AB-1234"}]), post)[0] == 404  # match() is whole
    assert call(st.port, "POST", "/s", json.dumps([{"note": "very urgent"}]), post)[2] == b"search"
    assert call(st.port, "POST", "/i", json.dumps([{"name": "ADA Lovelace"}]), post)[2] == b"literal"
    assert call(st.port, "POST", "/i", json.dumps([{"name": "Grace"}]), post)[0] == 404
    root = write_stubs(tmp_path / "bad", {"b.yaml": r"""
        - request: {method: POST, path: /b, body: {jsonPath: "$[?@.a =~ /(a)\\1/]"}}
          response: {body: never}
    """})
    result = run_cli("validate", str(root))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot run in RE2" in result.stdout, result.stdout
