"""The pytest plugin, as its users meet it: generated test files run by pytest (pytester, in a
subprocess, so the plugin loads through its `pytest11` entry point), in-process and attached to a
running sidecar, with pytest-xdist."""
from __future__ import annotations

import json
import urllib.request

from conftest import free_port, wait_port, write_stubs

HELPERS = '''
import json, urllib.request, urllib.error

def get(url, headers=None, method="GET", data=None):
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
'''


def test_in_process_a_fresh_stuntman_per_test_with_intent_revealing_helpers(pytester):
    pytester.makepyfile(HELPERS + '''
seen_ports = []

def test_stub_fault_and_verify(stuntman):
    seen_ports.append(stuntman.url)
    stuntman.stub("GET", "/api/users/{id}", json={"name": "Ada"})
    stuntman.stub("POST", "/api/payments", status=201, body="paid")
    stuntman.fault("/api/payments", type="error", status=503, first_n=2, method="POST")
    assert get(stuntman.url + "/api/users/42") == (200, '{"name": "Ada"}')
    codes = [get(stuntman.url + "/api/payments", method="POST", data=b"{}")[0] for _ in range(3)]
    assert codes == [503, 503, 201]
    stuntman.verify("POST", "/api/payments", count=3)
    assert stuntman.count("POST", "/api/payments") == 3
    try:
        stuntman.verify("GET", "/api/users/42", count=2)
    except AssertionError as exc:
        assert "expected 2" in str(exc) and "has 1" in str(exc)
    else:
        raise AssertionError("verify did not fail")
    assert [r["request"]["url"] for r in stuntman.requests(method="GET")] == ["/api/users/42"]

def test_the_next_test_starts_clean(stuntman):
    assert stuntman.url not in seen_ports  # its own server
    assert stuntman.admin.stubs() == [] and stuntman.admin.requests() == []
    assert get(stuntman.url + "/api/users/42")[0] == 404
''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_in_process_serves_the_configured_stub_directory_and_upstream(pytester, upstream):
    stubs = write_stubs(pytester.path / "mystubs",
                        {"s.yaml": "- {request: {path: /from-file}, response: {body: filed}}\n"})
    pytester.makeini(f"[pytest]\nstuntman_stubs = {stubs.name}\nstuntman_upstream = {upstream.url}\n")
    pytester.makepyfile(HELPERS + '''
def test_files_and_upstream(stuntman):
    assert get(stuntman.url + "/from-file") == (200, "filed")
    status, body = get(stuntman.url + "/passes/through")
    assert status == 200 and '"path": "/passes/through"' in body
''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


SHARED_TESTS = HELPERS + '''
import pytest

@pytest.mark.parametrize("n", range(8))
def test_parallel_tests_share_one_sidecar_without_seeing_each_other(stuntman, n):
    # every test stubs the same route with its own answer, and faults it for itself only
    stuntman.stub("GET", "/api/whoami", body=f"test {n}")
    if n % 2:
        stuntman.fault("/api/whoami", type="error", status=503, first_n=1)
    assert get(stuntman.url + "/api/whoami")[0] == 404  # without the session header: not this test's
    expected = [503, 200] if n % 2 else [200, 200]
    answers = [get(stuntman.url + "/api/whoami", headers=stuntman.headers) for _ in range(2)]
    assert [s for s, _ in answers] == expected
    assert answers[-1][1] == f"test {n}"
    stuntman.verify("GET", "/api/whoami", count=2)  # only its own two
'''


def test_attached_to_a_sidecar_tests_are_isolated_even_under_xdist(pytester, cli_server, tmp_path):
    admin = free_port()
    _, port = cli_server("--stubs", str(write_stubs(tmp_path / "s", {})), "--admin-port", str(admin))
    wait_port(admin)
    pytester.makepyfile(SHARED_TESTS)
    env = {"STUNTMAN_ADMIN_URL": f"http://127.0.0.1:{admin}", "STUNTMAN_URL": f"http://127.0.0.1:{port}"}
    for name, value in env.items():
        pytester._monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=8)
    # afterwards the sidecar holds nothing any test created
    for path, key in (("/__admin/mappings", "mappings"), ("/__admin/faults", "faults")):
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}{path}", timeout=5) as resp:
            assert json.loads(resp.read())[key] == []


def test_in_process_replays_the_recordings_named_in_the_ini(pytester, stuntman, upstream):
    recordings = pytester.path / "recs"
    rec = stuntman({}, upstream=upstream.url, recordings=recordings, record_to="payments")
    from conftest import call

    assert call(rec.port, "GET", "/api/payments/7")[0] == 200
    pytester.makeini("[pytest]\nstuntman_recordings = recs\nstuntman_replay = payments\n")
    pytester.makepyfile(HELPERS + '''
def test_replayed(stuntman):
    status, body = get(stuntman.url + "/api/payments/7")
    assert status == 200 and '"path": "/api/payments/7"' in body
    assert get(stuntman.url + "/api/payments/8")[0] == 404  # strict: not recorded
    assert stuntman.count("GET", "/api/payments/7") == 1
''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_fault_on_a_stub_name_that_does_not_exist_fails_the_test_saying_so(pytester):
    pytester.makepyfile(HELPERS + '''
import pytest
from stuntman.client import StuntmanError

def test_typo(stuntman):
    stuntman.stub("GET", "/users", body="ok", name="users")
    with pytest.raises(StuntmanError) as caught:
        stuntman.fault("typo", type="error")
    assert caught.value.status == 400 and "route: no stub is named 'typo'" in str(caught.value)
    stuntman.fault("users", type="error", status=503)
    assert get(stuntman.url + "/users")[0] == 503
''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_journal_helpers_take_method_and_path_alike(pytester):
    """requests, count and verify: one shape (method and path first, positionally or not; more
    matcher fields as keywords); requests() with nothing still lists this test's requests."""
    pytester.makepyfile(HELPERS + '''
def test_shapes(stuntman):
    stuntman.stub("GET", "/x", body="x")
    stuntman.stub("POST", "/y", status=201)
    get(stuntman.url + "/x")
    get(stuntman.url + "/y", method="POST", data=b"{}")
    assert [r["request"]["url"] for r in stuntman.requests("GET", "/x")] == ["/x"]
    assert [r["request"]["url"] for r in stuntman.requests(method="POST", path="/y")] == ["/y"]
    assert len(stuntman.requests()) == 2 and len(stuntman.requests("POST")) == 1
    assert stuntman.count("GET", "/x") == 1
    stuntman.verify("POST", "/y", 1)
''')
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
