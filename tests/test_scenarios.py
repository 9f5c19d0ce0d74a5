"""Stateful stubs end to end: response sequences, scenarios, and their isolation per session."""
from __future__ import annotations

import http.client
import json

import pytest


def call(port, method="GET", path="/", body=None, headers=None):
    """One request on a fresh connection → (status, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def session(name: str | None, header: str = "X-Stuntman-Session") -> dict:
    return {} if name is None else {header: name}


# -- response sequences -----------------------------------------------------------------------

def _sequence_stub(mode: str) -> str:
    return f"""
        - name: seq
          request: {{path: /seq}}
          sequence: {mode}
          responses:
            - {{status: 503, body: one}}
            - {{status: 200, body: two}}
            - {{status: 201, body: three}}
    """


def test_sequence_last_repeats_the_last_response(stuntman):
    st = stuntman({"s.yaml": _sequence_stub("last")})
    got = [call(st.port, "GET", "/seq") for _ in range(5)]
    assert got == [(503, b"one"), (200, b"two"), (201, b"three"), (201, b"three"), (201, b"three")]


def test_sequence_cycle_starts_over(stuntman):
    st = stuntman({"s.yaml": _sequence_stub("cycle")})
    got = [call(st.port, "GET", "/seq")[1] for _ in range(7)]
    assert got == [b"one", b"two", b"three", b"one", b"two", b"three", b"one"]


def test_sequence_default_is_last(stuntman):
    st = stuntman({"s.yaml": """
        - request: {path: /seq}
          responses: [{body: one}, {body: two}]
    """})
    assert [call(st.port, "GET", "/seq")[1] for _ in range(3)] == [b"one", b"two", b"two"]


def test_sequences_of_two_stubs_advance_independently(stuntman):
    st = stuntman({"s.yaml": """
        - request: {path: /a}
          responses: [{body: a1}, {body: a2}]
        - request: {path: /b}
          responses: [{body: b1}, {body: b2}]
    """})
    got = [call(st.port, "GET", p)[1] for p in ("/a", "/b", "/a", "/b")]
    assert got == [b"a1", b"b1", b"a2", b"b2"]


def test_unmatched_request_does_not_advance_sequence(stuntman):
    st = stuntman({"s.yaml": """
        - request: {method: GET, path: /seq}
          responses: [{body: one}, {body: two}]
    """})
    assert call(st.port, "GET", "/seq")[1] == b"one"
    assert call(st.port, "POST", "/seq")[0] == 404
    assert call(st.port, "GET", "/seq")[1] == b"two"


# -- scenarios --------------------------------------------------------------------------------

TODO = """
    - name: list-initial
      scenario: todo
      requiredState: Started
      request: {method: GET, path: /todo}
      response: {json: [buy milk]}
    - name: add-item
      scenario: todo
      requiredState: Started
      newState: item-added
      request: {method: POST, path: /todo}
      response: {status: 201, body: added}
    - name: list-after-add
      scenario: todo
      requiredState: item-added
      request: {method: GET, path: /todo}
      response: {json: [buy milk, cancel newspaper]}
    - name: reset
      scenario: todo
      newState: Started
      request: {method: DELETE, path: /todo}
      response: {status: 204}
    - name: other-scenario
      scenario: other
      requiredState: Started
      request: {method: GET, path: /other}
      response: {body: other-started}
"""


def items(port, headers=None) -> list:
    status, body = call(port, "GET", "/todo", headers=headers)
    assert status == 200, body
    return json.loads(body)


def test_scenario_starts_in_started_state(stuntman):
    st = stuntman({"t.yaml": TODO})
    assert items(st.port) == ["buy milk"]


def test_scenario_new_state_switches_stubs(stuntman):
    st = stuntman({"t.yaml": TODO})
    assert call(st.port, "POST", "/todo") == (201, b"added")
    assert items(st.port) == ["buy milk", "cancel newspaper"]
    assert items(st.port) == ["buy milk", "cancel newspaper"]  # the state stays


def test_stub_requiring_another_state_does_not_match(stuntman):
    st = stuntman({"t.yaml": TODO})
    call(st.port, "POST", "/todo")
    assert call(st.port, "POST", "/todo")[0] == 404  # add-item needs Started


def test_stub_without_required_state_matches_in_any_state(stuntman):
    st = stuntman({"t.yaml": TODO})
    call(st.port, "POST", "/todo")
    assert call(st.port, "DELETE", "/todo")[0] == 204
    assert items(st.port) == ["buy milk"]
    assert call(st.port, "DELETE", "/todo")[0] == 204  # also from Started


def test_scenarios_are_independent_of_each_other(stuntman):
    st = stuntman({"t.yaml": TODO})
    call(st.port, "POST", "/todo")
    assert call(st.port, "GET", "/other") == (200, b"other-started")


def test_near_miss_names_scenario_state(stuntman):
    st = stuntman({"t.yaml": TODO})
    call(st.port, "POST", "/todo")
    status, body = call(st.port, "POST", "/todo")
    assert status == 404
    assert "needs state 'Started', is 'item-added'" in body.decode()


# -- sessions ---------------------------------------------------------------------------------

def test_sessions_have_independent_scenario_state(stuntman):
    st = stuntman({"t.yaml": TODO})
    a, b = session("a"), session("b")
    assert call(st.port, "POST", "/todo", headers=a)[0] == 201
    assert items(st.port, b) == ["buy milk"]
    assert items(st.port, a) == ["buy milk", "cancel newspaper"]
    assert call(st.port, "POST", "/todo", headers=b)[0] == 201
    assert call(st.port, "DELETE", "/todo", headers=a)[0] == 204
    assert items(st.port, a) == ["buy milk"]
    assert items(st.port, b) == ["buy milk", "cancel newspaper"]


def test_sessions_have_independent_sequence_positions(stuntman):
    st = stuntman({"s.yaml": _sequence_stub("last")})
    order = ["a", "b", "a", "a", "b", "a"]
    got = [(s, call(st.port, "GET", "/seq", headers=session(s))[1]) for s in order]
    assert got == [("a", b"one"), ("b", b"one"), ("a", b"two"), ("a", b"three"),
                   ("b", b"two"), ("a", b"three")]


def test_default_session_is_separate(stuntman):
    """Requests without the header share one partition, distinct from every named session."""
    st = stuntman({"t.yaml": TODO, "s.yaml": _sequence_stub("last")})
    call(st.port, "POST", "/todo", headers=session("a"))
    call(st.port, "GET", "/seq", headers=session("a"))
    assert items(st.port) == ["buy milk"]
    assert call(st.port, "GET", "/seq")[1] == b"one"
    call(st.port, "POST", "/todo")
    call(st.port, "GET", "/seq")
    assert items(st.port, session("b")) == ["buy milk"]
    assert call(st.port, "GET", "/seq", headers=session("b"))[1] == b"one"
    assert items(st.port) == ["buy milk", "cancel newspaper"]
    assert call(st.port, "GET", "/seq")[1] == b"three"


def test_session_header_name_is_case_insensitive(stuntman):
    st = stuntman({"t.yaml": TODO})
    call(st.port, "POST", "/todo", headers={"x-stuntman-session": "a"})
    assert items(st.port, {"X-STUNTMAN-SESSION": "a"}) == ["buy milk", "cancel newspaper"]


def test_custom_session_header(stuntman):
    st = stuntman({"t.yaml": TODO, "s.yaml": _sequence_stub("last")}, session_header="X-Test-Id")
    one, two = session("1", "X-Test-Id"), session("2", "X-Test-Id")
    call(st.port, "POST", "/todo", headers=one)
    assert items(st.port, one) == ["buy milk", "cancel newspaper"]
    assert items(st.port, two) == ["buy milk"]
    assert [call(st.port, "GET", "/seq", headers=h)[1] for h in (one, two, one)] == [b"one", b"one", b"two"]


def test_custom_session_header_replaces_the_default_one(stuntman):
    """With X-Test-Id as the session header, X-Stuntman-Session no longer partitions state."""
    st = stuntman({"t.yaml": TODO}, session_header="X-Test-Id")
    call(st.port, "POST", "/todo", headers=session("a"))
    assert items(st.port, session("b")) == ["buy milk", "cancel newspaper"]
    assert items(st.port) == ["buy milk", "cancel newspaper"]


def test_session_header_flag_on_cli(cli_server, tmp_path):
    (tmp_path / "t.yaml").write_text(TODO)
    _, port = cli_server("--stubs", str(tmp_path), "--session-header", "X-Test-Id")
    call(port, "POST", "/todo", headers={"X-Test-Id": "1"})
    assert items(port, {"X-Test-Id": "2"}) == ["buy milk"]
    assert items(port, {"X-Test-Id": "1"}) == ["buy milk", "cancel newspaper"]


@pytest.mark.parametrize("mode, expected", [("cycle", [b"one", b"two", b"three", b"one"]),
                                            ("last", [b"one", b"two", b"three", b"three"])])
def test_sequence_position_per_session_with_cycle_and_last(stuntman, mode, expected):
    st = stuntman({"s.yaml": _sequence_stub(mode)})
    got_a, got_b = [], []
    for _ in range(4):
        got_a.append(call(st.port, "GET", "/seq", headers=session("a"))[1])
        got_b.append(call(st.port, "GET", "/seq", headers=session("b"))[1])
    assert got_a == expected and got_b == expected


# -- setting a scenario's state through the admin API --------------------------------------------

def test_setting_an_unknown_scenario_or_state_is_a_400_naming_the_known_ones(stuntman):
    """A typo in a scenario's name or state was set silently and then matched nothing: now 400,
    in the admin API's error shape, listing what the stubs name; nothing changes."""
    from test_admin import api

    st = stuntman({"t.yaml": TODO}, admin_port=0)
    status, answer = api(st, "POST", "/__admin/scenarios", {"name": "tod", "state": "item-added"})
    assert status == 400 and answer["known"] == ["other", "todo"]
    assert answer["error"] == "no scenario is named 'tod': the stubs name 'other', 'todo'"
    assert answer["errors"] == [{"field": "name", "message": answer["error"]}]
    status, answer = api(st, "POST", "/__admin/scenarios", {"name": "todo", "state": "item-add", "session": "s1"})
    assert status == 400 and answer["known"] == ["Started", "item-added"]
    assert answer["error"] == "scenario 'todo' has no state 'item-add': its states are 'Started', 'item-added'"
    assert answer["errors"][0]["field"] == "state"
    assert items(st.port) == ["buy milk"] and items(st.port, session("s1")) == ["buy milk"]
    assert api(st, "GET", "/__admin/scenarios")[1]["scenarios"][1] == {
        "name": "todo", "state": "Started", "possibleStates": ["Started", "item-added"]}
    assert api(st, "POST", "/__admin/scenarios", {"name": "todo", "state": "item-added"})[0] == 200  # known ones work
    assert items(st.port) == ["buy milk", "cancel newspaper"]
    bare = stuntman({"s.yaml": "- {request: {path: /x}, response: {}}\n"}, admin_port=0)
    status, answer = api(bare, "POST", "/__admin/scenarios", {"name": "todo", "state": "Started"})
    assert status == 400 and answer["known"] == [] and "the stubs name no scenario" in answer["error"]
