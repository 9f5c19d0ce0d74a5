"""Conformance: the Pact specification's own request test cases (tests/fixtures/pact-spec/, every
version), served by `stuntman run --pact` and sent over a real socket.

Each version's cases run against one stuntman: every case is a pact file of its own whose one
interaction has the case's expected request and a provider state naming the case; the case's
actual request is sent as bytes with `X-Pact-Provider-State` naming it (an extra header, which
Pact allows). A case that should match gets the interaction's 200 `matched`; one that should not
gets stuntman's near-miss 404. Cases the wire cannot carry are listed by `unsendable`, and the
list is pinned here, so none is dropped silently.
"""
from __future__ import annotations

import json
import subprocess

import pytest

import pact_cases as pc
from conftest import ROOT, STUNTMAN, free_port, parse_responses, raw_exchange, stop_process, wait_port

VERSIONS = list(pc.VERSIONS)
SENDABLE = {v: [(name, case) for name, case in pc.cases(v, "request") if pc.unsendable(case) is None]
            for v in VERSIONS}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """version → the port of a stuntman serving that version's cases (started on first use)."""
    procs: dict[str, tuple[subprocess.Popen, int]] = {}

    def port_of(version: str) -> int:
        if version not in procs:
            pacts = tmp_path_factory.mktemp(f"pacts-{version}")
            for i, (_, case) in enumerate(SENDABLE[version]):
                state = _state(i) if version in ("v3", "v4") else None
                extra = {"providerStates": [{"name": state}]} if state else {"providerState": _state(i)}
                (pacts / f"case-{i:03}.json").write_text(json.dumps(pc.pact_for(case, version, "request", extra)))
            stubs = tmp_path_factory.mktemp(f"stubs-{version}")
            port = free_port()
            proc = subprocess.Popen([*STUNTMAN, "run", "--stubs", str(stubs), "--pact", str(pacts), "--port", str(port),
                                     "--admin-port", str(free_port())], cwd=ROOT, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            wait_port(port, timeout=30, proc=proc)
            procs[version] = (proc, port)
        return procs[version][1]

    yield port_of
    for proc, _ in procs.values():
        stop_process(proc)


def _state(i: int) -> str:
    return f"case {i:03}"


@pytest.mark.parametrize("version, index, name", [(v, i, name) for v in VERSIONS
                                                 for i, (name, _) in enumerate(SENDABLE[v])])
def test_a_request_case_is_matched_as_the_specification_says(served, version, index, name):
    case = SENDABLE[version][index][1]
    data = pc.wire_request(case, version, [("X-Pact-Provider-State", _state(index)), ("Connection", "close")])
    [(status, _, body)] = parse_responses(raw_exchange(served(version), data))
    assert (status == 200 and body == b"matched") == case["match"], \
        f"{version}/{name} ({case.get('comment', '')}): expected {'a match' if case['match'] else 'no match'}, " \
        f"got {status}: {body[:600].decode(errors='replace')}"


def test_the_cases_the_wire_cannot_carry_are_these():
    unsendable = {f"{v}/{name}": pc.unsendable(case) for v in VERSIONS for name, case in pc.cases(v, "request")
                  if pc.unsendable(case) is not None}
    assert sorted(unsendable) == sorted(
        [f"{v}/path/empty path found when forward slash expected" for v in VERSIONS]
        + [f"{v}/method/method is different case" for v in VERSIONS]
        + ["v3/headers/matches content type with parameters in different order",
           "v4/headers/matches content type with parameters in different order"])
    total = sum(len(pc.cases(v, "request")) for v in VERSIONS)
    assert total - len(unsendable) == sum(len(SENDABLE[v]) for v in VERSIONS) == 372
