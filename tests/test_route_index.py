"""The route index, below the wire: lookups must not scan (few candidates for 1,000 routes)."""
from __future__ import annotations

from pathlib import Path

import pytest

from stuntman.compile import compile_table
from stuntman.config.loader import validate_stubs
from stuntman.exchange import Exchange
from stuntman.match.routes import match, regex_affixes
from stuntman.respond.scenarios import StubState
from stuntman.settings import Settings


@pytest.mark.parametrize("pattern, affixes", [
    ("/api/v1/items/[0-9]+/v999", ("/api/v1/items/", "/v999")),
    (r"^/a\.b/(?P<id>\d+)\.json$", ("/a.b/", ".json")),
    ("/plain", ("/plain", "")),
    ("/a?bc", ("/", "bc")),
    ("/x|/y", ("/", "")),           # the parser factors the alternation: only "/" is certain
    ("(?i)/abc", ("", "")),         # case-insensitive: no literal is certain
    ("(/a|/b)/c", ("", "/c")),
])
def test_regex_affixes(pattern, affixes):
    assert regex_affixes(pattern) == affixes


def table(stubs: list[dict]):
    loaded = validate_stubs(stubs, "gen.yaml")
    routes, errors = compile_table(loaded, Path("."), {}, Settings())
    assert errors == []
    return routes


def request(path: str, method: str = "GET") -> Exchange:
    ex = Exchange()
    ex.method = method
    ex.set_target(path.encode())
    return ex


GENERATORS = {
    "exact": lambda i: {"path": f"/api/v1/things{i}"},
    "template": lambda i: {"path": f"/api/v1/things{i}/{{id}}"},
    "template-shared-prefix": lambda i: {"path": f"/api/v1/items/{{id}}/v{i}"},
    "template-partial-segment": lambda i: {"path": f"/api/v1/files/{{name}}.v{i}"},
    "regex": lambda i: {"pathRegex": f"/api/v1/r{i}/[0-9]+"},
    "regex-shared-prefix": lambda i: {"pathRegex": f"/api/v1/items/[0-9]+/v{i}"},
    "prefix": lambda i: {"pathPrefix": f"/api/v1/p{i}/"},
}
PATHS = {
    "exact": "/api/v1/things{i}", "template": "/api/v1/things{i}/7",
    "template-shared-prefix": "/api/v1/items/7/v{i}", "template-partial-segment": "/api/v1/files/a.v{i}",
    "regex": "/api/v1/r{i}/7", "regex-shared-prefix": "/api/v1/items/7/v{i}", "prefix": "/api/v1/p{i}/x",
}


@pytest.mark.parametrize("kind", GENERATORS)
def test_a_thousand_routes_resolve_through_a_handful_of_candidates(kind):
    routes = table([{"name": f"r{i}", "request": GENERATORS[kind](i), "response": {"body": str(i)}}
                    for i in range(1000)])
    state = StubState()
    for i in (0, 1, 500, 999):
        ex = request(PATHS[kind].format(i=i))
        candidates = routes.candidates(ex.path)
        assert len(candidates) <= 2, f"{kind}: {len(candidates)} candidates for {ex.path}"
        assert match(ex, state, candidates).name == f"r{i}"
    assert match(request(PATHS[kind].format(i=1000)), state, routes.candidates(
        PATHS[kind].format(i=1000))) is None


def test_partial_segment_templates_are_bucketed_not_scanned():
    """`{name}.v500` is found by its literal suffix among 1,000 sibling segment patterns."""
    routes = table([{"request": GENERATORS["template-partial-segment"](i), "response": {"body": "x"}}
                    for i in range(1000)])
    node = routes._trie.literal["api"].literal["v1"].literal["files"]
    hits: list = []
    node.patterns.find("report.v500", hits)
    assert [pattern.pattern for pattern, _ in hits] == [r"(?P<name>[^/]+)\.v500"]


def test_templates_reached_by_different_branches_come_out_in_rank_order():
    """/a/{x} and /{y}/b both match /a/b from different trie branches (literal first, then the
    parameter); the one with the better priority must be tried first wherever the walk found it."""
    routes = table([
        {"name": "literal-first", "priority": 5, "request": {"path": "/a/{x}"}, "response": {"body": "1"}},
        {"name": "param-first", "priority": 1, "request": {"path": "/{y}/b"}, "response": {"body": "2"}},
    ])
    for _ in range(2):  # walked, then remembered
        candidates = routes.candidates("/a/b")
        assert [r.name for r in candidates] == ["param-first", "literal-first"]
        assert match(request("/a/b"), StubState(), candidates).name == "param-first"
    assert [r.name for r in routes.candidates("/a/c")] == ["literal-first"]
    assert [r.name for r in routes.candidates("/z/b")] == ["param-first"]


def test_remembered_walks_answer_as_a_fresh_walk_does_and_stay_bounded():
    from stuntman.match import routes as module

    routes = table([
        {"name": "user", "request": {"path": "/users/{id}"}, "response": {"body": "u"}},
        {"name": "file", "request": {"path": "/files/{name}.json"}, "response": {"body": "f"}},
        {"name": "exact", "request": {"path": "/users/me"}, "response": {"body": "me"}},
    ])
    state = StubState()
    for n in range(module.WALK_MEMO_ENTRIES + 10):
        path = f"/users/{n}"
        assert [r.name for r in routes.candidates(path)] == ["user"]
    assert len(routes._walked) <= module.WALK_MEMO_ENTRIES
    assert [r.name for r in routes.candidates("/users/me")] == ["exact", "user"]  # exact ranks first
    assert [r.name for r in routes.candidates("/files/a.json")] == ["file"]
    assert routes.candidates("/files/a.txt") == [] and routes.candidates("/files/a.txt") == []
    assert routes.candidates("/users/") == []  # a parameter is never empty
    long = "/users/" + "x" * module.WALK_MEMO_PATH
    assert [r.name for r in routes.candidates(long)] == ["user"] and long not in routes._walked
    ex = request("/users/a%2Fb")  # a parameter is decoded; the plain one is the regex's own dict
    assert match(ex, state, routes.candidates(ex.path)).name == "user" and ex.params == {"id": "a/b"}
    ex = request("/users/42")
    assert match(ex, state, routes.candidates(ex.path)).name == "user" and ex.params == {"id": "42"}


def test_over_the_wire_the_better_ranked_template_answers_whichever_branch_found_it(stuntman):
    from conftest import call

    st = stuntman({"stubs.yaml": """
        - {name: literal-first, priority: 5, request: {path: "/a/{x}"}, response: {body: one}}
        - {name: param-first, priority: 1, request: {path: "/{y}/b"}, response: {body: two}}
    """})
    for _ in range(2):  # walked, then remembered
        assert call(st.port, "GET", "/a/b")[2] == b"two"
    assert call(st.port, "GET", "/a/c")[2] == b"one"
