#!/usr/bin/env python3
"""Where stuntman spends its CPU under wrk load (called by bench/run.sh --profile).

  profile.py [--workloads proxy,stub] [--duration 15] [--rate 250] [--no-cprofile] [--py-spy PATH]

For each workload (the same as the comparison bench: proxy = bench/stubs/proxy + --upstream to an nginx
serving the 1 KB fixture; stub = bench/stubs/stub), stuntman runs on CPU 1, wrk -t1 -c32 and the
profiler on CPU 0:
  1. py-spy record --nonblocking (Python frames; the process is never paused): "Python self" = the
     innermost Python frame of each sample, i.e. a Python function plus the C it calls (uvloop writes,
     llhttp); plus the user/system CPU split of stuntman from /proc over the same window.
     (--native adds C frames, but ptrace stops land mostly at syscall returns: leaf frames come out
     heavily biased towards read/write, so it is off by default.)
  2. cProfile (deterministic, ~2x slower, Python functions and C builtins called from Python), by tottime.
Raw py-spy stacks (collapsed format; `flamegraph.pl` or speedscope can draw them) and the .prof files
are kept in bench/results/.
"""
from __future__ import annotations

import argparse
import collections
import os
import pstats
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale import (  # noqa: E402
    CLK,
    GEN_CPU,
    HOST,
    SUT_CPU,
    Stuntman,
    free_port,
    run_wrk,
    stuntman_rev,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HARNESS = os.environ.get("BENCH_HARNESS", str(Path(__file__).resolve().parents[2] / "shared" / "bench"))
URL = "/api/v1/users/42"


def start_upstream(work: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    with open(os.path.join(HARNESS, "fixtures", "nginx-static.conf.tmpl")) as f:
        conf = f.read()
    shutil.copy(os.path.join(HARNESS, "fixtures", "user.json"), os.path.join(work, "user.json"))
    os.chmod(work, 0o755)
    os.chmod(os.path.join(work, "user.json"), 0o644)
    vals = {"PORT": port, "WORK": work, "BODY_FILE": os.path.join(work, "user.json"), "NAME": "upstream"}
    conf = re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: str(vals[m.group(1)]), conf)
    with open(os.path.join(work, "nginx.conf"), "w") as f:
        f.write(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    p = subprocess.Popen(["taskset", "-c", GEN_CPU, nginx, "-p", work, "-c", f"{work}/nginx.conf", "-e",
                          f"{work}/error.log"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    time.sleep(0.3)
    return p, port


def stop_tree(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


FRAME = re.compile(r"^(?P<fn>.*) \((?P<file>[^()]*)\)$")


def parse_collapsed(path: str):
    """-> (total samples, Counter(native leaf), Counter(innermost Python frame))"""
    native, python = collections.Counter(), collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            n = int(count)
            total += n
            frames = stack.split(";")
            native[frames[-1]] += n
            py = next((fr for fr in reversed(frames)
                       if FRAME.match(fr) and FRAME.match(fr).group("file").endswith(".py")),
                      "(no Python frame)")
            python[py] += n
    return total, native, python


def cpu_split(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]), int(fields[12])


def top_table(counter: collections.Counter, total: int, k: int, title: str) -> list[str]:
    L = [f"| # | {title} | samples | % |", "|---:|---|---:|---:|"]
    for i, (name, n) in enumerate(counter.most_common(k), 1):
        L.append(f"| {i} | `{name}` | {n} | {100 * n / max(1, total):.1f} |")
    return L


def profile_pyspy(args, wl: str, work: str, upstream_url: str | None, stamp: str) -> tuple[list[str], dict]:
    stubs = os.path.join(HERE, "stubs", wl)
    sm = _start_with_upstream(args, stubs, work, upstream_url, "pyspy")
    out = os.path.join(args.out_dir, f"profile-{wl}-{stamp}.pyspy.txt")
    try:
        sm.wait_ready(URL)
        run_wrk(sm.port, URL, 32, 1)
        wrk = subprocess.Popen(["taskset", "-c", GEN_CPU, "wrk", "-t1", "-c32", f"-d{args.duration + 4}s",
                                f"http://{HOST}:{sm.port}{URL}"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1.5)
        t0 = cpu_split(sm.p.pid)
        mode = ["--native"] if args.native else ["--nonblocking"]
        spy = subprocess.run(["taskset", "-c", GEN_CPU, args.py_spy, "record", "--pid", str(sm.p.pid),
                              "--duration", str(args.duration), "--rate", str(args.rate), "--nolineno",
                              "--format", "raw", "-o", out] + mode, capture_output=True, text=True)
        t1 = cpu_split(sm.p.pid)
        wrk_out, _ = wrk.communicate(timeout=args.duration + 60)
        if spy.returncode != 0 or not os.path.exists(out):
            return [f"py-spy failed: {spy.stderr[-500:]}"], {}
    finally:
        sm.stop()
    total, native, python = parse_collapsed(out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", wrk_out)
    ut, st = (t1[0] - t0[0]) / CLK, (t1[1] - t0[1]) / CLK
    L = [f"While py-spy sampled ({args.duration} s, wrk -c32 at {float(rps.group(1)) if rps else 0:,.0f} req/s): "
         f"stuntman used {ut:.2f} s user + {st:.2f} s system CPU = {100 * st / max(1e-9, ut + st):.0f}% in the kernel "
         "(socket read/write on loopback; wrk's and the upstream's share of the TCP work lands partly here).", ""]
    if args.native:
        L += [f"py-spy --native (blocking), {args.rate} Hz, {total} non-idle samples. NOTE: ptrace stops land mostly "
              "at syscall returns, so leaf frames are biased towards read/write. Raw: "
              f"`{os.path.relpath(out, ROOT)}`", "", "Native self (leaf frame):", ""]
        L += top_table(native, total, args.top, "leaf frame") + [""]
    else:
        L += [f"py-spy --nonblocking (Python frames only, the process is never paused), {args.rate} Hz, {total} "
              f"non-idle samples. Raw stacks: `{os.path.relpath(out, ROOT)}`", ""]
    L += ["Python self (innermost Python frame, including the C it calls: uvloop transport writes, llhttp; "
          "`Runner.run` = the event loop itself, libuv + socket reads + callback dispatch):", ""]
    L += top_table(python, total, args.top, "Python function") + [""]
    return L, {"total": total, "native": native.most_common(30), "python": python.most_common(30)}


def _start_with_upstream(args, stubs, work, upstream_url, tag, prefix: list[str] | None = None):
    """A scale.Stuntman for `stuntman run` [--upstream URL], optionally under a wrapper (cProfile)."""
    sm = Stuntman.__new__(Stuntman)
    sm.port, sm.admin = free_port(), free_port()
    argv = (prefix or [args.stuntman]) + ["run", "--stubs", stubs, "--host", HOST, "--port", str(sm.port),
                                          "--admin-port", str(sm.admin)]
    if upstream_url:
        argv += ["--upstream", upstream_url]
    sm.cmd = shlex.join(argv)
    sm.log = os.path.join(work, f"{os.path.basename(stubs)}-{tag}.log")
    with open(sm.log, "ab") as lf:  # the child keeps its own descriptor
        sm.t0 = time.time()
        sm.p = subprocess.Popen(["taskset", "-c", SUT_CPU] + argv, stdout=lf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    sm.startup_s = None
    return sm


def profile_cprofile(args, wl: str, work: str, upstream_url: str | None, stamp: str) -> list[str]:
    stubs = os.path.join(HERE, "stubs", wl)
    prof = os.path.join(args.out_dir, f"profile-{wl}-{stamp}.prof")
    py = os.path.join(os.path.dirname(args.stuntman), "python")
    sm = _start_with_upstream(args, stubs, work, upstream_url, "cprofile",
                              prefix=[py, "-m", "cProfile", "-o", prof, "-m", "stuntman"])
    try:
        sm.wait_ready(URL)
        r = run_wrk(sm.port, URL, 32, args.duration)
    finally:
        sm.stop()        # SIGTERM: stuntman returns from main, cProfile writes the file
    if not os.path.exists(prof):
        return [f"cProfile wrote nothing: {sm.tail()}"]
    st = pstats.Stats(prof)
    reqs = max(1, r["requests"])
    rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)   # (cc, nc, tt, ct, callers)
    total_tt = sum(v[2] for _, v in rows)
    L = [f"cProfile (deterministic; slows stuntman ~2x: {r['rps']:,.0f} req/s, {r['requests']:,} requests + readiness "
         f"probes), by self time (tottime). `{os.path.relpath(prof, ROOT)}`", "",
         "| # | function | calls/request | tottime s | % of profiled | cumtime s |", "|---:|---|---:|---:|---:|---:|"]
    for i, ((file, line, fn), (_, nc, tt, ct, _)) in enumerate(rows[:args.top], 1):
        where = (fn if file == "~"
                 else f"{fn} ({os.path.basename(os.path.dirname(file))}/{os.path.basename(file)}:{line})")
        L.append(f"| {i} | `{where}` | {nc / reqs:.2f} | {tt:.2f} | {100 * tt / max(1e-9, total_tt):.1f} | {ct:.2f} |")
    return L + [""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stuntman", default=os.path.join(ROOT, ".venv", "bin", "stuntman"))
    ap.add_argument("--py-spy", default=os.environ.get("PY_SPY", "/tmp/pyspy/bin/py-spy"))
    ap.add_argument("--workloads", default="proxy,stub")
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--rate", type=int, default=250)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--no-cprofile", action="store_true")
    ap.add_argument("--native", action="store_true", help="py-spy --native (C frames; biased, see the report)")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    os.sched_setaffinity(0, {int(GEN_CPU)})
    os.makedirs(args.out_dir, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = tempfile.mkdtemp(prefix="stuntman-profile-")
    os.chmod(work, 0o755)           # nginx's worker (not root) reads the upstream's body file
    L = [f"# stuntman hot paths under wrk -c32 ({time.strftime('%Y-%m-%d %H:%M:%S %Z')})", "",
         f"stuntman measured: {stuntman_rev(args.stuntman)}", ""]
    upstream = None
    try:
        for wl in [w for w in args.workloads.split(",") if w]:
            up_url = None
            if wl == "proxy":
                uw = os.path.join(work, "upstream")
                os.makedirs(uw)
                upstream, up_port = start_upstream(uw)
                up_url = f"http://{HOST}:{up_port}"
            L += [f"## {wl}", ""]
            print(f"# {wl}: py-spy", flush=True)
            lines, _ = profile_pyspy(args, wl, work, up_url, stamp)
            L += lines
            if not args.no_cprofile:
                print(f"# {wl}: cProfile", flush=True)
                L += profile_cprofile(args, wl, work, up_url, stamp)
            if upstream:
                stop_tree(upstream)
                upstream = None
    finally:
        if upstream:
            stop_tree(upstream)
        shutil.rmtree(work, ignore_errors=True)
    md = "\n".join(L) + "\n"
    mdp = os.path.join(args.out_dir, f"profile-{stamp}.md")
    with open(mdp, "w") as f:
        f.write(md)
    print("\n" + md + f"\n# report: {mdp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
