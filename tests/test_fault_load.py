"""load_latency and flap end to end: real clients (aiohttp, http.client, raw sockets) against stubs;
the journal, selection, runtime control through /__admin/faults and validation.

Timing: the journal's recorded state (in flight, the delay drawn, the phase and when it ends) is
the exact reference; the client's clock is a lower bound for delays (an upper bound only with a
slack of seconds), and a flap's phase is checked only for requests sent and answered within one
phase of the schedule (the server decides somewhere in between). Where a test must wait for the
server to count a request in flight, it polls the count, never sleeps and hopes.
"""
from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from conftest import call, leave, run_cli, send, serving, until
from test_admin import api
from test_faults import statuses, stub

SLACK = 3.0  # seconds a response may take beyond its delay on a loaded machine: never a tight bound


def journal(st) -> list[dict]:
    """The journal, oldest first."""
    return list(reversed(api(st, "GET", "/__admin/requests")[1]["requests"]))


def seq(entry: dict) -> str:
    return dict(entry["request"]["headers"]).get("X-Seq", "")


def fault_of(entry: dict, kind: str) -> dict | None:
    found = [f for f in entry["faults"] if f["type"] == kind]
    return found[0] if found else None


def in_flight(st) -> list[int]:
    """Every load_latency's in-flight count for each key, as the server keeps it."""
    return [value.count for keyed in list(st.server.fault_state.kept.values())
            for value in list(keyed.by_value.values()) if hasattr(value, "count")]


async def _timed(url: str, seqs: list[str]) -> dict[str, tuple[int, float]]:
    """One GET per X-Seq, all at once, each on a connection of its own: {seq: (status, seconds)}."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def one(n: str) -> tuple[str, tuple[int, float]]:
            start = time.monotonic()
            async with session.get(url, headers={"X-Seq": n}) as resp:
                await resp.read()
                return n, (resp.status, time.monotonic() - start)
        return dict(await asyncio.gather(*(one(n) for n in seqs)))


def timed(url: str, seqs: list[str]) -> dict[str, tuple[int, float]]:
    return asyncio.run(_timed(url, seqs))


def check_delays(st, measured: dict[str, tuple[int, float]], base: float, per: float, cap: float = 1e12) -> dict:
    """Each request's journaled delay is the formula of the in-flight count it met, and the client
    waited at least that long (and not seconds more): {seq: inFlight}."""
    met = {}
    for entry in journal(st):
        if seq(entry) in measured:
            state = fault_of(entry, "load_latency")["state"]
            expected = min(base + per * state["inFlight"], cap)
            assert state["delayMs"] == pytest.approx(expected), state
            status, seconds = measured[seq(entry)]
            # (uvloop's timers count whole milliseconds: a delay may end up to 1 ms early)
            assert status == 200 and expected / 1000 - 0.002 <= seconds <= expected / 1000 + SLACK, (state, seconds)
            met[seq(entry)] = state["inFlight"]
    assert set(met) == set(measured)
    return met


# -- load_latency -------------------------------------------------------------------------------

def test_load_latency_grows_with_the_requests_in_flight(stuntman):
    # base 300: the four sent at once all arrive while the first of them is still delayed
    st = stuntman({"s.yaml": stub("q", "/q", "- {type: load_latency, base_ms: 300, per_inflight_ms: 100}")},
                  admin_port=0)
    alone = timed(st.url + "/q", ["alone"])
    assert check_delays(st, alone, 300, 100) == {"alone": 0}
    together = timed(st.url + "/q", ["a", "b", "c", "d"])
    met = check_delays(st, together, 300, 100)
    assert sorted(met.values()) == [0, 1, 2, 3]  # the lone one released its place when it ended
    assert until(lambda: in_flight(st) == [0], "every place released")
    headers = call(st.port, "GET", "/q")[1]
    assert headers["x-stuntman-fault"] == "load_latency"


def test_max_ms_caps_the_delay(stuntman):
    st = stuntman({"s.yaml": stub("cap", "/cap", "- {type: load_latency, base_ms: 300, per_inflight_ms: 5000, "
                                                 "max_ms: 600}")}, admin_port=0)
    together = timed(st.url + "/cap", ["a", "b", "c"])
    met = check_delays(st, together, 300, 5000, cap=600)
    assert sorted(met.values()) == [0, 1, 2]
    assert all(seconds < 5 for _, seconds in together.values())  # capped: not 5.3 s, 10.3 s


def test_stage_request_delays_the_request_on_its_way_upstream_and_response_the_answer(stuntman):
    arrived: list[float] = []

    async def record(request: web.Request) -> web.Response:
        arrived.append(time.monotonic())
        return web.Response(text="up")

    with serving(("GET", "/{tail:.*}", record)) as url:
        faults = "  faults: [{{type: load_latency, base_ms: 300, per_inflight_ms: 1000, stage: {stage}}}]\n"
        st = stuntman({"s.yaml": "".join(f"- request: {{pathPrefix: /{stage}}}\n  proxy: {{upstream: {url}}}\n"
                                         + faults.format(stage=stage) for stage in ("request", "response"))})
        for stage in ("request", "response"):
            sent = time.monotonic()
            status, headers, _ = call(st.port, "GET", f"/{stage}")
            answered = time.monotonic()
            assert status == 200 and headers["x-stuntman-fault"] == "load_latency"
            if stage == "request":  # the upstream saw it only after the delay
                assert arrived[-1] - sent >= 0.298
            else:  # the upstream answered, then the response waited
                assert answered - arrived[-1] >= 0.298


def test_clients_that_leave_mid_delay_release_their_place(stuntman):
    st = stuntman({"s.yaml": stub("slow", "/slow", "- {type: load_latency, base_ms: 4000, per_inflight_ms: 1000}")},
                  admin_port=0)
    held = []
    for n in range(3):
        held.append(send(st.port, "/slow", {"X-Seq": f"held{n}"}))
        until(lambda n=n: in_flight(st) == [n + 1], f"{n + 1} in flight")
    for sock in held:
        leave(sock)
    until(lambda: in_flight(st) == [0], "the places of the clients that left released")
    later = send(st.port, "/slow", {"X-Seq": "later"})
    until(lambda: in_flight(st) == [1], "the later one in flight")
    leave(later)
    until(lambda: len(journal(st)) == 4, "four journaled")
    states = {seq(e): (e["response"]["status"], fault_of(e, "load_latency")["state"]) for e in journal(st)}
    assert states == {"held0": (0, {"inFlight": 0, "delayMs": 4000}), "held1": (0, {"inFlight": 1, "delayMs": 5000}),
                      "held2": (0, {"inFlight": 2, "delayMs": 6000}), "later": (0, {"inFlight": 0, "delayMs": 4000})}
    until(lambda: in_flight(st) == [0], "nothing left in flight")


def test_each_key_counts_its_own_requests_in_flight(stuntman):
    st = stuntman({"s.yaml": stub("k", "/k", "- {type: load_latency, base_ms: 5000, per_inflight_ms: 1000, "
                                             "key: session}")}, admin_port=0)
    a = send(st.port, "/k", {"X-Stuntman-Session": "a", "X-Seq": "a1"})
    until(lambda: in_flight(st) == [1], "a's first in flight")
    b = send(st.port, "/k", {"X-Stuntman-Session": "b", "X-Seq": "b1"})
    until(lambda: sorted(in_flight(st)) == [1, 1], "b's first in flight")
    a2 = send(st.port, "/k", {"X-Stuntman-Session": "a", "X-Seq": "a2"})
    until(lambda: sorted(in_flight(st)) == [1, 2], "a's second in flight")
    for sock in (a, b, a2):
        leave(sock)
    until(lambda: len(journal(st)) == 3, "three journaled")
    met = {seq(e): fault_of(e, "load_latency")["state"]["inFlight"] for e in journal(st)}
    assert met == {"a1": 0, "b1": 0, "a2": 1}


def test_jitter_is_drawn_from_the_faults_seed(stuntman):
    spec = "- {{type: load_latency, base_ms: 10, per_inflight_ms: 100, jitter_ms: 40, seed: {seed}}}"

    def delays(st, path: str, n: int = 10) -> list[float]:
        api(st, "DELETE", "/__admin/requests")
        for _ in range(n):
            assert call(st.port, "GET", path)[0] == 200  # one at a time: none in flight ahead
        states = [fault_of(e, "load_latency")["state"] for e in journal(st)]
        assert all(state["inFlight"] == 0 for state in states)
        return [state["delayMs"] for state in states]

    st = stuntman({"s.yaml": stub("a", "/a", spec.format(seed=5)) + stub("b", "/b", spec.format(seed=6))},
                  admin_port=0)
    first = delays(st, "/a")
    assert all(10 <= d <= 50 for d in first) and len(set(first)) == 10
    assert delays(st, "/b") != first  # another seed, other delays
    rerun = stuntman({"s.yaml": stub("a", "/a", spec.format(seed=5))}, admin_port=0)
    assert delays(rerun, "/a") == first  # the same seed, the same delays
    # and a reset starts the generator afresh: the same sequence again
    api(rerun, "POST", "/__admin/faults/reset")
    assert delays(rerun, "/a") == first


# -- flap -----------------------------------------------------------------------------------------

def began(st, fault_id: str) -> float:
    """When the server first loaded the fault (its schedule starts there): monotonic seconds."""
    [at] = [t for key, t in st.server.fault_state.first_seen.items() if key.startswith(fault_id + ":")]
    return at


def sample(st, paths: list[str], seconds: float) -> list[tuple[str, float, float, int]]:
    """Requests round the paths, one at a time, for `seconds`: (path, sent, answered, status)."""
    out = []
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        path = paths[n % len(paths)]
        sent = time.monotonic()
        status = call(st.port, "GET", path, headers={"X-Seq": str(n)})[0]
        out.append((path, sent, time.monotonic(), status))
        n += 1
        time.sleep(0.005)
    return out


def met(st, samples, path: str, fault_id: str) -> list[tuple[float, float, tuple[float, float] | None]]:
    """What each request to `path` met, in seconds after its fault was first loaded: when it was
    sent and answered (it was decided in between), and for a 503 the end of its down phase as an
    interval (from the journal's phaseEndsInS). Only requests answered within 0.1 s: a slower
    one's moment of decision is too vague."""
    begins = began(st, fault_id)
    entries = {seq(e): e for e in journal(st)}
    out = []
    for n, (p, sent, answered, status) in enumerate(samples):
        if p != path or answered - sent > 0.1:
            continue
        flap = fault_of(entries[str(n)], "flap")
        assert (flap is not None) == (status == 503), (status, entries[str(n)]["faults"])
        end = None
        if flap is not None:
            assert flap["id"] == fault_id and flap["state"]["phase"] == "down"
            left = flap["state"]["phaseEndsInS"]
            end = (sent + left - 0.001 - begins, answered + left + 0.001 - begins)
        out.append((sent - begins, answered - begins, end))
    return out


def down_ends(seen: list) -> list[tuple[float, float]]:
    """The ends of the down phases the 503s met: the intersection of each phase's intervals."""
    merged: list[tuple[float, float]] = []
    for lo, hi in sorted(end for _, _, end in seen if end is not None):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (max(merged[-1][0], lo), min(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    assert all(lo <= hi for lo, hi in merged), merged  # the 503s of a phase agree on its end
    return merged


UP, DOWN = 0.2, 0.35


def phase(t: float) -> int:
    """The schedule's phase at `t` seconds after the first load: 0 up, 1 down, 2 up, ..."""
    cycles, into = divmod(t, UP + DOWN)
    return 2 * int(cycles) + (into >= UP)


def test_flap_phases_follow_the_schedule_from_the_first_load(stuntman):
    st = stuntman({"s.yaml": stub("f", "/f", f"- {{type: flap, up_s: {UP}, down_s: {DOWN}, "
                                             "fault: {type: error, status: 503}}")}, admin_port=0)
    samples = sample(st, ["/f"], 1.5)
    entries = {seq(e): e for e in journal(st)}
    fault_id = next(f["id"] for e in entries.values() for f in e["faults"])
    begins = began(st, fault_id)
    decisive = 0
    seen = []
    for n, (_, sent, answered, status) in enumerate(samples):
        phase_sent, phase_answered = phase(sent - begins), phase(answered - begins)
        flap = fault_of(entries[str(n)], "flap")
        assert (status == 503) == (flap is not None)
        if flap is not None:  # the journal's phase: down, ending where a down phase of the schedule ends
            state = flap["state"]
            assert state["phase"] == "down" and 0 <= state["phaseEndsInS"] <= DOWN + 0.001, state
            ends = [(t + state["phaseEndsInS"] - begins) / (UP + DOWN) for t in (sent, answered)]
            cycles = round(ends[0])  # (down phases end with a cycle)
            assert ends[0] - 0.01 <= cycles <= ends[1] + 0.01, (ends, state)
        if phase_sent == phase_answered:  # sent and answered in one phase: it decided
            decisive += 1
            assert status == (503 if phase_sent % 2 else 200), (n, sent - begins, status)
            if not seen or seen[-1] != phase_sent:
                seen.append(phase_sent)
    assert decisive >= 15
    assert seen == sorted(seen) and len({p % 2 for p in seen}) == 2 and len(seen) >= 3  # up, down, up...


def test_random_periods_repeat_with_the_same_seed(stuntman):
    # seed 53's phases (and 92's, a different schedule) all last at least 0.2 s for their first 3.5 s,
    # so a request sent and answered within 0.19 s before a down phase's end was decided in that phase
    flap = ("- {{type: flap, id: {id}, up_s: 0.4, down_s: 0.4, random: true, seed: {seed}, "
            "fault: {{type: error}}}}")
    st = stuntman({"s.yaml": stub("a", "/a", flap.format(id="fa", seed=53))
                   + stub("b", "/b", flap.format(id="fb", seed=53))
                   + stub("c", "/c", flap.format(id="fc", seed=92))}, admin_port=0)
    samples = sample(st, ["/a", "/b", "/c"], 2.0)
    seen = {p: met(st, samples, f"/{p}", f"f{p}") for p in "abc"}
    ends = {p: [end for end in down_ends(seen[p]) if end[1] < 3.5] for p in "abc"}

    def check(theirs: list, mine: list) -> tuple[set, int]:
        """Their down phases' ends, as my requests in the last 0.19 s before each met them:
        (the ends I confirmed, how many of my requests there contradicted them)."""
        confirmed, contradicted = set(), 0
        for lo, hi in theirs:
            for sent, answered, end in mine:
                if sent >= hi - 0.19 and answered <= lo - 0.002:
                    if end is not None and end[0] <= hi and lo <= end[1]:
                        confirmed.add((lo, hi))
                    else:
                        contradicted += 1
        return confirmed, contradicted

    confirmed, contradicted = check(ends["a"], seen["b"])
    assert contradicted == 0 and len(confirmed) >= 2, (ends, seen["b"])  # the same seed, the same schedule
    assert check(ends["b"], seen["a"])[1] == 0
    assert check(ends["a"], seen["c"])[1] >= 1, (ends, seen["c"])  # another seed, another schedule


def test_the_nested_faults_own_selection_applies_in_down_phases(stuntman):
    down = "- {{type: flap, up_s: 60, down_s: 60, start: {start}, fault: {fault}}}"
    st = stuntman({"s.yaml": stub("p", "/p", down.format(start="down", fault="{type: error, probability: 0.5, "
                                                                             "seed: 3}"))
                   + stub("n", "/n", down.format(start="down", fault="{type: error, status: 502, first_n: 2}"))
                   + stub("u", "/u", down.format(start="up", fault="{type: error}"))
                   + stub("l", "/l", down.format(start="down", fault="{type: latency, fixed_ms: 20}"))},
                  admin_port=0)
    first = statuses(st.port, "/p", 400)
    assert set(first) == {200, 503} and abs(first.count(503) - 200) <= 4 * 10  # 200 ± 4σ (σ = 10)
    api(st, "POST", "/__admin/faults/reset")
    assert statuses(st.port, "/p", 400) == first  # the nested fault's seed: the same decisions
    assert statuses(st.port, "/n", 4) == [502, 502, 200, 200]
    assert statuses(st.port, "/u", 5) == [200] * 5
    api(st, "DELETE", "/__admin/requests")
    status, headers, _ = call(st.port, "GET", "/l")
    [entry] = journal(st)
    [flap] = entry["faults"]
    assert status == 200 and headers["x-stuntman-fault"] == "flap" and entry["timing"]["totalMs"] >= 19
    assert flap["type"] == "flap" and flap["params"]["fault"]["fixed_ms"] == 20
    assert flap["state"]["phase"] == "down" and 0 < flap["state"]["phaseEndsInS"] <= 60
    assert flap["state"]["fault"] == {"delayMs": 20}
    # an up phase lets requests be: the journal shows no fault
    call(st.port, "GET", "/u")
    assert journal(st)[-1]["faults"] == []


def test_flap_at_runtime_through_the_admin_api(stuntman):
    st = stuntman({"s.yaml": "- name: users\n  request: {path: /users}\n  response: {body: ok}\n"}, admin_port=0)
    status, created = api(st, "POST", "/__admin/faults", {"type": "flap", "route": "users", "up_s": 60, "down_s": 60,
                                                           "start": "down", "fault": {"type": "error", "status": 503}})
    assert status == 201 and created["fault"] == {"type": "error", "status": 503}
    listed = {f["id"]: f for f in api(st, "GET", "/__admin/faults")[1]["faults"]}
    assert listed[created["id"]]["fault"]["status"] == 503
    assert call(st.port, "GET", "/users")[0] == 503
    [entry] = journal(st)
    ends = fault_of(entry, "flap")["state"]["phaseEndsInS"]
    # off and on again: the same definition, so the same schedule (it does not start afresh)
    fid = created["id"]
    assert api(st, "PATCH", f"/__admin/faults/{fid}", {"enabled": False})[0] == 200
    assert call(st.port, "GET", "/users")[0] == 200
    time.sleep(0.05)
    assert api(st, "PATCH", f"/__admin/faults/{fid}", {"enabled": True})[0] == 200
    assert call(st.port, "GET", "/users")[0] == 503
    assert fault_of(journal(st)[-1], "flap")["state"]["phaseEndsInS"] < ends
    # a changed nested fault
    status, patched = api(st, "PATCH", f"/__admin/faults/{fid}", {"fault": {"type": "error", "status": 502}})
    assert status == 200 and patched["fault"]["status"] == 502
    assert call(st.port, "GET", "/users")[0] == 502
    assert api(st, "PATCH", f"/__admin/faults/{fid}", {"start": "up"})[0] == 200
    assert call(st.port, "GET", "/users")[0] == 200
    # bad nested faults name the field; nothing changes
    for body, field, words in (
        ({"fault": {"type": "error", "status": 42}}, "fault.status", "greater than or equal to 200"),
        ({"fault": {"type": "flap", "up_s": 1, "down_s": 1, "fault": {"type": "error"}}}, "fault",
         "a flap cannot hold a flap"),
        ({"fault": {"type": "error", "route": "users"}}, "fault", "drop its `route`/`request`"),
        ({"fault": {"type": "boom"}}, "fault", "unknown fault type 'boom'"),
        ({"down_s": 0}, "down_s", "greater than 0"),
    ):
        status, answer = api(st, "POST", "/__admin/faults", {"type": "flap", "up_s": 1, "down_s": 1,
                                                             "fault": {"type": "error"}, **body})
        assert status == 400 and answer["errors"][0]["field"] == field, answer
        assert words in answer["errors"][0]["message"], answer
    assert call(st.port, "GET", "/users")[0] == 200
    assert api(st, "DELETE", f"/__admin/faults/{fid}")[0] == 200


def test_validate_names_the_nested_faults_field(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "- request: {path: /a}\n  response: {body: ok}\n  faults:\n"
        "    - type: flap\n      up_s: 5\n      down_s: 2\n      fault:\n        type: error\n        status: 99\n"
        "- request: {path: /b}\n  response: {body: ok}\n  faults:\n"
        "    - {type: flap, up_s: 5, down_s: 2, fault: {type: flap, up_s: 1, down_s: 1, fault: {type: error}}}\n"
        "    - {type: load_latency, per_inflight_ms: -1}\n")
    result = run_cli("validate", str(tmp_path))
    assert result.returncode == 1
    assert "s.yaml:9: [0].faults[0].fault.status: Input should be greater than or equal to 200" in result.stdout
    assert "s.yaml:13: [1].faults[0].fault: a flap's fault is the failing behaviour" in result.stdout
    assert "s.yaml:14: [1].faults[1].per_inflight_ms: Input should be greater than or equal to 0" in result.stdout


def test_the_schema_offers_every_other_kind_inside_a_flap():
    from stuntman.config.model import FAULT_TYPES, stub_file_schema

    defs = stub_file_schema()["$defs"]
    nested = defs["FlapFault"]["properties"]["fault"]
    refs = [kind["$ref"] for kind in nested["oneOf"]]
    assert "flap" not in nested["discriminator"]["mapping"] and "#/$defs/FlapFault" not in refs
    assert len(refs) == len(FAULT_TYPES) - 1 and "#/$defs/LoadLatencyFault" in refs
    assert defs["LoadLatencyFault"]["properties"]["key"]["pattern"].startswith("^(global|session")
