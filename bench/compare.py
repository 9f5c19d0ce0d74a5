#!/usr/bin/env python3
"""stuntman vs nginx vs the aiohttp reference, through the shared harness (/work/shared/bench/run.py).

Called by bench/run.sh; everything after the options below is passed to the harness as is.

  compare.py [--harness DIR] [--port-offset N] [--stuntman BIN] [--out-dir DIR] [--tag NAME] [HARNESS ARGS...]

What this adds to the harness (which stays untouched, it is shared and read-only):
  * the two stuntman targets (`--add`): stuntman-proxy (bench/stubs/proxy: one unrelated stub, every
    request misses it and passes through to --upstream) and stuntman-stub (bench/stubs/stub: GET
    /api/v1/users/42 -> the 1 KB fixture via bodyFile);
  * a port offset when the harness's fixed ports (18080-18095, +100) are taken by something else on
    this machine (another engineer's stuntman on 18080, say): every built-in port, the upstream port
    and ours move by the same offset (auto: the first of 0, 2000, 3000, ... where all are free);
  * the report (harness markdown + raw json) under bench/results/, and a summary with the ratios
    against the goals of the issue (see summarize()).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import statistics
import sys
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

BASE_PORTS = {"stuntman-proxy": 18100, "stuntman-stub": 18101,
              "stuntman-proxy-bare": 18102, "stuntman-stub-bare": 18103}
BARE = "--journal-size 0 --no-metrics"  # the "-bare" rows: journal and metrics off
# the comparison rows asked for; other built-in targets need tools we do not install
DEFAULT_ONLY = ["direct", "nginx-proxy", "nginx-return", "aiohttp-ref-proxy", "aiohttp-ref-stub",
                "stuntman-proxy", "stuntman-stub"]

GOALS = {
    "proxy_cpu_vs_nginx": 1.5,        # stuntman-proxy CPU us/req <= 1.5 x nginx-proxy
    "proxy_rps_vs_nginx": 0.7,        # stuntman-proxy req/s >= 0.7 x nginx-proxy
    "ref_cpu_vs_proxy": 5.0,          # aiohttp-ref-proxy CPU us/req >= 5 x stuntman-proxy
    "stub_cpu_vs_nginx": 2.0,         # stuntman-stub CPU us/req <= 2 x nginx-return
    "added_p50_ms_vs_nginx": 0.05,    # -c1 added p50 <= nginx-proxy's + 0.05 ms
}


def load_harness(path: str):
    spec = importlib.util.spec_from_file_location("bench_harness", os.path.join(path, "run.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def port_free(port: int) -> bool:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def needed_ports(h, offset: int) -> list[int]:
    ports = [h.UPSTREAM_PORT + offset]
    for t in h.builtin_targets():
        ports += [t.port + offset, t.port + 100 + offset]
    for p in BASE_PORTS.values():
        ports += [p + offset, p + 100 + offset]
    return ports


def pick_offset(h) -> int:
    for offset in [0] + list(range(2000, 40000, 1000)):
        if all(port_free(p) for p in needed_ports(h, offset)):
            return offset
    raise SystemExit("no free port range for the harness")


def rows(report: dict, wl: str, conns: int) -> dict[str, dict]:
    """name -> {rps, cpu_us, p50_ms, p99_ms, errors, requests, hwm_mb, rps_min, rps_max, cpu_min, cpu_max}"""
    out = {}
    data = report["workloads"].get(wl)
    if not data:
        return out
    for name, results in data["results"].items():
        runs = [r["runs"][str(conns)] if str(conns) in r.get("runs", {}) else r["runs"].get(conns)
                for r in results if r.get("runs")]
        runs = [r for r in runs if r]
        if not runs:
            out[name] = {"error": next((r.get("error") for r in results if r.get("error")), "no run")}
            continue

        def med(k: str, runs: list = runs) -> float:  # `runs` bound here: this row's
            return statistics.median(x[k] for x in runs)

        out[name] = {
            "n": len(runs), "rps": med("rps"), "rps_min": min(x["rps"] for x in runs),
            "rps_max": max(x["rps"] for x in runs), "cpu_us": med("cpu_us_per_req"),
            "cpu_min": min(x["cpu_us_per_req"] for x in runs), "cpu_max": max(x["cpu_us_per_req"] for x in runs),
            "p50_ms": med("p50") / 1000, "p99_ms": med("p99") / 1000,
            "errors": sum(x["errors"] for x in runs), "requests": sum(x["requests"] for x in runs),
            "gen_cpu": med("gen_cpu_pct"), "sut_cpu": med("sut_cpu_pct"),
            "hwm_mb": max(r.get("hwm_kb", 0) for r in results) / 1024,
            "failed_rounds": sum(1 for r in results if r.get("error")),
        }
    return out


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "MISSED")


def summarize(report: dict) -> str:
    p32, p1, s32 = rows(report, "proxy", 32), rows(report, "proxy", 1), rows(report, "stub", 32)
    L = ["## stuntman summary", ""]
    rs, re_ = report.get("stuntman_rev_start"), report.get("stuntman_rev_end")
    if rs:
        L += [f"stuntman measured: {rs}"
              + ("" if rs == re_ else f" at the start, {re_} at the end (changed during the run!)"), ""]

    def line(name, r):
        if "error" in r:
            return f"| {name} | ERROR: {r['error'][:200]} | | | | | |"
        return (f"| {name} | {r['rps']:,.0f} ({r['rps_min']:,.0f}-{r['rps_max']:,.0f}) | {r['cpu_us']:.1f} "
                f"({r['cpu_min']:.1f}-{r['cpu_max']:.1f}) | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                f"{r['hwm_mb']:.0f} | {r['errors']} / {r['requests']:,} |")

    head = ["| target | req/s median (min-max) | SUT CPU us/req median (min-max) | p50 ms | p99 ms | peak RSS MB "
            "| errors / requests |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for wl, rs, names in (("proxy -c32", p32, ["direct", "nginx-proxy", "aiohttp-ref-proxy", "stuntman-proxy"]),
                          ("proxy -c1", p1, ["direct", "nginx-proxy", "aiohttp-ref-proxy", "stuntman-proxy"]),
                          ("stub -c32", s32, ["nginx-return", "aiohttp-ref-stub", "stuntman-stub"])):
        present = [n for n in names if n in rs]
        if present:
            L += [f"### {wl}", ""] + head + [line(n, rs[n]) for n in present] + [""]

    L += ["### ratios vs the goals", "", "| ratio | value | goal | |", "|---|---:|---:|:-:|"]

    def ratio(a, b, key):
        if a is None or b is None or "error" in a or "error" in b or not b.get(key):
            return None
        return a[key] / b[key]

    sp, np_, ap = p32.get("stuntman-proxy"), p32.get("nginx-proxy"), p32.get("aiohttp-ref-proxy")
    ss, nr, as_ = s32.get("stuntman-stub"), s32.get("nginx-return"), s32.get("aiohttp-ref-stub")

    def add(label, value, goal_text, ok, fmt="{:.2f}x"):
        L.append(f"| {label} | {'n/a' if value is None else fmt.format(value)} | {goal_text} | {verdict(ok)} |")

    v = ratio(sp, np_, "cpu_us")
    add("proxy CPU us/req, stuntman / nginx-proxy", v, f"<= {GOALS['proxy_cpu_vs_nginx']}x",
        None if v is None else v <= GOALS["proxy_cpu_vs_nginx"])
    v = ratio(sp, np_, "rps")
    add("proxy req/s, stuntman / nginx-proxy", v, f">= {GOALS['proxy_rps_vs_nginx']}x",
        None if v is None else v >= GOALS["proxy_rps_vs_nginx"])
    v = ratio(ap, sp, "cpu_us")
    add("proxy CPU us/req, aiohttp-ref / stuntman", v, f">= {GOALS['ref_cpu_vs_proxy']}x",
        None if v is None else v >= GOALS["ref_cpu_vs_proxy"])
    v = ratio(ss, nr, "cpu_us")
    add("stub CPU us/req, stuntman / nginx-return", v, f"<= {GOALS['stub_cpu_vs_nginx']}x",
        None if v is None else v <= GOALS["stub_cpu_vs_nginx"])
    v = ratio(ss, nr, "rps")
    add("stub req/s, stuntman / nginx-return", v, "(info; nginx-return is usually gen-bound)", None)
    v = ratio(as_, ss, "cpu_us")
    add("stub CPU us/req, aiohttp-ref / stuntman", v, "(info)", None)
    for workload, full, bare in (("proxy", sp, p32.get("stuntman-proxy-bare")),
                                 ("stub", ss, s32.get("stuntman-stub-bare"))):
        v = ratio(full, bare, "cpu_us")
        if v is not None:
            add(f"{workload} CPU us/req, journal+metrics on / off", v, "<= 1.10x", v <= 1.10)
    sp1, np1, d1 = p1.get("stuntman-proxy"), p1.get("nginx-proxy"), p1.get("direct")
    if all(x and "error" not in x for x in (sp1, np1, d1)):
        a_s = sp1["p50_ms"] - d1["p50_ms"]
        a_n = np1["p50_ms"] - d1["p50_ms"]
        add("-c1 added p50 vs direct, stuntman-proxy", a_s,
            f"<= nginx-proxy's + {GOALS['added_p50_ms_vs_nginx']} ms = {a_n + GOALS['added_p50_ms_vs_nginx']:+.3f} ms",
            a_s <= a_n + GOALS["added_p50_ms_vs_nginx"], "{:+.3f} ms")
        add("-c1 added p50 vs direct, nginx-proxy", a_n, "(reference)", None, "{:+.3f} ms")
        if np1.get("cpu_us") and sp1.get("cpu_us"):
            add("-c1 CPU us/req, stuntman / nginx-proxy", sp1["cpu_us"] / np1["cpu_us"], "(info)", None)
    L.append("")
    errs = [(n, r) for rs in (p32, p1, s32) for n, r in rs.items()
            if "error" in r or r.get("errors") or r.get("failed_rounds")]
    if errs:
        L += ["Errors / failed rounds:", ""] + [
            f"- {n}: "
            + (r["error"] if "error" in r else f"{r['errors']} wrk errors, {r['failed_rounds']} failed rounds")
            for n, r in errs] + [""]
    gen = [(n, r["gen_cpu"]) for rs in (p32, s32) for n, r in rs.items() if "gen_cpu" in r and r["gen_cpu"] >= 95]
    if gen:
        L += ["Generator-bound rows (CPU 0 >= 95% busy; their req/s is a lower bound, compare CPU us/req): "
              + ", ".join(f"{n} ({g:.0f}%)" for n, g in gen), ""]
    return "\n".join(L)


def main() -> int:
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--harness", default=os.environ.get(
        "BENCH_HARNESS", str(Path(__file__).resolve().parents[2] / "shared" / "bench")))
    ap.add_argument("--port-offset", default="auto")
    ap.add_argument("--stuntman", default=os.path.join(ROOT, ".venv", "bin", "stuntman"))
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--tag", default="comparison")
    ap.add_argument("--bare", action="store_true",
                    help="also run stuntman with journal and metrics off, and report what they cost")
    ap.add_argument("--summarize", default="", help="only print the summary of an existing --json file")
    ours, rest = ap.parse_known_args()
    if ours.summarize:
        with open(ours.summarize) as f:
            print(summarize(json.load(f)))
        return 0

    h = load_harness(ours.harness)
    offset = pick_offset(h) if ours.port_offset == "auto" else int(ours.port_offset)
    if offset:
        print(f"# harness ports busy on this machine: every port moved by +{offset} "
              f"(upstream {h.UPSTREAM_PORT + offset})", flush=True)
        h.UPSTREAM_PORT += offset
        orig = h.builtin_targets

        def shifted():
            ts = orig()
            for t in ts:
                t.port += offset
            return ts
        h.builtin_targets = shifted

    stubs = os.path.join(HERE, "stubs")
    sm = ours.stuntman
    adds = [
        "--add", "stuntman-proxy", "proxy", str(BASE_PORTS["stuntman-proxy"] + offset),
        f"{sm} run --stubs {stubs}/proxy --host 127.0.0.1 --port {{PORT}} --admin-port {{ADMIN_PORT}} "
        "--upstream {UPSTREAM_URL}",
        "--add", "stuntman-stub", "stub", str(BASE_PORTS["stuntman-stub"] + offset),
        f"{sm} run --stubs {stubs}/stub --host 127.0.0.1 --port {{PORT}} --admin-port {{ADMIN_PORT}}",
    ]
    if ours.bare:
        adds += [
            "--add", "stuntman-proxy-bare", "proxy", str(BASE_PORTS["stuntman-proxy-bare"] + offset),
            f"{sm} run --stubs {stubs}/proxy --host 127.0.0.1 --port {{PORT}} --admin-port {{ADMIN_PORT}} "
            f"--upstream {{UPSTREAM_URL}} {BARE}",
            "--add", "stuntman-stub-bare", "stub", str(BASE_PORTS["stuntman-stub-bare"] + offset),
            f"{sm} run --stubs {stubs}/stub --host 127.0.0.1 --port {{PORT}} --admin-port {{ADMIN_PORT}} {BARE}",
        ]
    os.makedirs(ours.out_dir, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    md = os.path.join(ours.out_dir, f"{ours.tag}-{stamp}.md")
    js = os.path.join(ours.out_dir, f"{ours.tag}-{stamp}.json")
    if "--only" not in rest and not any(a.startswith("--only=") for a in rest):
        only = DEFAULT_ONLY + (["stuntman-proxy-bare", "stuntman-stub-bare"] if ours.bare else [])
        rest = ["--only", ",".join(only)] + rest
    sys.argv = ["run.py"] + adds + rest + ["--out", md, "--json", js]
    sys.path.insert(0, HERE)
    from scale import stuntman_rev
    rev_start = stuntman_rev(sm)
    rc = h.main()
    if "--list" in rest or "-h" in rest or "--help" in rest:
        return rc
    with open(js) as f:
        report = json.load(f)
    report["stuntman_rev_start"], report["stuntman_rev_end"] = rev_start, stuntman_rev(sm)
    with open(js, "w") as f:
        json.dump(report, f, indent=1, default=str)
    summary = summarize(report)
    with open(md, "a") as f:
        f.write("\n" + summary + "\n")
    print("\n" + summary)
    print(f"\n# report: {md}\n# raw:    {js}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
