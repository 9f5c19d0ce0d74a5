#!/usr/bin/env python3
"""What serving and monitoring OpenAPI contracts costs per request, against a hand-written stub and
a plain proxy, all in the same run (configurations interleaved, the order rotated every round).

  openapi_serve.py [--quick] [--rounds 3] [--duration 10] [--warmup 1] [--conns 32]
                   [--configs NAME,...] [--resources 125]
  openapi_serve.py --instructions [--configs NAME,...] [--requests 1000,4000] [--jobs 2]
  openapi_serve.py --profile --configs NAME,... [--duration 10] [--top 15]

Configurations (fixtures in bench/stubs/openapi/; stuntman on CPU 1, wrk -t1 and nginx on CPU 0):

  1. stub vs contract, GET /api/v1/users/42:
     stub                 the hand-written stub of the comparison (bench/stubs/stub: bodyFile user.json)
     stub-template        the same stub with the path as a template, /api/v1/users/{id} (what the
                          template match costs, apart from the contract)
     contract             --openapi contract.yaml: operation GET /users/{id} (servers: /api/v1) whose
                          example is that same JSON; requests validated (the default)
     contract-novalidate  the same with --no-validate (what the path parameter check costs)
     generated            --openapi generated.yaml: the same operation without an example (data
                          generated from the schema, cached per path)
  2. validation, POST /api/v1/orders with a 4-field JSON body (one nested object) against a
     requestBody schema (required fields, a pattern, min/max) and a 201 example:
     post-validate        --openapi contract.yaml
     post-novalidate      --openapi contract.yaml --no-validate
     post-validate-distinct, post-novalidate-distinct: the same two with a counter in the body's
                          note, so no two bodies are alike (a valid body is remembered, by its
                          bytes, and not judged again: these measure the judging itself)
  3. big spec: the GET of 1. from a generated spec, bench/openapi_load.py's 500 operations
     (125 resources, 1,000 schemas, ~4 MB of YAML) plus contract.yaml's two operations last:
     contract-big         --openapi big.yaml (generated in a temp dir); also its load time (process
                          start to the port open) and VmRSS once loaded, next to contract's
  5. pacts (bench/stubs/pact/users.json, v4): the GET of 1. as an interaction, and the POST of 2.
     held to four body rules (regex, integer, type on a string and on an object):
     pact                 --pact users.json, GET /api/v1/users/42
     pact-post            --pact users.json, POST /api/v1/orders
  4. monitor, GET /api/v1/users/42 proxied to an nginx serving user.json (1 KB):
     proxy                bench/stubs/proxy (one stub that never matches) --upstream nginx
     monitor              the same + --openapi-monitor contract.yaml (request and response checked)
     monitor-header       the same + --contract-header (the proxied response held whole, a header added)

Goals (issue): a contract route costs the same CPU per request as a hand-written stub (contract /
stub); validation adds at most 20% (post-validate / post-novalidate <= 1.20, and the same for
the -distinct pair); per-request CPU does
not grow with the spec (contract-big / contract). The monitor ratios are reported, no goal.

Wall-clock mode (default): for every configuration and round, stuntman is started, checked (the
body and status it answers; the monitor's verdict is ok, and no violation counted), warmed up, and
measured with wrk -t1 -cN for --duration s: req/s and SUT CPU µs/request (utime+stime of the
stuntman process / requests, /proc/PID/stat). Medians (min-max) over rounds; the ratios are of the
medians, with the per-round ratios (same round, so the same load) next to them.

--instructions: each configuration of 1, 2 and 4 (and 3 with --configs contract-big) under
valgrind's callgrind, answering N1 then N2 requests on one keep-alive connection (as
bench/instructions.py): (I2 - I1) / (N2 - N1) = user-space instructions per request, which do not
move with the machine's load.

--profile: each configuration under cProfile for --duration s of wrk: the top functions by self
time, µs per request, with file:line (bench/results/openapi-serve-profile-STAMP.md and the .prof
files).

Report and raw data: bench/results/openapi-serve[-quick|-instructions]-STAMP.{md,json}.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import instructions  # noqa: E402
import openapi_load  # noqa: E402
from faults import delta, machine  # noqa: E402
from scale import (  # noqa: E402
    CLK,
    FIXTURE,
    GEN_CPU,
    HERE,
    HOST,
    ROOT,
    SUT_CPU,
    busy_pct,
    cpu_busy,
    free_port,
    proc_cpu_ticks,
    proc_mem_kb,
    stuntman_rev,
    write_report,
)

SPECS = os.path.join(HERE, "stubs", "openapi")
CONTRACT = os.path.join(SPECS, "contract.yaml")
GENERATED = os.path.join(SPECS, "generated.yaml")
PACT = os.path.join(HERE, "stubs", "pact", "users.json")
WRK_COUNT = os.path.join(HERE, "wrk_count.lua")
GET_URL = "/api/v1/users/42"
POST_URL = "/api/v1/orders"
ORDER = {"sku": "ABC-1234", "qty": 2, "note": "leave it at the door",
         "customer": {"id": 42, "email": "ada@example.com"}}
ORDER_BODY = json.dumps(ORDER, separators=(",", ":"))
GOAL_CONTRACT, GOAL_VALIDATE, GOAL_BIG = 1.05, 1.20, 1.05

# name -> (group, what, stuntman arguments after `run` ({empty}, {big}, {upstream} filled in), method)
CONFIGS: dict[str, tuple[str, str, str, str]] = {
    "stub": ("1", "hand-written stub (bodyFile user.json)", f"--stubs {HERE}/stubs/stub", "GET"),
    "stub-template": ("1", "the same stub, path template /api/v1/users/{id}", "--stubs {stubtpl}", "GET"),
    "contract": ("1", "--openapi contract.yaml, example", f"--stubs {{empty}} --openapi {CONTRACT}", "GET"),
    "contract-novalidate": ("1", "--openapi contract.yaml --no-validate",
                            f"--stubs {{empty}} --openapi {CONTRACT} --no-validate", "GET"),
    "generated": ("1", "--openapi generated.yaml, no example (generated)",
                  f"--stubs {{empty}} --openapi {GENERATED}", "GET"),
    "post-validate": ("2", "POST, --openapi contract.yaml (validated)", f"--stubs {{empty}} --openapi {CONTRACT}",
                      "POST"),
    "post-novalidate": ("2", "POST, --openapi contract.yaml --no-validate",
                        f"--stubs {{empty}} --openapi {CONTRACT} --no-validate", "POST"),
    "post-validate-distinct": ("2", "POST, every body different (none remembered), validated",
                               f"--stubs {{empty}} --openapi {CONTRACT}", "POST"),
    "post-novalidate-distinct": ("2", "POST, every body different, --no-validate",
                                 f"--stubs {{empty}} --openapi {CONTRACT} --no-validate", "POST"),
    "pact": ("5", "--pact users.json: GET, the same 1 KB user", f"--stubs {{empty}} --pact {PACT}", "GET"),
    "pact-post": ("5", "--pact users.json: POST the order, its body held to 4 rules",
                  f"--stubs {{empty}} --pact {PACT}", "POST"),
    "contract-big": ("3", "--openapi big.yaml (502 operations), example", "--stubs {empty} --openapi {big}", "GET"),
    "proxy": ("4", "proxy to nginx (1 KB JSON)", f"--stubs {HERE}/stubs/proxy --upstream {{upstream}}", "GET"),
    "monitor": ("4", "proxy + --openapi-monitor contract.yaml",
                f"--stubs {HERE}/stubs/proxy --upstream {{upstream}} --openapi-monitor {CONTRACT}", "GET"),
    "monitor-header": ("4", "proxy + --openapi-monitor + --contract-header",
                       f"--stubs {HERE}/stubs/proxy --upstream {{upstream}} --openapi-monitor {CONTRACT} "
                       "--contract-header", "GET"),
}
DEFAULT_INSTR = [c for c in CONFIGS if c != "contract-big"]
# (numerator, denominator, label, goal or None)
RATIOS = [
    ("contract", "stub", "contract route (example) / hand-written stub", GOAL_CONTRACT),
    ("stub-template", "stub", "stub, template path / exact path", None),
    ("contract-novalidate", "stub", "contract route, --no-validate / stub", None),
    ("contract-novalidate", "stub-template", "contract route, --no-validate / template stub", None),
    ("generated", "stub", "generated (no example) / stub", GOAL_CONTRACT),
    ("contract", "contract-novalidate", "GET validation on / off (path parameter)", None),
    ("post-validate", "post-novalidate", "POST validation on / off", GOAL_VALIDATE),
    ("post-validate-distinct", "post-novalidate-distinct", "POST validation on / off, every body different",
     GOAL_VALIDATE),
    ("contract-big", "contract", "502-operation spec / 2-operation spec", GOAL_BIG),
    ("pact", "stub", "pact interaction / hand-written stub", None),
    ("pact-post", "post-novalidate", "pact POST (body rules) / contract POST, not validated", None),
    ("monitor", "proxy", "--openapi-monitor / plain proxy", None),
    ("monitor-header", "proxy", "--openapi-monitor --contract-header / plain proxy", None),
    ("monitor-header", "monitor", "--contract-header / --openapi-monitor", None),
]


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------
def big_spec(path: Path, resources: int) -> Path:
    """openapi_load.py's generated spec (4 operations per resource, servers -> /api/v1) with
    contract.yaml's operations and schemas added last (so a linear search would meet them last)."""
    import yaml

    openapi_load.generate(path, resources)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc = yaml.load(path.read_text(), Loader=loader)
    small = yaml.load(Path(CONTRACT).read_text(), Loader=loader)
    doc["paths"].update(small["paths"])
    doc["components"]["schemas"].update(small["components"]["schemas"])
    path.write_text(yaml.dump(doc, Dumper=dumper, sort_keys=False, width=120))
    return path


def scratch_dirs(work: Path) -> dict[str, str]:
    """The directories the configurations' arguments name: an empty --stubs for the contracts, and
    for stub-template the hand-written stub with its path as a template (what a template route's
    matching costs, apart from the contract)."""
    (work / "empty").mkdir()
    tpl = work / "stub-template"
    (tpl / "__files").mkdir(parents=True)
    shutil.copy(FIXTURE, tpl / "__files" / "user.json")
    (tpl / "users.yaml").write_text(
        "- name: user\n  request: {method: GET, path: \"/api/v1/users/{id}\"}\n"
        "  response: {status: 200, headers: {Content-Type: application/json}, bodyFile: __files/user.json}\n")
    return {"empty": str(work / "empty"), "stubtpl": str(tpl), "upstream": "", "big": ""}


def post_lua(work: Path, distinct: bool = False) -> str:
    """wrk script: POST the order (distinct: with a counter in its note, so no two bodies are the
    same), then bench/wrk_count.lua (its done() prints the WRKJSON line)."""
    p = work / ("post_order_distinct.lua" if distinct else "post_order.lua")
    text = (f'wrk.method = "POST"\nwrk.body = {json.dumps(ORDER_BODY)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n')
    if distinct:
        template = json.dumps(distinct_body("%08d").decode())
        text += ('local sent = 0\nrequest = function()\n  sent = sent + 1\n'
                 f'  return wrk.format(nil, nil, nil, string.format({template}, sent))\nend\n')
    p.write_text(text + f"dofile({json.dumps(WRK_COUNT)})\n")
    return str(p)


def distinct_body(counter: str) -> bytes:
    """The order with `counter` in its note: a different body per request, all of one length."""
    return json.dumps({**ORDER, "note": f"order {counter}"}, separators=(",", ":")).encode()


def script_for(name: str, scripts: dict[str, str]) -> tuple[str, str]:
    """(path, wrk script) of a configuration."""
    if CONFIGS[name][3] != "POST":
        return GET_URL, scripts["GET"]
    return POST_URL, scripts["POST-distinct" if name.endswith("-distinct") else "POST"]


def command(binary: str, name: str, fill: dict, port: int, admin: int) -> list[str]:
    return [binary, "run", *shlex.split(CONFIGS[name][2].format(**fill)), "--host", HOST, "--port", str(port),
            "--admin-port", str(admin)]


# ---------------------------------------------------------------------------------------------
# wall clock
# ---------------------------------------------------------------------------------------------
def request(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 5.0):
    import http.client

    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def metrics(admin: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{HOST}:{admin}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v)
    return out


def run_wrk(port: int, path: str, conns: int, duration: float, script: str) -> dict:
    argv = ["taskset", "-c", GEN_CPU, "wrk", "-t1", f"-c{conns}", f"-d{max(1, round(duration))}s", "--timeout", "2s",
            "-s", script, f"http://{HOST}:{port}{path}"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                       env=dict(os.environ, WRK_REQUESTS="0"))
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {p.stdout[-400:]} {p.stderr[-400:]}")
    r = json.loads(line[8:])
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def check(name: str, port: int, admin: int, user: dict) -> str | None:
    """None if the configuration answers what it should, else what is wrong."""
    method = CONFIGS[name][3]
    if method == "POST":
        st, _, body = request(port, "POST", POST_URL, ORDER_BODY.encode())
        if st != 201:
            return f"POST answered {st}: {body[:200]!r}"
        if name.startswith("post-validate"):  # validation is really on
            bad = dict(ORDER, sku="abc", qty=0)
            st, _, body = request(port, "POST", POST_URL, json.dumps(bad).encode())
            if st != 400:
                return f"an invalid order got {st}, not 400"
        if name == "pact-post":  # the rules are really applied
            st, _, body = request(port, "POST", POST_URL, json.dumps(dict(ORDER, qty="two")).encode())
            if st != 404:
                return f"an order breaking the pact got {st}, not 404"
        return None
    st, headers, body = request(port, "GET", GET_URL)
    if st != 200:
        return f"GET answered {st}: {body[:200]!r}"
    if name == "generated":
        if not isinstance(json.loads(body), dict):
            return "generated body is not an object"
    elif json.loads(body) != user:
        return f"body is not user.json: {body[:200]!r}"
    if name == "monitor-header" and headers.get("x-stuntman-contract") != "ok":
        return f"X-Stuntman-Contract: {headers.get('x-stuntman-contract')!r}"
    return None


def one_run(args, name: str, fill: dict, scripts: dict, user: dict, work: Path, tag: str) -> dict:
    port, admin = free_port(), free_port()
    argv = ["taskset", "-c", SUT_CPU] + command(args.stuntman, name, fill, port, admin)
    log = work / f"{tag}.log"
    res: dict = {"config": name}
    with open(log, "ab") as lf:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        while True:  # the port opens once everything is loaded (the listener starts after the load)
            if p.poll() is not None:
                raise RuntimeError(f"exited with {p.returncode}: {log.read_text(errors='replace')[-600:]}")
            if time.monotonic() - t0 > 180:
                raise RuntimeError("port not open after 180 s")
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.01)
        res["port_open_s"] = time.monotonic() - t0
        res["rss_loaded_kb"] = proc_mem_kb(p.pid)
        err = check(name, port, admin, user)
        if err:
            raise RuntimeError(err)
        _, _, body = request(port, CONFIGS[name][3], POST_URL if CONFIGS[name][3] == "POST" else GET_URL,
                             ORDER_BODY.encode() if CONFIGS[name][3] == "POST" else None)
        res["body_bytes"] = len(body)
        path, script = script_for(name, scripts)
        if args.warmup > 0:
            run_wrk(port, path, args.conns, args.warmup, script)
        m0 = metrics(admin) if name.startswith("monitor") else {}
        c0, b0 = proc_cpu_ticks(p.pid), cpu_busy()
        r = run_wrk(port, path, args.conns, args.duration, script)
        c1, b1 = proc_cpu_ticks(p.pid), cpu_busy()
        res.update(r)
        res["cpu_us"] = (c1 - c0) / CLK * 1e6 / max(1, r["requests"])
        res["proc_pct"] = 100.0 * (c1 - c0) / CLK / max(1e-9, r["duration_us"] / 1e6)
        res["sut_pct"], res["gen_pct"] = busy_pct(b0, b1, SUT_CPU), busy_pct(b0, b1, GEN_CPU)
        res["rss_after_kb"] = proc_mem_kb(p.pid)
        if name.startswith("monitor"):
            m1 = metrics(admin)
            res["violations"] = delta(m0, m1, "stuntman_contract_violations_total")
        if p.poll() is not None:
            raise RuntimeError(f"stuntman died during the run (rc {p.returncode})")
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        res["error"] = str(e)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
    return res


def upstream_nginx(work: Path) -> tuple[subprocess.Popen, int]:
    """bench/instructions.py's nginx (user.json at /api/v1/users/42); started from this process, so
    on CPU 0 like wrk (as the comparison's upstream)."""
    d = work / "nginx"
    d.mkdir()
    work.chmod(0o755)  # nginx's worker (nobody) reads the fixture under it
    return instructions.nginx_upstream(d)


def prepare(args, configs: list[str], work: Path) -> tuple[dict, subprocess.Popen | None, dict]:
    """What the configurations need, for every mode: the scratch stub directories, the big spec
    (when contract-big is measured) and the upstream nginx (when a proxy row is)."""
    fill = scratch_dirs(work)
    big_info: dict = {}
    if "contract-big" in configs:
        t = time.monotonic()
        big = big_spec(work / "big.yaml", args.resources)
        fill["big"] = str(big)
        big_info = {"bytes": big.stat().st_size, "operations": 4 * args.resources + 2,
                    "generated_s": time.monotonic() - t}
        print(f"# big spec: {big_info['bytes'] / 1e6:.1f} MB, {big_info['operations']} operations", flush=True)
    nginx = None
    if any(CONFIGS[c][0] == "4" for c in configs):
        nginx, up = upstream_nginx(work)
        fill["upstream"] = f"http://{HOST}:{up}"
    return fill, nginx, big_info


def cmd_wallclock(args, configs: list[str], work: Path) -> int:
    user = json.loads(Path(FIXTURE).read_bytes())
    scripts = {"GET": WRK_COUNT, "POST": post_lua(work), "POST-distinct": post_lua(work, distinct=True)}
    fill, nginx, big_info = prepare(args, configs, work)
    results: dict[str, list[dict]] = {c: [] for c in configs}
    loads = []
    try:
        print(f"# {args.rounds} round(s) x {args.duration:g} s, wrk -t1 -c{args.conns}; {len(configs)} configurations, "
              f"order rotated every round; load {os.getloadavg()}", flush=True)
        for rnd in range(args.rounds):
            order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
            if rnd % 2 == 1:
                order.reverse()
            loads.append(os.getloadavg())
            for name in order:
                res = one_run(args, name, fill, scripts, user, work, f"{name}-r{rnd}")
                res["round"] = rnd
                results[name].append(res)
                if "error" in res:
                    print(f"  r{rnd} {name:20} ERROR {res['error']}", flush=True)
                else:
                    print(f"  r{rnd} {name:20} {res['rps']:>9,.0f} req/s {res['cpu_us']:6.2f} us/req  "
                          f"p50 {res['p50'] / 1000:.2f} ms  err {res['errors']}  stuntman {res['proc_pct']:.0f}%  "
                          f"cpu1 {res['sut_pct']:.0f}%  cpu0 {res['gen_pct']:.0f}%  "
                          f"open {res['port_open_s']:.2f}s  rss {res['rss_loaded_kb']['VmRSS'] / 1024:.1f} MB"
                          + (f"  violations {res['violations']}" if "violations" in res else ""), flush=True)
        loads.append(os.getloadavg())
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
    args.rev_end = stuntman_rev(args.stuntman)
    tag = "openapi-serve-quick" if args.quick else "openapi-serve"
    write_report(args.out_dir, tag, render(args, configs, results, big_info, loads),
                 {"args": {k: v for k, v in vars(args).items()}, "big": big_info, "loads": loads, "results": results})
    return 1 if any("error" in r for rs in results.values() for r in rs) else 0


def ok(rs: list[dict]) -> list[dict]:
    return [r for r in rs if "error" not in r]


def mm(rs: list[dict], key, f: str) -> str:
    vals = [key(r) if callable(key) else r[key] for r in rs]
    if len(vals) == 1:
        return f.format(vals[0])
    return f"{f.format(statistics.median(vals))} ({f.format(min(vals))}-{f.format(max(vals))})"


def verdict(ratio: float, goal: float | None) -> str:
    if goal is None:
        return ""
    return f"<= {goal:.2f}: {'met' if ratio <= goal else '**missed**'}"


def render(args, configs, results, big_info, loads) -> str:
    L = [f"# stuntman: OpenAPI contracts served and monitored, per request ({time.strftime('%Y-%m-%d %H:%M:%S %Z')})",
         "", f"stuntman measured: {args.rev_start}"
         + ("" if args.rev_start == args.rev_end else f" at the start, {args.rev_end} at the end (changed!)"),
         "", f"Machine: {machine()}. Load average (1/5/15 min) at the start of each round and at the end: "
         + "; ".join("/".join(f"{x:.2f}" for x in la) for la in loads) + ".", "",
         f"wrk -t1 -c{args.conns} -d{args.duration:g}s on CPU 0 (after {args.warmup:g} s of warm-up), "
         "stuntman on CPU 1, "
         f"restarted every run; {args.rounds} round(s), the {len(configs)} configurations interleaved (order rotated). "
         "Medians (min-max). CPU µs/req = stuntman's utime+stime / requests. cpu0 = wrk's core busy % "
         "(with nginx for the proxy rows); stuntman % = its own CPU, % of a core.", "",
         "| # | config | what | req/s | CPU µs/req | p50 / p99 ms | stuntman % | cpu0 % | body B | port open s | "
         "VmRSS loaded MB | errors |",
         "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in configs:
        rs = ok(results[c])
        failed = len(results[c]) - len(rs)
        if not rs:
            L.append(f"| {CONFIGS[c][0]} | {c} | {CONFIGS[c][1]} | FAILED | | | | | | | | {failed} failed |")
            continue
        errs = sum(r["errors"] for r in rs)
        reqs = sum(r["requests"] for r in rs)
        viol = sum(r.get("violations", 0) for r in rs)
        L.append(
            f"| {CONFIGS[c][0]} | {c} | {CONFIGS[c][1]} | {mm(rs, 'rps', '{:,.0f}')} | {mm(rs, 'cpu_us', '{:.2f}')} | "
            f"{statistics.median(r['p50'] for r in rs) / 1000:.2f} / "
            f"{statistics.median(r['p99'] for r in rs) / 1000:.2f} | "
            f"{statistics.median(r['proc_pct'] for r in rs):.0f} | {statistics.median(r['gen_pct'] for r in rs):.0f} | "
            f"{rs[0]['body_bytes']} | {mm(rs, 'port_open_s', '{:.2f}')} | "
            f"{mm(rs, lambda r: r['rss_loaded_kb']['VmRSS'] / 1024, '{:.1f}')} | {errs} / {reqs:,}"
            + (f", {viol} violations" if c.startswith("monitor") else "")
            + (f", {failed} failed runs" if failed else "")
            + " |")
    L += ["", "Ratios of CPU µs/request (median / median; per round: the two runs of the same round):", "",
          "| ratio | CPU µs/req | per round | req/s ratio | goal |", "|---|---:|---|---:|---|"]
    for a, b, label, goal in RATIOS:
        if a not in configs or b not in configs:
            continue
        ra, rb = ok(results[a]), ok(results[b])
        if not ra or not rb:
            continue
        x = statistics.median(r["cpu_us"] for r in ra) / statistics.median(r["cpu_us"] for r in rb)
        y = statistics.median(r["rps"] for r in ra) / statistics.median(r["rps"] for r in rb)
        byr = {r["round"]: r for r in rb}
        per = ", ".join(f"{r['cpu_us'] / byr[r['round']]['cpu_us']:.3f}" for r in ra if r["round"] in byr)
        L.append(f"| {label} (`{a}` / `{b}`) | **{x:.3f}** | {per} | {y:.3f} | {verdict(x, goal)} |")
    if big_info:
        L += ["", f"Big spec: {big_info['bytes'] / 1e6:.2f} MB of YAML, {big_info['operations']} operations "
              f"(bench/openapi_load.py's {big_info['operations'] - 2} + contract.yaml's 2, last). Port open = time "
              "from the process start (taskset exec) to the data-plane port accepting a connection, i.e. the spec "
              "loaded, compiled and the routes built; VmRSS read right then, before any request."]
    bad = [(c, r) for c in configs for r in results[c] if "error" in r]
    if bad:
        L += ["", "Failures:", ""] + [f"- {c} r{r['round']}: {r['error']}" for c, r in bad]
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------------------------------------
# instructions (callgrind)
# ---------------------------------------------------------------------------------------------
def raw_request(name: str, i: int) -> bytes:
    """The i-th request a configuration is measured with."""
    if CONFIGS[name][3] == "POST":
        body = distinct_body(f"{i:08d}") if name.endswith("-distinct") else ORDER_BODY.encode()
        return (b"POST " + POST_URL.encode() + b" HTTP/1.1\r\nHost: bench\r\nUser-Agent: instructions\r\n"
                b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return instructions.REQUEST


def drive(port: int, count: int, name: str) -> None:
    """bench/instructions.py's drive with the configuration's requests: count, one at a time."""
    want = b"HTTP/1.1 201" if CONFIGS[name][3] == "POST" else b"HTTP/1.1 200"
    with socket.create_connection((HOST, port), timeout=60) as sock:
        buf = b""
        for i in range(count):
            sock.sendall(raw_request(name, i))
            while b"\r\n\r\n" not in buf:
                buf += instructions._recv(sock)
            head, _, buf = buf.partition(b"\r\n\r\n")
            if not head.startswith(want):
                raise RuntimeError(f"unexpected answer: {head[:300]!r}")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            while len(buf) < length:
                buf += instructions._recv(sock)
            buf = buf[length:]


def count(binary: str, name: str, n: int, fill: dict, work: Path) -> int:
    port, admin = free_port(), free_port()
    out = work / f"callgrind.{name}.{n}.{time.monotonic_ns()}"
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                             *command(binary, name, fill, port, admin)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    try:
        instructions.wait_port(port, proc, timeout=900)
        drive(port, n, name)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(300)
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def cmd_instructions(args, configs: list[str], work: Path) -> int:
    if not shutil.which("valgrind"):
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    low, high = (int(n) for n in args.requests.split(","))
    fill, nginx, _ = prepare(args, configs, work)
    load0 = os.getloadavg()
    per: dict[str, float] = {}
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
            futs = {(c, n): ex.submit(count, args.stuntman, c, n, fill, work) for c in configs for n in (low, high)}
            for c in configs:
                a, b = futs[(c, low)].result(), futs[(c, high)].result()
                per[c] = (b - a) / (high - low)
                print(f"  {c:20} {per[c]:>10,.0f} instructions/request", flush=True)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
    args.rev_end = stuntman_rev(args.stuntman)
    L = [f"# stuntman: OpenAPI contracts, instructions per request ({time.strftime('%Y-%m-%d %H:%M:%S %Z')})", "",
         f"stuntman measured: {args.rev_start}"
         + ("" if args.rev_start == args.rev_end else f" at the start, {args.rev_end} at the end (changed!)"), "",
         f"valgrind --tool=callgrind; each configuration answers {low:,} then {high:,} requests on one keep-alive "
         f"connection; (I{high} - I{low}) / {high - low:,} = user-space instructions per request (the kernel's "
         f"socket work is not counted). Load average {load0[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the "
         "end (the counts do not depend on it).", "",
         "| # | config | what | instructions / request |", "|---|---|---|---:|"]
    for c in configs:
        L.append(f"| {CONFIGS[c][0]} | {c} | {CONFIGS[c][1]} | {per[c]:,.0f} |")
    L += ["", "| ratio | instructions | goal (on CPU µs/req) |", "|---|---:|---|"]
    for a, b, label, goal in RATIOS:
        if a in per and b in per:
            x = per[a] / per[b]
            L.append(f"| {label} (`{a}` / `{b}`) | **{x:.3f}** ({per[a] - per[b]:+,.0f}) | "
                     f"{'' if goal is None else f'<= {goal:.2f}'} |")
    L += ["", "A ratio of user-space instructions overstates the ratio of CPU time: a request's kernel work "
          "(loopback socket reads and writes, ~60% of stuntman's CPU in bench/README.md's profile) is the same "
          "in both and is not counted here."]
    write_report(args.out_dir, "openapi-serve-instructions", "\n".join(L) + "\n",
                 {"args": vars(args), "instructions_per_request": per})
    return 0


# ---------------------------------------------------------------------------------------------
# profile (cProfile)
# ---------------------------------------------------------------------------------------------
def cmd_profile(args, configs: list[str], work: Path) -> int:
    """Each configuration under cProfile (deterministic; stuntman ~2x slower) for --duration s of wrk:
    the top functions by self time, in µs per request, with file:line."""
    import pstats

    scripts = {"GET": WRK_COUNT, "POST": post_lua(work), "POST-distinct": post_lua(work, distinct=True)}
    fill, nginx, _ = prepare(args, configs, work)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.out_dir, exist_ok=True)
    py = os.path.join(os.path.dirname(args.stuntman), "python")
    per_req: dict[str, dict] = {}
    L = [f"# stuntman: OpenAPI configurations under cProfile ({time.strftime('%Y-%m-%d %H:%M:%S %Z')})", "",
         f"stuntman measured: {args.rev_start}", "",
         f"wrk -t1 -c{args.conns} -d{args.duration:g}s after a warm-up; stuntman on CPU 1 with cProfile on for the "
         "measured run only (start-up and warm-up left out). Self time "
         "(tottime) per request in µs (cProfile's clock, inflated by its own overhead: compare rows, not with "
         f"the wall-clock table). Load average {os.getloadavg()[0]:.2f} at the start.", ""]
    try:
        for name in configs:
            port, admin = free_port(), free_port()
            prof = os.path.join(args.out_dir, f"openapi-serve-profile-{name}-{stamp}.prof")
            argv = command(args.stuntman, name, fill, port, admin)
            argv = ["taskset", "-c", SUT_CPU, py, "-c", PROFILED, prof, *argv[1:]]
            with open(work / f"{name}-profile.log", "ab") as lf:
                p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
            try:
                instructions.wait_port(port, p, timeout=300)
                path, script = script_for(name, scripts)
                run_wrk(port, path, args.conns, max(1.0, args.warmup), script)
                p.send_signal(signal.SIGUSR1)  # profile from here (start-up and warm-up left out) ...
                time.sleep(0.2)
                r = run_wrk(port, path, args.conns, args.duration, script)
                p.send_signal(signal.SIGUSR2)  # ... to here
                deadline = time.monotonic() + 60
                while not os.path.exists(prof) and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(0.5)
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait(60)
            st = pstats.Stats(prof)
            reqs = max(1, r["requests"])
            per_req[name] = {k: (v[1] / reqs, v[2] / reqs * 1e6) for k, v in st.stats.items()}
            rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)
            total = sum(v[2] for _, v in rows)
            L += [f"## {name}: {CONFIGS[name][1]}", "",
                  f"{r['rps']:,.0f} req/s under the profiler, {r['requests']:,} requests, errors {r['errors']}; "
                  f"profiled self time {total / reqs * 1e6:.1f} µs/request. `{os.path.relpath(prof, ROOT)}`", "",
                  "| # | function (file:line) | calls/req | self µs/req | % | cumulative µs/req |",
                  "|---:|---|---:|---:|---:|---:|"]
            for i, ((file, line, fn), (_, nc, tt, ct, _)) in enumerate(rows[:args.top], 1):
                where = fn if file == "~" else f"{fn} ({short(file)}:{line})"
                L.append(f"| {i} | `{where}` | {nc / reqs:.2f} | {tt / reqs * 1e6:.2f} | {100 * tt / total:.1f} | "
                         f"{ct / reqs * 1e6:.2f} |")
            L.append("")
            print(f"  {name}: {r['rps']:,.0f} req/s, {total / reqs * 1e6:.1f} profiled µs/request", flush=True)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
    for a, b, label, _ in RATIOS:
        if a not in per_req or b not in per_req:
            continue
        pa, pb = per_req[a], per_req[b]
        grow = sorted(((pa[k][1] - pb.get(k, (0, 0))[1], k) for k in pa), reverse=True)[:args.top]
        L += [f"## What `{a}` adds to `{b}` ({label})", "",
              f"Profiled self time {sum(v[1] for v in pa.values()):.1f} vs {sum(v[1] for v in pb.values()):.1f} "
              "µs/request. The functions whose self time per request grew most (a function not called at all in "
              f"`{b}` shows 0 calls there):", "",
              f"| # | function (file:line) | calls/req `{a}` / `{b}` | self µs/req `{a}` / `{b}` | added µs/req |",
              "|---:|---|---:|---:|---:|"]
        for i, (d, k) in enumerate(grow, 1):
            file, line, fn = k
            where = fn if file == "~" else f"{fn} ({short(file)}:{line})"
            ca, ta = pa[k]
            cb, tb = pb.get(k, (0.0, 0.0))
            L.append(f"| {i} | `{where}` | {ca:.2f} / {cb:.2f} | {ta:.2f} / {tb:.2f} | {d:+.2f} |")
        L.append("")
    mdp = os.path.join(args.out_dir, f"openapi-serve-profile-{stamp}.md")
    with open(mdp, "w") as f:
        f.write("\n".join(L) + "\n")
    print("\n" + "\n".join(L) + f"\n# report: {mdp}")
    return 0


# `python -c PROFILED OUT run ...`: stuntman's CLI with cProfile switched on by SIGUSR1 and off (and the
# stats written to OUT) by SIGUSR2; the handlers run on the main thread, the event loop's.
PROFILED = """
import cProfile, signal, sys
out = sys.argv[1]
sys.argv = ["stuntman"] + sys.argv[2:]
prof = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *_: prof.enable())
def stop(*_):
    prof.disable()
    prof.dump_stats(out)
signal.signal(signal.SIGUSR2, stop)
from stuntman.cli import main
sys.exit(main())
"""


def short(file: str) -> str:
    """proxy/stuntman/... or site-packages/... relative path of a profiled function's file."""
    for mark in ("/stuntman/", "/site-packages/", "/lib/python3"):
        if mark in file:
            return ("stuntman/" if mark == "/stuntman/" else "") + file.split(mark, 1)[1]
    return file


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stuntman",
                    default=os.environ.get("BENCH_STUNTMAN", os.path.join(ROOT, ".venv", "bin", "stuntman")))
    ap.add_argument("--configs", default="", help=f"comma-separated, from {', '.join(CONFIGS)} (default: all; "
                    "with --instructions all but contract-big)")
    ap.add_argument("--quick", action="store_true", help="1 round x 3 s (a smoke check)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--resources", type=int, default=125, help="big spec: 4 operations per resource")
    ap.add_argument("--instructions", action="store_true", help="callgrind instructions per request instead")
    ap.add_argument("--profile", action="store_true", help="cProfile each configuration instead (top by self time)")
    ap.add_argument("--top", type=int, default=15, help="--profile: rows per configuration")
    ap.add_argument("--requests", default="1000,4000", help="--instructions: the two request counts")
    ap.add_argument("--jobs", type=int, default=2, help="--instructions: valgrind runs at a time")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.duration = 1, 3.0
    configs = [c for c in args.configs.split(",") if c] or (DEFAULT_INSTR if args.instructions else list(CONFIGS))
    for c in configs:
        if c not in CONFIGS:
            raise SystemExit(f"unknown config {c!r}; one of {', '.join(CONFIGS)}")
    if not args.instructions:  # wrk, nginx and this script on CPU 0 (callgrind runs are not pinned)
        os.sched_setaffinity(0, {int(GEN_CPU)})
    args.rev_start = args.rev_end = stuntman_rev(args.stuntman)
    with tempfile.TemporaryDirectory(prefix="stuntman-openapi-serve-") as tmp:
        work = Path(tmp)
        if args.instructions:
            return cmd_instructions(args, configs, work)
        if args.profile:
            return cmd_profile(args, configs, work)
        return cmd_wallclock(args, configs, work)


if __name__ == "__main__":
    sys.exit(main())
