#!/usr/bin/env python3
"""Many-stubs benchmarks for stuntman (called by bench/run.sh --scale / --rss).

  scale.py scale [--kinds K,...] [--stubs 1000] [--rounds 3] [--duration 10] [--conns 32]
      For each kind of path matcher, start stuntman with 1 stub and with N stubs (the stub that
      matches the request is the LAST one in file order, so nothing can win by coming early) and
      run wrk at the matching URL. Reports req/s and SUT CPU us/req for 1 vs N and the change in %.
      Rounds interleave 1 and N (order flipped every round); the table shows medians and min-max.

  scale.py rss [--stubs 1000] [--requests 1000000] [--conns 32]
      N stubs loaded (a mix of exact, template and regex paths; the last one serves GET
      /api/v1/users/42 with the 1 KB fixture), 2 x requests/2 requests with wrk at that URL; VmRSS and
      VmHWM of the stuntman process read from /proc before, at half way and after (plus a sample every
      second while wrk runs).

Pinned like the shared harness: stuntman on CPU 1 (taskset -c 1), wrk -t1 and this script on CPU 0.
Everything on 127.0.0.1; every process started here is stopped by PID.

Kinds (N stubs; each stub answers 200 with a small JSON body, the matching one with the 1 KB fixture):
  exact            /api/v1/{noun}/{i}                          20 nouns, e.g. /api/v1/orders/17
  template         a realistic mix: /api/v{1-3}/{noun}{i}/{id}, /api/v{1-3}/{noun}/{id}/rel{i},
                   /api/v{1-3}/{noun}/{id}/rel{i}/{sub}           (many share /api/vX/{noun}/{id}/)
  template-shared  /api/v1/items/{id}/v{i}                     every template has the same literal prefix
  template-partial /api/v1/files/{name}.v{i}                   a parameter inside a segment, same prefix
  regex            pathRegex /api/v1/r{i}/[0-9]+               distinct literal prefixes
  regex-shared     pathRegex /api/v1/items/[0-9]+/v{i}         every regex has the same literal prefix
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURE = os.path.join(HERE, "stubs", "stub", "__files", "user.json")
LUA = os.path.join(HERE, "wrk_count.lua")
GEN_CPU, SUT_CPU = "0", "1"
HOST = "127.0.0.1"
CLK = os.sysconf("SC_CLK_TCK")
NOUNS = ["users", "orders", "products", "payments", "invoices", "carts", "reviews", "shipments",
         "customers", "accounts", "sessions", "tokens", "items", "categories", "stores", "coupons",
         "refunds", "subscriptions", "notifications", "addresses"]
KINDS = ["exact", "template", "template-shared", "template-partial", "regex", "regex-shared"]
GOAL_DROP = {"exact": 10.0, "template": 10.0, "template-shared": 10.0, "template-partial": 10.0,
             "regex": 25.0, "regex-shared": 25.0}


def write_report(out_dir: str, tag: str, md: str, data: dict) -> None:
    """results/TAG-STAMP.md (the report) and .json (the raw data); print the report."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(out_dir, exist_ok=True)
    mdp, jsp = os.path.join(out_dir, f"{tag}-{stamp}.md"), os.path.join(out_dir, f"{tag}-{stamp}.json")
    with open(mdp, "w") as f:
        f.write(md)
    with open(jsp, "w") as f:
        json.dump(data, f, indent=1)
    print("\n" + md + f"\n# report: {mdp}\n# raw:    {jsp}")


# ---------------------------------------------------------------------------------------------
# stub generators: (path condition as YAML flow text, the URL that matches it) for stub i
# ---------------------------------------------------------------------------------------------
def gen(kind: str, i: int) -> tuple[str, str]:
    noun = NOUNS[i % len(NOUNS)]
    v = 1 + i % 3
    if kind == "exact":
        p = f"/api/v1/{noun}/{i}"
        return f"path: {p}", p
    if kind == "template":
        shape = i % 3
        if shape == 0:
            return f'path: "/api/v{v}/{noun}{i}/{{id}}"', f"/api/v{v}/{noun}{i}/42"
        if shape == 1:
            return f'path: "/api/v{v}/{noun}/{{id}}/rel{i}"', f"/api/v{v}/{noun}/42/rel{i}"
        return f'path: "/api/v{v}/{noun}/{{id}}/rel{i}/{{sub}}"', f"/api/v{v}/{noun}/42/rel{i}/7"
    if kind == "template-shared":
        return f'path: "/api/v1/items/{{id}}/v{i}"', f"/api/v1/items/42/v{i}"
    if kind == "template-partial":
        return f'path: "/api/v1/files/{{name}}.v{i}"', f"/api/v1/files/report.v{i}"
    if kind == "regex":
        return f"pathRegex: '/api/v1/r{i}/[0-9]+'", f"/api/v1/r{i}/42"
    if kind == "regex-shared":
        return f"pathRegex: '/api/v1/items/[0-9]+/v{i}'", f"/api/v1/items/42/v{i}"
    raise ValueError(kind)


def write_stubs(d: str, conds: list[str], match_cond: str) -> None:
    """len(conds) non-matching stubs, then the matching one (last in file order)."""
    os.makedirs(os.path.join(d, "__files"), exist_ok=True)
    shutil.copy(FIXTURE, os.path.join(d, "__files", "user.json"))
    lines = ["# generated by bench/scale.py"]
    for i, cond in enumerate(conds):
        lines += [f"- name: s{i}", f"  request: {{method: GET, {cond}}}",
                  f"  response: {{status: 200, json: {{id: {i}, name: item {i}}}}}"]
    lines += ["- name: target", f"  request: {{method: GET, {match_cond}}}",
              "  response: {status: 200, headers: {Content-Type: application/json}, bodyFile: __files/user.json}"]
    with open(os.path.join(d, "stubs.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def make_kind_dir(base: str, kind: str, n: int, big: int) -> tuple[str, str]:
    """n stubs of `kind`; the matching one is stub big-1 of the big table in both configs, and last."""
    d = os.path.join(base, f"{kind}-{n}")
    match_cond, url = gen(kind, big - 1)
    write_stubs(d, [gen(kind, i)[0] for i in range(n - 1)], match_cond)
    return d, url


def make_mixed_dir(base: str, n: int) -> tuple[str, str]:
    """RSS test: n-1 stubs cycling exact / template / regex, then GET /api/v1/users/42 (exact)."""
    d = os.path.join(base, f"mixed-{n}")
    kinds = ["exact", "template", "regex"]
    conds = [gen(kinds[i % 3], i)[0] for i in range(n - 1)]
    write_stubs(d, conds, "path: /api/v1/users/42")
    return d, "/api/v1/users/42"


def stuntman_rev(binary: str) -> str:
    """What is being measured: the git commit of the checkout (dirty if proxy/ has local changes)
    for the project's editable venv, else $BENCH_STUNTMAN_REV (set by run.sh --snapshot) or the path."""
    if os.environ.get("BENCH_STUNTMAN_REV"):
        return os.environ["BENCH_STUNTMAN_REV"]
    if os.path.realpath(binary).startswith(os.path.realpath(os.path.join(ROOT, ".venv"))):
        try:
            rev = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h %ci"], capture_output=True,
                                 text=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "proxy", "pyproject.toml"],
                                   capture_output=True, text=True).stdout.strip()
            return f"{rev}{' + uncommitted changes in proxy/' if dirty else ''} (editable install, work tree)"
        except OSError:
            pass
    return binary


# ---------------------------------------------------------------------------------------------
# processes and /proc
# ---------------------------------------------------------------------------------------------
def free_port() -> int:
    s = socket.socket()
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def proc_mem_kb(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0])
    return out


def cpu_busy() -> dict[str, tuple[int, int]]:
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *v = line.split()
                v = list(map(int, v))
                out[name[3:]] = (sum(v[:8]) - v[3] - v[4] - v[7], sum(v[:8]))
    return out


def busy_pct(a, b, cpu) -> float:
    return 100.0 * (b[cpu][0] - a[cpu][0]) / max(1, b[cpu][1] - a[cpu][1])


class Stuntman:
    def __init__(self, binary: str, stubs: str, log: str):
        self.port, self.admin = free_port(), free_port()
        cmd = f"{binary} run --stubs {stubs} --host {HOST} --port {self.port} --admin-port {self.admin}"
        self.cmd = cmd
        self.log = log
        with open(log, "ab") as lf:  # the child keeps its own descriptor
            self.t0 = time.time()
            self.p = subprocess.Popen(["taskset", "-c", SUT_CPU] + shlex.split(cmd), stdout=lf,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.startup_s = None

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        c = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def wait_ready(self, path: str, timeout: float = 120.0) -> None:
        deadline = time.time() + timeout
        last = "no answer"
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"stuntman exited with {self.p.returncode}: {self.tail()}")
            try:
                st, _ = self.get(path, timeout=2)
                if st == 200:
                    self.startup_s = time.time() - self.t0
                    return
                last = f"status {st}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        raise RuntimeError(f"not ready after {timeout:.0f}s ({last}): {self.tail()}")

    def tail(self) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-600:]
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)


def run_wrk(port: int, path: str, conns: int, duration: float, requests: int = 0, threads: int = 1,
            extra: tuple[str, ...] = ()) -> dict:
    """wrk -t{threads} for `duration` s, or (requests > 0) until that many responses, whichever comes first.
    `extra`: more wrk options (e.g. --latency: its text output is kept as r["stdout"])."""
    argv = ["taskset", "-c", GEN_CPU, "wrk", f"-t{threads}", f"-c{conns}", f"-d{max(1, round(duration))}s",
            "--timeout", "2s", *extra, "-s", LUA, f"http://{HOST}:{port}{path}"]
    env = dict(os.environ, WRK_REQUESTS=str(requests))
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if requests > 0:
        for line in p.stderr:            # the script says WRKDONE when the count is reached
            if line.startswith("WRKDONE"):
                p.send_signal(signal.SIGINT)
                break
    try:
        out, _ = p.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    m = re.search(r"^WRKJSON (\{.*\})$", out, re.M)
    if not m:
        raise RuntimeError(f"wrk gave no result: {out[-500:]}")
    r = json.loads(m.group(1))
    r["stdout"] = out[:m.start()]
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def measure(sm: Stuntman, path: str, conns: int, duration: float, **wrk_kw) -> dict:
    c0, b0 = proc_cpu_ticks(sm.p.pid), cpu_busy()
    r = run_wrk(sm.port, path, conns, duration, **wrk_kw)
    c1, b1 = proc_cpu_ticks(sm.p.pid), cpu_busy()
    r["cpu_us"] = (c1 - c0) / CLK * 1e6 / max(1, r["requests"])
    r["sut_pct"], r["gen_pct"] = busy_pct(b0, b1, SUT_CPU), busy_pct(b0, b1, GEN_CPU)
    r["proc_pct"] = 100.0 * (c1 - c0) / CLK / max(1e-9, r["duration_us"] / 1e6)  # stuntman's own CPU, % of a core
    return r


# ---------------------------------------------------------------------------------------------
# scale
# ---------------------------------------------------------------------------------------------
def cmd_scale(args) -> int:
    kinds = [k for k in args.kinds.split(",") if k]
    for k in kinds:
        if k not in KINDS:
            raise SystemExit(f"unknown kind {k!r}; one of {KINDS}")
    with open(FIXTURE, "rb") as f:
        body = json.loads(f.read())
    base = tempfile.mkdtemp(prefix="stuntman-scale-")
    configs = {}
    for k in kinds:
        for n in (1, args.stubs):
            d, url = make_kind_dir(base, k, n, args.stubs)
            configs[(k, n)] = (d, url)
    print(f"# stub dirs under {base}; {args.rounds} round(s) x {args.duration:g} s, wrk -t1 -c{args.conns}", flush=True)
    results: dict = {f"{k}/{n}": [] for (k, n) in configs}
    for rnd in range(args.rounds):
        for k in kinds:
            ns = (1, args.stubs) if rnd % 2 == 0 else (args.stubs, 1)
            for n in ns:
                d, url = configs[(k, n)]
                sm = Stuntman(args.stuntman, d, os.path.join(base, f"{k}-{n}-r{rnd}.log"))
                res: dict = {"round": rnd, "url": url}
                try:
                    sm.wait_ready(url)
                    st, got = sm.get(url)
                    res["body_ok"] = st == 200 and json.loads(got) == body
                    res["startup_s"] = sm.startup_s
                    if args.warmup > 0:
                        run_wrk(sm.port, url, args.conns, args.warmup)
                    res.update(measure(sm, url, args.conns, args.duration))
                    res["rss_kb"] = proc_mem_kb(sm.p.pid)
                    if not sm.alive():
                        res["error"] = f"stuntman died during the run (rc {sm.p.returncode}): {sm.tail()}"
                except Exception as e:  # noqa: BLE001 - reported, not fatal
                    res["error"] = str(e)
                finally:
                    sm.stop()
                results[f"{k}/{n}"].append(res)
                if "error" in res:
                    print(f"  r{rnd} {k:16} n={n:<5} ERROR {res['error']}", flush=True)
                else:
                    print(f"  r{rnd} {k:16} n={n:<5} {res['rps']:>9,.0f} req/s  {res['cpu_us']:5.1f} us/req  "
                          f"p50 {res['p50'] / 1000:.2f} ms  err {res['errors']}  sut {res['sut_pct']:.0f}%  "
                          f"gen {res['gen_pct']:.0f}%  start {res['startup_s']:.1f}s  "
                          f"rss {res['rss_kb']['VmRSS'] / 1024:.1f} MB  "
                          f"body {'ok' if res['body_ok'] else 'WRONG'}  {url}",
                          flush=True)
    shutil.rmtree(base, ignore_errors=True)
    args.rev_end = stuntman_rev(args.stuntman)
    write_report(args.out_dir, "scale", render_scale(results, kinds, args),
                 {"args": vars(args), "results": results})
    return 0


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def render_scale(results: dict, kinds: list[str], args) -> str:
    n = args.stubs
    L = [f"# stuntman: 1 vs {n:,} stubs ({time.strftime('%Y-%m-%d %H:%M:%S %Z')})", "",
         f"stuntman measured: {args.rev_start}"
         + ("" if args.rev_start == args.rev_end else
            f" at the start, {args.rev_end} at the end (changed during the run!)"), "",
         f"wrk -t1 -c{args.conns} -d{args.duration:g}s (CPU 0) at the URL of the matching stub, which is the last "
         f"of {n:,} in file order; stuntman on CPU 1. {args.rounds} round(s), 1 and {n:,} interleaved; medians "
         "(min-max). CPU us/req = stuntman's utime+stime / requests.", "",
         f"| kind | example path | req/s, 1 stub | req/s, {n:,} stubs | req/s drop | CPU us/req, 1 | "
         f"CPU us/req, {n:,} | CPU/req increase | goal (drop or increase) | startup s (1 / N) | RSS MB (1 / N) "
         "| errors |",
         "|---|---|---:|---:|---:|---:|---:|---:|:-:|---:|---:|---:|"]
    for k in kinds:
        a = [r for r in results[f"{k}/1"] if "error" not in r]
        b = [r for r in results[f"{k}/{n}"] if "error" not in r]
        errs = sum(r.get("errors", 0) for r in results[f"{k}/1"] + results[f"{k}/{n}"])
        failed = sum(1 for r in results[f"{k}/1"] + results[f"{k}/{n}"] if "error" in r)
        cond = gen(k, n - 1)[0]
        if not a or not b:
            L.append(f"| {k} | `{cond}` | FAILED: {failed} run(s) failed | | | | | | | | | |")
            continue
        ra, rb, ca, cb = med(a, "rps"), med(b, "rps"), med(a, "cpu_us"), med(b, "cpu_us")
        drop = 100 * (1 - rb / ra)
        cinc = 100 * (cb / ca - 1)
        goal = GOAL_DROP[k]
        v_rps = "MET" if drop <= goal else "MISSED"
        v_cpu = "MET" if cinc <= goal else "MISSED"
        rng = lambda rs, key, f: f"{f.format(min(r[key] for r in rs))}-{f.format(max(r[key] for r in rs))}"  # noqa: E731
        L.append(
            f"| {k} | `{cond}` | {ra:,.0f} ({rng(a, 'rps', '{:,.0f}')}) | {rb:,.0f} ({rng(b, 'rps', '{:,.0f}')}) | "
            f"{drop:+.1f}% | {ca:.1f} ({rng(a, 'cpu_us', '{:.1f}')}) | {cb:.1f} ({rng(b, 'cpu_us', '{:.1f}')}) | "
            f"{cinc:+.1f}% | <= {goal:.0f}%: req/s {v_rps}, CPU {v_cpu} | "
            f"{med(a, 'startup_s'):.1f} / {med(b, 'startup_s'):.1f} | "
            f"{max(r['rss_kb']['VmRSS'] for r in a) / 1024:.0f} / {max(r['rss_kb']['VmRSS'] for r in b) / 1024:.0f} | "
            f"{errs}{f', {failed} failed runs' if failed else ''} |")
    L += ["", "req/s drop = 1 - req/s(N)/req/s(1); CPU/req increase = CPU us/req(N)/CPU us/req(1) - 1. "
          "Negative drop = the 1,000-stub run was faster (noise). The goal is read on both: req/s is noisy on this "
          "shared 2-core box and understates a slowdown while wrk's core (gen %) is the bottleneck; CPU us/req "
          "is the steadier figure.", ""]
    bad = [(key, r) for key, rs in results.items() for r in rs if "error" in r or not r.get("body_ok", True)]
    if bad:
        L += ["Failures:", ""] + [f"- {key} r{r['round']}: {r.get('error', 'wrong body')}" for key, r in bad] + [""]
    return "\n".join(L)


# ---------------------------------------------------------------------------------------------
# rss
# ---------------------------------------------------------------------------------------------
def cmd_rss(args) -> int:
    import threading

    base = tempfile.mkdtemp(prefix="stuntman-rss-")
    d, url = make_mixed_dir(base, args.stubs)
    sm = Stuntman(args.stuntman, d, os.path.join(base, "stuntman.log"))
    samples: list[tuple[float, int, int]] = []
    points: dict[str, dict] = {}
    phases = []
    err = None
    try:
        sm.wait_ready(url)
        pid = sm.p.pid
        points["before (ready, idle)"] = proc_mem_kb(pid)
        half = args.requests // 2
        stop = threading.Event()

        def sampler():
            t0 = time.time()
            while not stop.wait(1.0):
                try:
                    m = proc_mem_kb(pid)
                    samples.append((round(time.time() - t0, 1), m["VmRSS"], m["VmHWM"]))
                except OSError:
                    return
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        done = 0
        for label, want in ((f"after {half:,} requests", half),
                            (f"after {args.requests:,} requests", args.requests - half)):
            c0 = proc_cpu_ticks(pid)
            r = run_wrk(sm.port, url, args.conns, args.max_seconds, requests=want)
            r["cpu_us"] = (proc_cpu_ticks(pid) - c0) / CLK * 1e6 / max(1, r["requests"])
            done += r["requests"]
            phases.append(r)
            m = proc_mem_kb(pid)
            m["requests_total"] = done
            points[label] = m
            print(f"  {label}: wrk counted {r['requests']:,} ({r['rps']:,.0f} req/s, {r['cpu_us']:.1f} us/req, "
                  f"err {r['errors']}); VmRSS {m['VmRSS'] / 1024:.1f} MB, VmHWM {m['VmHWM'] / 1024:.1f} MB", flush=True)
            if not sm.alive():
                err = f"stuntman died (rc {sm.p.returncode}): {sm.tail()}"
                break
        stop.set()
        th.join()
        time.sleep(1)
        if sm.alive():
            points["1 s after the load"] = dict(proc_mem_kb(pid), requests_total=done)
    except Exception as e:  # noqa: BLE001
        err = str(e)
    finally:
        sm.stop()
        shutil.rmtree(base, ignore_errors=True)
    args.rev_end = stuntman_rev(args.stuntman)
    write_report(args.out_dir, "rss", render_rss(args, points, phases, samples, err),
                 {"args": vars(args), "points": points, "phases": phases, "samples": samples, "error": err})
    return 1 if err else 0


def render_rss(args, points, phases, samples, err) -> str:
    L = [f"# stuntman RSS: {args.stubs:,} stubs, {args.requests:,} requests "
         f"({time.strftime('%Y-%m-%d %H:%M:%S %Z')})", "",
         f"stuntman measured: {args.rev_start}"
         + ("" if args.rev_start == args.rev_end else
            f" at the start, {args.rev_end} at the end (changed during the run!)"), "",
         f"{args.stubs - 1:,} stubs cycling exact / template / regex paths, then GET /api/v1/users/42 -> 1 KB "
         f"bodyFile (last in file order). wrk -t1 -c{args.conns} (CPU 0) at /api/v1/users/42, stopped after "
         f"{args.requests // 2:,} responses, twice; stuntman on CPU 1. "
         "Memory of the stuntman process from /proc/PID/status.", "",
         "| point | requests | VmRSS MB | VmHWM MB | RssAnon MB |", "|---|---:|---:|---:|---:|"]
    for label, m in points.items():
        L.append(f"| {label} | {m.get('requests_total', 0):,} | {m['VmRSS'] / 1024:.1f} | {m['VmHWM'] / 1024:.1f} | "
                 f"{m.get('RssAnon', 0) / 1024:.1f} |")
    L.append("")
    for i, r in enumerate(phases):
        L.append(f"- phase {i + 1}: {r['requests']:,} requests in {r['duration_us'] / 1e6:.1f} s "
                 f"({r['rps']:,.0f} req/s, {r['cpu_us']:.1f} us/req, p50 {r['p50'] / 1000:.2f} ms, "
                 f"p99 {r['p99'] / 1000:.2f} ms), errors {r['errors']}")
    if samples:
        rs = [s[1] for s in samples]
        L.append(f"- 1 s samples during the load ({len(samples)}): VmRSS min {min(rs) / 1024:.1f} MB, "
                 f"max {max(rs) / 1024:.1f} MB; VmHWM at the end {samples[-1][2] / 1024:.1f} MB")
    keys = list(points)
    if len(keys) >= 3:
        a, b = points[keys[1]], points[keys[2]]
        growth = (b["VmRSS"] - a["VmRSS"]) / 1024
        hwm = max(m["VmHWM"] for m in points.values()) / 1024
        flat = abs(growth) <= 1.0
        L.append(f"- VmRSS change from half way to the end: {growth:+.2f} MB "
                 f"({(b['VmRSS'] - a['VmRSS']) * 1024 / max(1, b['requests_total'] - a['requests_total']):+.2f} "
                 "bytes/request)")
        L.append(f"- goal: <= 60 MB and flat -> peak VmHWM {hwm:.1f} MB: {'MET' if hwm <= 60 else 'MISSED'}; "
                 f"flat (|change| <= 1 MB over the second half): {'MET' if flat else 'MISSED'}")
    if err:
        L += ["", f"ERROR: {err}"]
    return "\n".join(L) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("scale", "rss"):
        p = sub.add_parser(name)
        p.add_argument("--stuntman", default=os.path.join(ROOT, ".venv", "bin", "stuntman"))
        p.add_argument("--stubs", type=int, default=1000, help="stubs in the big table")
        p.add_argument("--conns", type=int, default=32)
        p.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    sc = sub.choices["scale"]
    sc.add_argument("--kinds", default=",".join(KINDS))
    sc.add_argument("--rounds", type=int, default=3)
    sc.add_argument("--duration", type=float, default=10.0)
    sc.add_argument("--warmup", type=float, default=1.0)
    rs = sub.choices["rss"]
    rs.add_argument("--requests", type=int, default=1_000_000)
    rs.add_argument("--max-seconds", type=float, default=600.0, help="wrk -d per half (it stops at the count)")
    args = ap.parse_args()
    os.sched_setaffinity(0, {int(GEN_CPU)})
    args.rev_start = args.rev_end = stuntman_rev(args.stuntman)
    return cmd_scale(args) if args.cmd == "scale" else cmd_rss(args)


if __name__ == "__main__":
    sys.exit(main())
