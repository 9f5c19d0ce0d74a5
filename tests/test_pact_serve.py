"""Pact files served as stubs, end to end over real sockets: `--pact` (a file or a directory), a
stub file's `contract: {pact: ...}` and the admin API load them; provider states are asked for by
header, by session (two sessions at once) or fixed at start; the most specific interaction
answers, whatever the file order; header and query rules decide (pact-stub-server's #24, #33,
#11); interactions without states stay eligible (#34) unless strict; the near-miss 404 names the
Pact differences; v4 message interactions are listed, not served; faults and the journal apply;
bad pact files are clear errors that load nothing, and a broken edit keeps the last good pact."""
from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

from conftest import call, run_cli

V3 = {"pactSpecification": {"version": "3.0.0"}}
V4 = {"pactSpecification": {"version": "4.0"}}


def pact(*interactions: dict, metadata: dict = V3) -> str:
    return json.dumps({"consumer": {"name": "web"}, "provider": {"name": "users"},
                       "interactions": list(interactions), "metadata": metadata})


def interaction(description: str, request: dict, status: int = 200, body=None, states=(), **extra) -> dict:
    out = {"description": description, "request": request, "response": {"status": status}, **extra}
    if body is not None:
        out["response"]["body"] = body
        out["response"]["headers"] = {"Content-Type": "application/json"}
    if states:
        out["providerStates"] = [{"name": s} for s in states]
    return out


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def get(port: int, path: str, headers: dict | None = None, method: str = "GET", body=None):
    if isinstance(body, (dict, list)):
        body, headers = json.dumps(body), {"Content-Type": "application/json", **(headers or {})}
    status, head, data = call(port, method, path, body=body, headers=headers)
    return status, (json.loads(data) if data and head.get("content-type", "").endswith("json") else data)


def admin(st, method: str, path: str, body=None):
    request = urllib.request.Request(st.admin_url + path, method=method, data=None if body is None else
                                     json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


USERS = pact(
    interaction("user 1", {"method": "GET", "path": "/users/1"}, 200, {"id": 1, "name": "Ada"},
                states=["user 1 exists"]),
    interaction("no user 1", {"method": "GET", "path": "/users/1"}, 404, states=["no users"]),
    interaction("the default user 1", {"method": "GET", "path": "/users/1"}, 200, {"id": 1, "name": "Default"}),
    interaction("health", {"method": "GET", "path": "/health"}, 200, {"ok": True}),
)


def test_a_provider_state_is_asked_for_by_header_and_without_one_the_stateless_interaction_answers(
        stuntman, tmp_path):
    st = stuntman(pact=(write(tmp_path, "users.json", USERS),))
    assert get(st.port, "/users/1") == (200, {"id": 1, "name": "Default"})
    assert get(st.port, "/users/1", {"X-Pact-Provider-State": "user 1 exists"}) == (200, {"id": 1, "name": "Ada"})
    assert get(st.port, "/users/1", {"X-Pact-Provider-State": "no users"})[0] == 404
    # an interaction without states stays eligible when a state is asked for (pact-stub-server #34)
    assert get(st.port, "/health", {"X-Pact-Provider-State": "no users"}) == (200, {"ok": True})
    status, body = get(st.port, "/users/1", {"X-Pact-Provider-State": "nobody knows this"})
    assert status == 200 and body == {"id": 1, "name": "Default"}


def test_strict_provider_states_keep_stateless_interactions_for_requests_that_ask_for_none(stuntman, tmp_path):
    st = stuntman(pact=(write(tmp_path, "users.json", USERS),), strict_provider_state=True)
    assert get(st.port, "/health")[0] == 200
    assert get(st.port, "/health", {"X-Pact-Provider-State": "no users"})[0] == 404
    assert get(st.port, "/users/1", {"X-Pact-Provider-State": "user 1 exists"})[1] == {"id": 1, "name": "Ada"}


def test_a_state_fixed_at_start_is_a_regex_and_a_header_still_comes_first(stuntman, tmp_path):
    st = stuntman(pact=(write(tmp_path, "users.json", USERS),), provider_state="exists$")
    assert get(st.port, "/users/1")[1] == {"id": 1, "name": "Ada"}
    assert get(st.port, "/users/1", {"X-Pact-Provider-State": "no users"})[0] == 404


def test_two_sessions_hold_different_provider_states_at_once_through_the_admin_api(stuntman, tmp_path):
    st = stuntman(pact=(write(tmp_path, "users.json", USERS),), admin_port=0)
    status, listed = admin(st, "GET", "/__admin/scenarios")
    assert {"name": "pact:users", "state": "Started",
            "possibleStates": ["Started", "no users", "user 1 exists"]} in listed["scenarios"]
    assert admin(st, "POST", "/__admin/scenarios", {"name": "pact:users", "state": "user 1 exists",
                                                    "session": "a"})[0] == 200
    assert admin(st, "POST", "/__admin/scenarios", {"name": "pact:users", "state": "no users",
                                                    "session": "b"})[0] == 200
    assert admin(st, "POST", "/__admin/scenarios", {"name": "pact:users", "state": "typo",
                                                    "session": "b"})[0] == 400
    seen: dict[str, set] = {"a": set(), "b": set()}

    def client(session: str) -> None:
        for _ in range(20):
            seen[session].add(get(st.port, "/users/1", {"X-Stuntman-Session": session})[0])

    threads = [threading.Thread(target=client, args=(s,)) for s in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": {200}, "b": {404}}
    assert get(st.port, "/users/1")[1] == {"id": 1, "name": "Default"}  # no session: none asked for


def test_the_most_specific_interaction_answers_whatever_the_file_order(stuntman, tmp_path):
    """pact-stub-server #53: the first in the file won; here a header, a query value or a body
    field pinned down beats an interaction that leaves it open."""
    text = pact(
        interaction("any search", {"method": "GET", "path": "/search", "query": {"q": ["x"]},
                                   "matchingRules": {"query": {"q": {"matchers": [{"match": "type"}]}}}},
                    200, {"hit": "any"}),
        interaction("exact search", {"method": "GET", "path": "/search", "query": {"q": ["shoes"]}}, 200,
                    {"hit": "exact"}),
        interaction("plain", {"method": "GET", "path": "/items"}, 200, {"v": "plain"}),
        interaction("with header", {"method": "GET", "path": "/items", "headers": {"X-Tenant": "acme"}}, 200,
                    {"v": "acme"}),
    )
    st = stuntman(pact=(write(tmp_path, "search.json", text),))
    assert get(st.port, "/search?q=shoes")[1] == {"hit": "exact"}
    assert get(st.port, "/search?q=boots")[1] == {"hit": "any"}
    assert get(st.port, "/items", {"X-Tenant": "acme"})[1] == {"v": "acme"}
    assert get(st.port, "/items")[1] == {"v": "plain"}


def test_header_rules_decide_between_interactions_and_a_lookahead_regex_works(stuntman, tmp_path):
    """pact-stub-server #24: two POST /data differing only by a header regex, one with a
    lookahead; the first one always answered there."""
    def one(name, regex, answer):
        return interaction(name, {"method": "POST", "path": "/data", "headers": {"requestid": "1234"},
                                  "matchingRules": {"header": {"requestid": {"matchers": [
                                      {"match": "regex", "regex": regex}]}}}}, 200, {"answer": answer})
    st = stuntman(pact=(write(tmp_path, "data.json", pact(one("is 1234", "^1234$", "A"),
                                                           one("anything else", "^((?!1234).)*$", "B"))),))
    assert get(st.port, "/data", {"requestid": "1234"}, "POST")[1] == {"answer": "A"}
    assert get(st.port, "/data", {"requestid": "5678"}, "POST")[1] == {"answer": "B"}
    assert get(st.port, "/data", {}, "POST")[0] == 404  # no requestid: neither (it answered A there)


def test_query_rules_hold_every_value_of_a_parameter(stuntman, tmp_path):
    """pact-stub-server #33 and #11: a regex rule on a repeated parameter, a type rule on a v2
    query string."""
    v3 = pact(interaction("numbered", {"method": "GET", "path": "/api/test",
                                       "query": {"firstParam": ["SPECIFIC", "1"]},
                                       "matchingRules": {"query": {"firstParam": {"matchers": [
                                           {"match": "regex", "regex": "SPECIFIC|\\d+"}]}}}}, 200, {"ok": 1}))
    v2 = json.dumps({"consumer": {"name": "c"}, "provider": {"name": "p"}, "metadata": {
        "pactSpecification": {"version": "2.0.0"}}, "interactions": [
        {"description": "page", "request": {"method": "GET", "path": "/items", "query": "page=1",
                                            "matchingRules": {"$.query.page[0]": {"match": "type"}}},
         "response": {"status": 200, "body": {"page": "any"}}}]})
    st = stuntman(pact=(write(tmp_path, "v3.json", v3), write(tmp_path, "v2.json", v2)))
    assert get(st.port, "/api/test?firstParam=SPECIFIC&firstParam=7")[0] == 200
    assert get(st.port, "/api/test?firstParam=x&firstParam=7")[0] == 404
    assert get(st.port, "/items?page=2")[0] == 200
    assert get(st.port, "/items")[0] == 404


def test_nothing_matches_and_the_near_miss_names_the_pact_differences(stuntman, tmp_path):
    text = pact(interaction("create", {"method": "POST", "path": "/users",
                                       "headers": {"Content-Type": "application/json"},
                                       "body": {"name": "Bob", "age": 3},
                                       "matchingRules": {"body": {"$.age": {"matchers": [{"match": "integer"}]}}}},
                            201, {"id": 2}))
    st = stuntman(pact=(write(tmp_path, "create.json", text),))
    assert get(st.port, "/users", method="POST", body={"name": "Bob", "age": 40})[0] == 201
    status, body = get(st.port, "/users", method="POST", body={"name": "Bob", "age": "x", "extra": 1})
    assert status == 404
    text = body.decode()
    assert "create" in text and "body $.age: expected an integer, got 'x'" in text
    assert "body: unexpected key 'extra'" in text


def test_v4_message_interactions_are_listed_and_http_ones_served(stuntman, tmp_path):
    text = pact(
        {"type": "Synchronous/HTTP", "description": "get", "request": {"method": "GET", "path": "/a"},
         "response": {"status": 200, "body": {"content": {"a": 1}, "contentType": "application/json"}}},
        {"type": "Asynchronous/Messages", "description": "order created",
         "contents": {"content": {"id": 1}, "contentType": "application/json"}},
        metadata=V4)
    st = stuntman(pact=(write(tmp_path, "mixed.json", text),), admin_port=0)
    assert get(st.port, "/a") == (200, {"a": 1})
    status, listed = admin(st, "GET", "/__admin/contracts")
    [contract] = listed["contracts"]
    assert (contract["kind"], contract["version"], len(contract["interactions"])) == ("pact", "4.0", 1)
    assert contract["messages"] == [{"description": "order created", "type": "Asynchronous/Messages",
                                     "served": False, "note": "a message interaction: not served over HTTP",
                                     "source": f"{tmp_path / 'mixed.json'}#/interactions/1"}]


def test_faults_and_the_journal_apply_to_interactions(stuntman, tmp_path):
    st = stuntman(pact=(write(tmp_path, "users.json", USERS),), admin_port=0,
                  fault=("route=health,type=error,status=503",))
    assert get(st.port, "/health")[0] == 503
    assert get(st.port, "/users/1")[0] == 200
    status, found = admin(st, "GET", "/__admin/requests")
    names = [r["matched"]["name"] for r in found["requests"] if r.get("matched")]
    assert names == ["the default user 1", "health"]


def test_the_admin_api_serves_a_pact_sent_to_it_and_lists_it_beside_openapi(stuntman, tmp_path):
    st = stuntman(admin_port=0)
    status, created = admin(st, "POST", "/__admin/contracts", {"spec": json.loads(USERS)})
    assert status == 201 and created["kind"] == "pact" and created["name"] == "web-users"
    assert get(st.port, "/health") == (200, {"ok": True})
    status, problem = admin(st, "POST", "/__admin/contracts", {"spec": {
        "interactions": [{"description": "x", "request": {"method": "GET", "path": "/", "matchingRules": {
            "body": {"$.a[x": {"matchers": [{"match": "type"}]}}}}}]}})
    assert status == 400 and "/interactions/0/request/matchingRules/body/$.a[x" in json.dumps(problem)


def test_bad_pact_files_are_one_clear_error_each_and_nothing_starts(tmp_path):
    cases = {
        "bad-json.json": ('{"interactions": [', ": line 1 column 19: not JSON"),
        "version.json": (json.dumps({"interactions": [], "metadata": {"pactSpecification": {"version": "9.0"}}}),
                         ": /metadata/pactSpecification/version: Pact specification 9.0 is not one stuntman reads"),
        "rule.json": (pact(interaction("x", {"method": "GET", "path": "/", "matchingRules": {
            "body": {"$.a[x": {"matchers": [{"match": "type"}]}}}})),
            ": /interactions/0/request/matchingRules/body/$.a[x: '$.a[x': '[' at 3 is not closed"),
        "matcher.json": (pact(interaction("x", {"method": "GET", "path": "/", "matchingRules": {
            "body": {"$.a": {"matchers": [{"match": "regex", "regex": "("}]}}}})),
            ": /interactions/0/request/matchingRules/body/$.a/matchers/0/regex: not a regular expression"),
    }
    (tmp_path / "stubs").mkdir()
    for name, (text, message) in cases.items():
        path = write(tmp_path, name, text)
        done = run_cli("run", "--stubs", str(tmp_path / "stubs"), "--pact", str(path), "--port", "0")
        assert done.returncode != 0, name
        assert f"{path}{message}" in done.stderr and "not started" in done.stderr, (name, done.stderr)


def test_a_pact_in_the_stubs_directory_reloads_and_a_broken_edit_keeps_the_last_good_one(stuntman):
    files = {"pacts/users.json": USERS, "contracts.yaml": "- contract: {pact: pacts/users.json}\n"}
    st = stuntman(files, admin_port=0)
    assert get(st.port, "/health") == (200, {"ok": True})
    path = st.server.settings.stubs / "pacts" / "users.json"
    path.write_text(USERS.replace('"ok": true', '"ok": false'))
    st.reload()
    assert get(st.port, "/health") == (200, {"ok": False})
    path.write_text(USERS[:-5])
    assert st.server.reload("test") is False
    assert get(st.port, "/health") == (200, {"ok": False})
    status, listed = admin(st, "GET", "/__admin/contracts")
    assert any("not JSON" in e["message"] for e in listed["loadErrors"]), listed["loadErrors"]


def test_generators_fill_the_response_the_same_way_for_the_same_request(stuntman, tmp_path):
    order = interaction("order", {"method": "GET", "path": "/orders/7"}, 200,
                        {"id": 7, "code": "X", "owner": "someone", "when": "2020-01-01"}, states=["order 7 exists"])
    order["response"]["generators"] = {"body": {
        "$.id": {"type": "RandomInt", "min": 100, "max": 200},
        "$.code": {"type": "Regex", "regex": "[A-F]{3}-[0-9]{2}"},
        "$.owner": {"type": "ProviderState", "expression": "${owner}"},
        "$.when": {"type": "Date", "format": "yyyy-MM-dd"}}}
    text = pact(order).replace('"providerStates": [{"name": "order 7 exists"}]',
                        '"providerStates": [{"name": "order 7 exists", "params": {"owner": "ada"}}]')
    st = stuntman(pact=(write(tmp_path, "orders.json", text),))
    first = get(st.port, "/orders/7")[1]
    assert 100 <= first["id"] <= 200 and first["owner"] == "ada"
    import re
    assert re.fullmatch(r"[A-F]{3}-[0-9]{2}", first["code"]) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", first["when"])
    assert get(st.port, "/orders/7")[1] == first  # seeded by the contract and the request


def test_the_readme_example_answers_as_the_readme_shows(stuntman):
    from conftest import ROOT

    st = stuntman(pact=(ROOT / "examples" / "pacts" / "web-users.json",))
    assert get(st.port, "/users/1") == (200, {"id": 1, "name": "Default"})
    assert get(st.port, "/users/1", {"X-Pact-Provider-State": "user 1 exists"}) == (200, {"id": 1, "name": "Ada"})
    assert get(st.port, "/users", method="POST", body={"name": "Eve", "age": 40}) == (201, {"id": 2})
    status, body = call(st.port, "POST", "/users", body='{"name":"Bob","age":"x"}',
                        headers={"content-type": "application/json"})[0::2]
    assert status == 404 and "nearest: create" in body.decode()
    assert "  - body $.age: expected an integer, got 'x'" in body.decode()


def test_a_pact_added_to_a_pact_directory_is_served_and_one_removed_is_not(stuntman, tmp_path):
    from conftest import until

    pacts = tmp_path / "pacts"
    pacts.mkdir()
    write(pacts, "users.json", USERS)
    st = stuntman(pact=(pacts,), watch=True)
    assert get(st.port, "/health")[0] == 200 and get(st.port, "/orders")[0] == 404
    write(pacts, "orders.json", pact(interaction("orders", {"method": "GET", "path": "/orders"}, 200, [])))
    until(lambda: get(st.port, "/orders")[0] == 200, "the new pact served")
    (pacts / "users.json").unlink()
    until(lambda: get(st.port, "/health")[0] == 404, "the removed pact gone")


def test_interactions_no_request_can_tell_apart_are_reported_once_and_the_first_answers(stuntman, tmp_path,
                                                                                        caplog):
    text = pact(interaction("first", {"method": "GET", "path": "/same"}, 200, {"n": 1}),
                interaction("second", {"method": "GET", "path": "/same"}, 200, {"n": 2}),
                interaction("pinned", {"method": "GET", "path": "/same", "query": {"q": ["1"]}}, 200, {"n": 3}))
    with caplog.at_level("WARNING", logger="stuntman"):
        st = stuntman(pact=(write(tmp_path, "same.json", text),))
    assert get(st.port, "/same")[1] == {"n": 1} and get(st.port, "/same?q=1")[1] == {"n": 3}
    [contract] = st.server.table.contracts
    assert contract.spec.notes == ["interactions 'first' and 'second' match the same requests: 'first' (first in "
                                   "the file) answers them"]
    assert [r.message for r in caplog.records if "match the same requests" in r.message] == [
        f"pact {tmp_path / 'same.json'}: {contract.spec.notes[0]}"]


def test_the_python_client_serves_a_pact_and_sets_a_sessions_provider_state(stuntman):
    from stuntman.client import Stuntman

    st = stuntman(admin_port=0)
    client = Stuntman(st.admin_url)
    created = client.create_contract(spec=json.loads(USERS), name="users")
    assert created["kind"] == "pact" and [i["description"] for i in created["interactions"]][:2] == \
        ["user 1", "no user 1"]
    client.set_provider_state("users", "no users", session="t1")
    assert get(st.port, "/users/1", {"X-Stuntman-Session": "t1"})[0] == 404
    client.set_provider_state("users", None, session="t1")
    assert get(st.port, "/users/1", {"X-Stuntman-Session": "t1"})[1] == {"id": 1, "name": "Default"}


def test_a_mock_server_url_generator_points_at_stuntman(stuntman, tmp_path):
    order = interaction("order", {"method": "GET", "path": "/orders/7"}, 200,
                        {"self": "http://localhost:1234/orders/7"})
    order["response"]["generators"] = {"body": {"$.self": {
        "type": "MockServerURL", "example": "http://localhost:1234/orders/7", "regex": ".*(/orders/\\d+)$"}}}
    st = stuntman(pact=(write(tmp_path, "orders.json", pact(order)),))
    assert get(st.port, "/orders/7")[1] == {"self": f"http://127.0.0.1:{st.port}/orders/7"}
