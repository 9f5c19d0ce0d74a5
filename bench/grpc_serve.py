#!/usr/bin/env python3
"""What stuntman's gRPC pass-through costs per call, against the same echo upstream called directly,
in the same run (configurations interleaved, the order rotated every round).

  grpc_serve.py [--rounds 3] [--duration 10] [--warmup 2] [--channels 4] [--concurrency 16]
                [--rate R] [--size 64] [--stuntman BIN] [--configs direct,passthrough]
  grpc_serve.py --configs servicer,stub [--rounds 3] [--duration 10] ...   (stub serving, below)
  grpc_serve.py --serve-echo [--port 0]     (the upstream; prints its port once it listens)
  grpc_serve.py --serve-reply [--port 0]    (the hand-written servicer; prints its port)

The upstream is a grpc.aio server (uvloop) whose one generic handler answers every unary call to
/bench.Echo/* with the request's bytes (unary_unary, no (de)serializer: raw bytes, no generated
code). The load generator is bench/grpc_load.py (grpc.aio, 64-byte requests), one process.
The process under test is always alone on CPU 1:

  direct        grpc_load (CPU 0) -> echo upstream (CPU 1)
  passthrough   grpc_load (CPU 0) -> stuntman --grpc-port (CPU 1) -> echo upstream (CPU 0)
                stuntman run --stubs EMPTY_DIR --port P --admin-port A --grpc-port G
                             --grpc-upstream 127.0.0.1:UPSTREAM --no-watch   (every other setting
                             its default: journal of 10,000, metrics on, uvloop)

Every run starts its processes afresh (upstream, and stuntman), lets grpc_load connect and check
one call per channel (the answer must be the request's bytes), warms up --warmup s and measures
--duration s. Two phases, each --rounds rounds with the configurations interleaved:

  1. closed loop, --channels channels x --concurrency calls in flight each (default 4 x 16 = 64):
     throughput. calls/s, latency p50/p99, and the CPU time (utime+stime, /proc/PID/stat, all
     threads) of the process under test over the measured window / calls = CPU µs per call.
  2. constant rate (open loop, latency from the scheduled start), --rate calls/s; default 50% of
     the lower of the two median closed-loop rates of phase 1 (rounded down to 100), so that both
     configurations run below saturation at the same load: latency at a fixed load, and CPU µs/call.

Medians over rounds (min-max); the ratios passthrough / direct are of the medians, with the
per-round ratios next to them (same round, so the same machine load). Goal (issue): passthrough
>= 0.5x direct calls/s. Also reported: the load generator's CPU %, CPU 0's and CPU 1's busy % (from
/proc/stat: what else ran there), to tell which side limited the throughput.

On a shared machine: before every run the script waits (up to --wait-quiet s) while a process
whose command line contains --quiet-pattern (default: pytest) runs, and a round during which one
was seen anyway is set aside and run again (up to --retries times; the set-aside runs are in the
.json). Steal time (the hypervisor running another guest) is shown with the CPU busy figures.

Stub serving (--configs servicer,stub; a phase and table of its own, closed loop only, same
--channels x --concurrency; not run by default): stuntman answering a stub from a .proto at runtime
vs a hand-written grpc.aio server that returns the same message. Both alone on CPU 1, grpc_load
(--no-check) on CPU 0:

  servicer      grpc_serve.py --serve-reply: grpc.aio (uvloop), one generic handler for
                /bench.Echo/Unary (unary_unary, raw bytes, no generated code) returning constant
                bytes: bench.Reply of bench/stubs/grpc/stubs/echo.yaml's message, serialized
                (bench/stubs/grpc/bench.proto compiled with stuntman.proto.protoset, ParseDict)
  stub          stuntman run --stubs COPY_OF(bench/stubs/grpc/stubs) --port P --admin-port A
                             --grpc-port G --proto bench/stubs/grpc/bench.proto --no-watch

Before the load of every run, one call: its answer must be exactly those bytes (so both answer
byte-identical messages). Goal (issue): stub >= 0.8x servicer calls/s.

Report and raw data: bench/results/grpc-serve-STAMP.{md,json} (the report is printed too).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc
from grpc import aio

import grpc_load

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GEN_CPU, SUT_CPU = "0", "1"
HOST = "127.0.0.1"
CONFIGS = ["direct", "passthrough", "passthrough-proto"]
SERVE_CONFIGS = ["servicer", "stub"]
GOAL_CALLS = 0.5  # passthrough calls/s >= 0.5 x direct's
GOAL_SERVE = 0.8  # stub calls/s >= 0.8 x servicer's
GRPC_STUBS = HERE / "stubs" / "grpc"
METHOD = "/bench.Echo/Unary"


# ---------------------------------------------------------------------------------------------
# the echo upstream (--serve-echo)
# ---------------------------------------------------------------------------------------------
async def _echo(request: bytes, context: aio.ServicerContext) -> bytes:
    return request


class EchoHandler(grpc.GenericRpcHandler):
    """Every unary call to /bench.Echo/*: the request's bytes back."""

    def __init__(self) -> None:
        self.handler: grpc.RpcMethodHandler = grpc.unary_unary_rpc_method_handler(_echo)  # no (de)serializer: raw bytes

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        return self.handler if method.startswith("/bench.Echo/") else None


async def serve_echo(port: int) -> None:
    server = aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers([EchoHandler()])
    bound = server.add_insecure_port(f"{HOST}:{port}")
    await server.start()
    print(bound, flush=True)
    await server.wait_for_termination()


# ---------------------------------------------------------------------------------------------
# the hand-written servicer (--serve-reply): the stub's answer, as constant bytes
# ---------------------------------------------------------------------------------------------
def reply_bytes() -> bytes:
    """bench.Reply with the message of bench/stubs/grpc/stubs/echo.yaml, serialized."""
    import yaml
    from google.protobuf import json_format

    from stuntman.proto.protoset import load_protos

    stubs = yaml.safe_load((GRPC_STUBS / "stubs" / "echo.yaml").read_text())
    protos = load_protos([GRPC_STUBS / "bench.proto"])
    cls = protos.message_class(protos.pool.FindMessageTypeByName("bench.Reply"))
    return bytes(json_format.ParseDict(stubs[0]["grpc"]["message"], cls()).SerializeToString())


class ReplyHandler(grpc.GenericRpcHandler):
    """/bench.Echo/Unary: always the same bytes."""

    def __init__(self, reply: bytes) -> None:
        async def unary(request: bytes, context: aio.ServicerContext) -> bytes:
            return reply

        self.handler: grpc.RpcMethodHandler = grpc.unary_unary_rpc_method_handler(unary)  # raw bytes

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        return self.handler if method == METHOD else None


async def serve_reply(port: int) -> None:
    server = aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers([ReplyHandler(reply_bytes())])
    bound = server.add_insecure_port(f"{HOST}:{port}")
    await server.start()
    print(bound, flush=True)
    await server.wait_for_termination()


# ---------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Proc:
    """A process pinned to one CPU (taskset execs: the pid is the process's own), output to a log."""

    def __init__(self, cpu: str, cmd: list[str], log: Path):
        self.cmd, self.log = cmd, log
        with open(log, "ab") as err:  # (the child keeps its own descriptor)
            self.p = subprocess.Popen(["taskset", "-c", cpu, *cmd], stdout=subprocess.PIPE, stderr=err,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.p.pid

    def line(self, timeout: float = 30.0) -> str:
        """The first line it prints (the echo upstream's port)."""
        assert self.p.stdout is not None
        deadline = time.monotonic() + timeout
        os.set_blocking(self.p.stdout.fileno(), False)
        buf = b""
        while time.monotonic() < deadline:
            chunk = self.p.stdout.read() or b""
            buf += chunk
            if b"\n" in buf:
                return buf.split(b"\n", 1)[0].decode()
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"{self.cmd[0]}: no port printed: {self.tail()}")

    def wait_port(self, port: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"exited with {self.p.returncode}: {self.tail()}")
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"port {port} not open after {timeout:.0f} s: {self.tail()}")

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-800:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        if self.p.stdout is not None:
            self.p.stdout.close()


def start_upstream(cpu: str, log: Path) -> tuple[Proc, int]:
    proc = Proc(cpu, [sys.executable, str(HERE / "grpc_serve.py"), "--serve-echo"], log)
    return proc, int(proc.line())


def start_stuntman(binary: str, stubs: Path, upstream: int, log: Path, proto: bool = False) -> tuple[Proc, int]:
    """proto: with --proto bench.proto, so /bench.Echo/Unary is known to be unary (passthrough-proto)."""
    grpc_port = free_port()
    cmd = [binary, "run", "--stubs", str(stubs), "--port", str(free_port()), "--admin-port", str(free_port()),
           "--grpc-port", str(grpc_port), "--grpc-upstream", f"{HOST}:{upstream}", "--no-watch",
           *(["--proto", str(GRPC_STUBS / "bench.proto")] if proto else [])]
    proc = Proc(SUT_CPU, cmd, log)
    proc.wait_port(grpc_port)
    return proc, grpc_port


def start_stub_server(binary: str, stubs: Path, log: Path) -> tuple[Proc, int]:
    grpc_port = free_port()
    cmd = [binary, "run", "--stubs", str(stubs), "--port", str(free_port()), "--admin-port", str(free_port()),
           "--grpc-port", str(grpc_port), "--proto", str(GRPC_STUBS / "bench.proto"), "--no-watch"]
    proc = Proc(SUT_CPU, cmd, log)
    proc.wait_port(grpc_port)
    return proc, grpc_port


def one_call(port: int) -> bytes:
    """One call to METHOD (a fresh channel): the answer's bytes."""
    with grpc.insecure_channel(f"{HOST}:{port}") as channel:
        call: Any = channel.unary_unary(METHOD)  # no (de)serializer: raw bytes
        answer: bytes = call(b"", timeout=10)
    return answer


def load_cmd(args: argparse.Namespace, port: int, rate: float, pids: list[int], check: bool = True) -> list[str]:
    cmd = [sys.executable, str(HERE / "grpc_load.py"), f"{HOST}:{port}", "--size", str(args.size),
           "--channels", str(args.channels)]
    if not check:
        cmd.append("--no-check")
    cmd += ["--rate", f"{rate:g}"] if rate > 0 else ["--concurrency", str(args.concurrency)]
    cmd += ["--warmup", f"{args.warmup:g}", "--duration", f"{args.duration:g}", "--json"]
    for pid in pids:
        cmd += ["--pid", str(pid)]
    return cmd


def others(pattern: str) -> list[str]:
    """Command lines of the processes (not this one) whose command line contains `pattern`."""
    mine, pid = set(), os.getpid()  # this process and its ancestors (a shell whose command names the pattern)
    while pid > 1 and pid not in mine:
        mine.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in mine:
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            if pattern in cmd:
                found.append(f"{entry} {cmd[:120]}")
    return found


def wait_quiet(args: argparse.Namespace) -> float:
    """Wait (up to --wait-quiet s) while another test run (--quiet-pattern) is going; seconds waited."""
    t0 = time.monotonic()
    if args.wait_quiet > 0 and others(args.quiet_pattern):
        print(f"# waiting: a process matching {args.quiet_pattern!r} is running", flush=True)
        while others(args.quiet_pattern) and time.monotonic() - t0 < args.wait_quiet:
            time.sleep(10)
    return round(time.monotonic() - t0, 1)


def one_run(args: argparse.Namespace, config: str, rate: float, work: Path, tag: str) -> dict[str, Any]:
    """Start the processes of `config`, drive the load, stop them; the figures."""
    procs: list[Proc] = []
    waited = wait_quiet(args)
    before = others(args.quiet_pattern)
    answer = None
    try:
        up_cpu = SUT_CPU if config == "direct" else GEN_CPU
        if config == "servicer":
            sut = upstream = Proc(SUT_CPU, [sys.executable, str(HERE / "grpc_serve.py"), "--serve-reply"],
                                  work / f"{tag}-servicer.log")
            procs.append(sut)
            port = int(sut.line())
        elif config == "stub":
            sut, port = start_stub_server(args.stuntman, work / "grpc-stubs", work / f"{tag}-stuntman.log")
            upstream = sut
            procs.append(sut)
        else:
            upstream, up_port = start_upstream(up_cpu, work / f"{tag}-upstream.log")
            procs.append(upstream)
        if config == "direct":
            sut, port = upstream, up_port
        elif config in ("passthrough", "passthrough-proto"):
            sut, port = start_stuntman(args.stuntman, work / "stubs", up_port, work / f"{tag}-stuntman.log",
                                       proto=config == "passthrough-proto")
            procs.append(sut)
        if config in SERVE_CONFIGS:  # the answer, byte for byte: the same message from both
            answer = one_call(port)
            if answer != args.reply:
                raise RuntimeError(f"{config}: answered {answer!r}, not {args.reply!r}")
        pids = [sut.pid] + ([upstream.pid] if sut is not upstream else [])
        cmd = ["taskset", "-c", GEN_CPU, *load_cmd(args, port, rate, pids, check=config not in SERVE_CONFIGS)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.warmup + args.duration + 120)
        if not done.stdout.strip():
            raise RuntimeError(f"{config}: grpc_load failed ({done.returncode}): {done.stderr[-800:]}\n"
                               + "\n".join(p.tail() for p in procs))
        r = json.loads(done.stdout)
        if sut.p.poll() is not None:
            raise RuntimeError(f"{config}: the process under test exited: {sut.tail()}")
        after = others(args.quiet_pattern)
    finally:
        for p in reversed(procs):
            p.stop()
    calls = r["calls"]
    sut_cpu = r["pids"][str(sut.pid)]
    out = {
        "config": config, "mode": r["mode"], "calls": calls, "calls_per_s": r["calls_per_s"],
        "latency_ms": r["latency_ms"], "codes": r["codes"], "errors": r["errors"],
        "sut_cpu_percent": sut_cpu["cpu_percent"],
        "sut_us_per_call": round(1e6 * sut_cpu["cpu_s"] / calls, 2) if calls else math.nan,
        "generator_cpu_percent": r["generator_cpu_percent"],
        "cpu0_busy": r["cpu_busy_percent"].get(GEN_CPU), "cpu1_busy": r["cpu_busy_percent"].get(SUT_CPU),
        **{f"cpu{cpu}_{kind}": r["cpu_detail_percent"][cpu][kind] for cpu in (GEN_CPU, SUT_CPU)
           for kind in ("softirq", "steal")},
        "waited_s": waited, "others_running": sorted(set(before) | set(after)),
        "commands": ({config: shlex.join(["taskset", "-c", SUT_CPU, *sut.cmd])} if config in SERVE_CONFIGS else
                     {"upstream": shlex.join(["taskset", "-c", up_cpu, *upstream.cmd]),
                      **({"stuntman": shlex.join(["taskset", "-c", SUT_CPU, *sut.cmd])}
                         if sut is not upstream else {})}) | {"load": shlex.join(cmd)},
        "raw": r,
    }
    if answer is not None:
        out["answer_hex"] = answer.hex()
    if sut is not upstream:
        up = r["pids"][str(upstream.pid)]
        out["upstream_cpu_percent"] = up["cpu_percent"]
        out["upstream_us_per_call"] = round(1e6 * up["cpu_s"] / calls, 2) if calls else math.nan
    if r["mode"] == "rate":
        out.update(service_ms=r["service_ms"], start_late_ms=r["start_late_ms"], answered_per_s=r["answered_per_s"],
                   max_in_flight=r["max_in_flight"])
    return out


def phase(args: argparse.Namespace, configs: list[str], rate: float, work: Path, results: list[dict[str, Any]],
          discarded: list[dict[str, Any]]) -> None:
    """--rounds rounds of every configuration, the order rotated; a round during which another test
    run (--quiet-pattern) was seen is set aside and run again (up to --retries times)."""
    label = f"rate {rate:g}/s" if rate > 0 else f"closed {args.channels}x{args.concurrency}"
    for rnd in range(args.rounds):
        order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
        for attempt in range(args.retries + 1):
            runs = []
            for config in order:
                tag = f"{'rate' if rate > 0 else 'closed'}-{rnd}-{attempt}-{config}"
                r = one_run(args, config, rate, work, tag)
                r["round"], r["attempt"] = rnd + 1, attempt + 1
                runs.append(r)
                late = f", started late p99 {r['start_late_ms'].get('p99')} ms" if rate > 0 else ""
                print(f"# {label} round {rnd + 1}/{args.rounds} {config:<12} {r['calls_per_s']:>9,.1f} calls/s  "
                      f"p50 {r['latency_ms'].get('p50')} ms  p99 {r['latency_ms'].get('p99')} ms  "
                      f"SUT {r['sut_us_per_call']} µs/call ({r['sut_cpu_percent']}%)  "
                      f"generator {r['generator_cpu_percent']}%  CPU0 {r['cpu0_busy']}% CPU1 {r['cpu1_busy']}% "
                      f"(steal {r['cpu0_steal']}/{r['cpu1_steal']})  "
                      f"errors {r['errors']}{late}"
                      + (f"  [{len(r['others_running'])} {args.quiet_pattern} process(es) seen]"
                         if r["others_running"] else ""), flush=True)
            if attempt < args.retries and any(r["others_running"] for r in runs):
                print(f"# round {rnd + 1} set aside: another test run was going; again", flush=True)
                discarded.extend(runs)
                continue
            results.extend(runs)
            break


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def git(*cmd: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *cmd], capture_output=True, text=True).stdout.strip()


def build_info(binary: str) -> dict[str, Any]:
    changed = [line for line in git("status", "--porcelain").splitlines() if line]
    in_proxy = [line[3:] for line in changed if line[3:].startswith(("proxy/", "pyproject.toml"))]
    editable = os.path.realpath(binary).startswith(os.path.realpath(ROOT / ".venv"))
    return {"commit": git("rev-parse", "--short", "HEAD"), "commit_date": git("log", "-1", "--format=%ci"),
            "work_tree_changes": len(changed), "proxy_changes": in_proxy, "stuntman": binary,
            "editable_work_tree": editable}


def machine_info() -> dict[str, Any]:
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    versions: dict[str, str | None] = {}
    for dist in ("grpcio", "uvloop"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "python": platform.python_version(), **versions, "loadavg_start": os.getloadavg()}


def of(rs: list[dict[str, Any]], config: str) -> list[dict[str, Any]]:
    return [r for r in rs if r["config"] == config]


def pick(r: dict[str, Any], key: str) -> float:
    value: Any = r
    for part in key.split("."):
        value = value.get(part, math.nan) if isinstance(value, dict) else math.nan
    return float(value)


def med(rs: list[dict[str, Any]], key: str) -> float:
    values = [pick(r, key) for r in rs]
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def mm(rs: list[dict[str, Any]], key: str, f: str = ",.1f") -> str:
    values = [pick(r, key) for r in rs]
    return f"{med(rs, key):{f}} ({min(values):{f}}-{max(values):{f}})" if values else "-"


def per_round(rs: list[dict[str, Any]], key: str, rounds: int, base: str = "direct",
              other: str = "passthrough") -> list[float]:
    out = []
    for rnd in range(1, rounds + 1):
        d = [r for r in rs if r["config"] == base and r["round"] == rnd]
        p = [r for r in rs if r["config"] == other and r["round"] == rnd]
        if d and p and pick(d[0], key):
            out.append(pick(p[0], key) / pick(d[0], key))
    return out


def limit(rs: list[dict[str, Any]]) -> str:
    """What held the throughput back, from the medians (a CPU >= 90% busy, /proc/stat: the process on
    it, the kernel's softirq work for its sockets, which the process's own utime+stime leave out, and
    steal: time the hypervisor gave to another guest)."""
    sut, gen = med(rs, "sut_cpu_percent"), med(rs, "generator_cpu_percent")
    cpu0, cpu1 = med(rs, "cpu0_busy"), med(rs, "cpu1_busy")
    figures = (f"CPU 1 {cpu1:.0f}% busy ({med(rs, 'cpu1_steal'):.0f}% steal), the process under test {sut:.0f}%; "
               f"CPU 0 {cpu0:.0f}% busy ({med(rs, 'cpu0_steal'):.0f}% steal), generator {gen:.0f}%")
    if cpu1 >= 90 and cpu0 >= 90:
        return f"both CPUs (nearly) saturated ({figures})"
    if cpu1 >= 90:
        return f"the process under test's CPU ({figures})"
    if cpu0 >= 90:
        return f"CPU 0, the load generator's side ({figures})"
    return f"neither CPU saturated ({figures}): latency-bound"


def closed_loop_table(rs: list[dict[str, Any]], configs: list[str]) -> list[str]:
    """A closed-loop phase's table: per configuration, medians (min-max) over its rounds."""
    out = ["| config | calls/s median (min-max) | p50 ms | p99 ms | CPU µs/call median (min-max) "
           "| SUT CPU % | generator CPU % | CPU 0 busy % (steal) | CPU 1 busy % (softirq, steal) | errors / calls |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in configs:
        x = of(rs, c)
        out.append(f"| {c} | {mm(x, 'calls_per_s')} | {med(x, 'latency_ms.p50'):.2f} | "
                   f"{med(x, 'latency_ms.p99'):.2f} | {mm(x, 'sut_us_per_call')} | "
                   f"{med(x, 'sut_cpu_percent'):.0f} | {med(x, 'generator_cpu_percent'):.0f} | "
                   f"{med(x, 'cpu0_busy'):.0f} ({med(x, 'cpu0_steal'):.0f}) | {med(x, 'cpu1_busy'):.0f} "
                   f"({med(x, 'cpu1_softirq'):.0f}, {med(x, 'cpu1_steal'):.0f}) | "
                   f"{sum(r['errors'] for r in x):,} / {sum(r['calls'] for r in x):,} |")
    return out


def render_serve(args: argparse.Namespace, rs: list[dict[str, Any]]) -> list[str]:
    """The stub-serving phase: its method, table, ratios stub / servicer."""
    out = [f"## Stub serving: closed loop, {args.channels} channels x {args.concurrency} calls in flight", "",
           "The process under test alone on CPU 1, the load generator (grpc_load.py --no-check) on CPU 0. "
           "`servicer` = `grpc_serve.py --serve-reply`: a grpc.aio server (uvloop), one generic unary_unary "
           "handler for /bench.Echo/Unary returning constant bytes (no generated code); `stub` = stuntman "
           "serving bench/stubs/grpc/stubs/echo.yaml from bench/stubs/grpc/bench.proto (nothing else "
           f"configured). Both answer the same {len(args.reply)}-byte bench.Reply "
           f"(`{args.reply.hex()}`), checked byte for byte with one call before every run's load. "
           f"Requests: {args.size} bytes (ignored by both).", "",
           *closed_loop_table(rs, args.serve_configs)]
    if len(args.serve_configs) == 2:
        base, other = of(rs, "servicer"), of(rs, "stub")
        out += ["", "| stub / servicer | ratio of the medians | per round |", "|---|---:|---|"]
        for name, key in (("calls/s", "calls_per_s"), ("CPU µs/call", "sut_us_per_call")):
            ratio = med(other, key) / med(base, key)
            goal = f" (goal ≥ {GOAL_SERVE}: **{'met' if ratio >= GOAL_SERVE else 'missed'}**)" \
                if name == "calls/s" else ""
            rounds = ", ".join(f"{v:.3f}" for v in per_round(rs, key, args.rounds, "servicer", "stub"))
            out.append(f"| {name} | **{ratio:.3f}**{goal} | {rounds} |")
    out += ["", "What limited the throughput (medians): "
            + "; ".join(f"`{c}`: {limit(of(rs, c))}" for c in args.serve_configs) + ".", ""]
    return out


def render(args: argparse.Namespace, data: dict[str, Any]) -> str:
    closed, rated = data["closed"], data["rate"]
    build, mach = data["build"], data["machine"]
    dirty = (f"work tree has {build['work_tree_changes']} changed/untracked paths"
             + (f", of them under proxy/: {', '.join(build['proxy_changes'])}" if build["proxy_changes"] else
                ", none under proxy/")) if build["work_tree_changes"] else "clean work tree"
    measured = ("the editable install, i.e. the work tree as it was" if build["editable_work_tree"]
                else build["stuntman"])
    moved = data["build_end"]["commit"] != build["commit"]
    serve = data["serve"]
    title = " and ".join(t for t, on in (("gRPC pass-through vs direct", args.pass_configs),
                                         ("gRPC stub serving vs a hand-written servicer", args.serve_configs)) if on)
    out = [f"# {title} — {data['stamp']}", "",
           f"stuntman **{build['commit']}** ({build['commit_date']}); {dirty}. Measured: {measured}."
           + (f" HEAD moved to {data['build_end']['commit']} during the run." if moved else ""), "",
           f"Machine: {mach['nproc']} CPU ({mach['cpu']}), kernel {mach['kernel']}, Python {mach['python']}, "
           f"grpcio {mach['grpcio']}, uvloop {mach['uvloop']}; load average "
           f"{' / '.join(f'{x:.2f}' for x in mach['loadavg_start'])} at the start, "
           f"{' / '.join(f'{x:.2f}' for x in data['loadavg_end'])} at the end.", "",
           f"Method: `bench/grpc_serve.py {' '.join(data['argv'])}`: {args.rounds} rounds, configurations "
           f"interleaved, order rotated every round, every process started afresh for every run; "
           f"{args.warmup:g} s warm-up, {args.duration:g} s measured; {args.size}-byte unary calls to "
           "/bench.Echo/Unary (an echo: every answer checked to be the request's bytes). The process under test is "
           "alone on CPU 1: `direct` = load generator (CPU 0) -> echo upstream (CPU 1); `passthrough` = load "
           "generator (CPU 0) -> stuntman (CPU 1) -> echo upstream (CPU 0, beside the generator). CPU µs/call = "
           "utime+stime of the process under test over the measured window / calls (its threads included; the "
           "kernel's softirq work for its sockets is not in it, see the CPU busy columns). Closed loop: "
           f"{args.channels} channels x {args.concurrency} = {args.channels * args.concurrency} calls in flight "
           "(bench/README.md, gRPC: why). One load generator process (grpc_load.py).", ""]
    if not args.pass_configs:
        out[-2:] = [f"Method: `bench/grpc_serve.py {' '.join(data['argv'])}`: see below.", ""]
    for title, rs, rate in ((f"Closed loop: {args.channels} channels x {args.concurrency} calls in flight", closed, 0),
                            (f"Constant rate: {data.get('rate_calls_s', 0):g} calls/s ({data.get('rate_source')})",
                             rated, 1)):
        if not rs:
            continue
        out += [f"## {title}", ""]
        if not rate:
            out += closed_loop_table(rs, args.pass_configs)
        else:
            out += ["| config | calls/s | p50 ms | p90 ms | p99 ms | max ms | service p50 / p99 ms | started late "
                    "p99 ms | CPU µs/call median (min-max) | SUT CPU % | generator CPU % | CPU 0 busy % (steal) | "
                    "CPU 1 busy % (steal) | errors / calls |",
                    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
            for c in args.pass_configs:
                x = of(rs, c)
                out.append(f"| {c} | {med(x, 'calls_per_s'):,.1f} | {med(x, 'latency_ms.p50'):.2f} | "
                           f"{med(x, 'latency_ms.p90'):.2f} | {med(x, 'latency_ms.p99'):.2f} | "
                           f"{med(x, 'latency_ms.max'):.2f} | {med(x, 'service_ms.p50'):.2f} / "
                           f"{med(x, 'service_ms.p99'):.2f} | {med(x, 'start_late_ms.p99'):.2f} | "
                           f"{mm(x, 'sut_us_per_call')} | {med(x, 'sut_cpu_percent'):.0f} | "
                           f"{med(x, 'generator_cpu_percent'):.0f} | {med(x, 'cpu0_busy'):.0f} "
                           f"({med(x, 'cpu0_steal'):.0f}) | {med(x, 'cpu1_busy'):.0f} ({med(x, 'cpu1_steal'):.0f}) | "
                           f"{sum(r['errors'] for r in x):,} / {sum(r['calls'] for r in x):,} |")
        for through in [c for c in args.pass_configs if c != "direct"] if "direct" in args.pass_configs else []:
            d, p = of(rs, "direct"), of(rs, through)
            out += ["", f"| {through} / direct | ratio of the medians | per round |", "|---|---:|---|"]
            keys = [("calls/s", "calls_per_s"), ("CPU µs/call", "sut_us_per_call")] if not rate else \
                [("p50", "latency_ms.p50"), ("p99", "latency_ms.p99"), ("CPU µs/call", "sut_us_per_call")]
            for name, key in keys:
                ratio = med(p, key) / med(d, key)
                goal = ""
                if name == "calls/s":
                    goal = f" (goal ≥ {GOAL_CALLS}: **{'met' if ratio >= GOAL_CALLS else 'missed'}**)"
                rounds = ", ".join(f"{v:.3f}" for v in per_round(rs, key, args.rounds, other=through))
                out.append(f"| {name} | **{ratio:.3f}**{goal} | {rounds} |")
            if rate:
                added = {q: med(p, f"latency_ms.{q}") - med(d, f"latency_ms.{q}") for q in ("p50", "p99")}
                out += ["", f"Added latency at this load: p50 +{added['p50']:.2f} ms, p99 +{added['p99']:.2f} ms."]
            up = med(p, "upstream_us_per_call")
            out += ["", f"In `{through}`, the echo upstream (on CPU 0) used {up:.1f} µs/call "
                    f"({med(p, 'upstream_cpu_percent'):.0f}% of a CPU)."]
        if not rate:
            out += ["", "What limited the throughput (medians): "
                    + "; ".join(f"`{c}`: {limit(of(rs, c))}" for c in args.pass_configs) + "."]
        out.append("")
    if serve:
        out += render_serve(args, serve)
    runs = closed + rated + serve
    busy = [r for r in runs if r["others_running"]]
    waited = sum(r["waited_s"] for r in runs)
    which = ", ".join(f"{r['mode']} round {r['round']} {r['config']}" for r in busy)
    aside = data["set_aside"]
    waited += sum(r["waited_s"] for r in aside)
    out += [f"Other test runs (processes matching `{args.quiet_pattern}`): present during {len(busy)} of the "
            f"{len(runs)} runs above" + (f" ({which})" if busy else "")
            + f"; {len(aside)} runs set aside (rounds run again because one was), "
            f"{waited:.0f} s waited for them before runs. Steal (time the hypervisor gave another guest) is in "
            "the CPU busy columns.", ""]
    out += ["## Commands (round 1; ports differ every run)", ""]
    for r in [r for r in closed + rated + serve if r["round"] == 1]:
        out.append(f"{r['config']}, {'closed loop' if r['mode'] == 'closed' else 'constant rate'}:")
        out.append("```")
        out += list(r["commands"].values())
        out.append("```")
    out += ["", "Per run (all rounds) in the .json: every figure grpc_load reported, and the commands.", ""]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve-echo", action="store_true", help="run the echo upstream (prints its port)")
    ap.add_argument("--serve-reply", action="store_true",
                    help="run the hand-written servicer answering the stub's bench.Reply (prints its port)")
    ap.add_argument("--port", type=int, default=0, help="--serve-echo, --serve-reply: port (default: any free one)")
    ap.add_argument("--stuntman", default=os.environ.get("BENCH_STUNTMAN", str(ROOT / ".venv" / "bin" / "stuntman")))
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help=f"comma-separated, of {', '.join(CONFIGS + SERVE_CONFIGS)} (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=16, help="closed loop: calls in flight per channel")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="constant-rate phase: calls/s (default: 50%% of the lower closed-loop median; "
                    "-1: no constant-rate phase)")
    ap.add_argument("--size", type=int, default=64, help="request bytes")
    ap.add_argument("--wait-quiet", type=float, default=1800.0,
                    help="before each run, wait up to this many s while a process matching --quiet-pattern runs "
                    "(0: do not wait) (default: %(default)s)")
    ap.add_argument("--quiet-pattern", default="pytest", help="(default: %(default)s)")
    ap.add_argument("--retries", type=int, default=2,
                    help="run a round again (at most this many times) when a --quiet-pattern process was seen "
                    "during it (default: %(default)s)")
    ap.add_argument("--out-dir", default=str(HERE / "results"))
    args = ap.parse_args()
    if args.serve_echo:
        grpc_load._asyncio_run(serve_echo(args.port))
        return 0
    if args.serve_reply:
        grpc_load._asyncio_run(serve_reply(args.port))
        return 0
    args.configs = [c for c in args.configs.split(",") if c]
    for c in args.configs:
        if c not in CONFIGS + SERVE_CONFIGS:
            raise SystemExit(f"unknown config {c!r}; one of {', '.join(CONFIGS + SERVE_CONFIGS)}")
    args.pass_configs = [c for c in args.configs if c in CONFIGS]
    args.serve_configs = [c for c in args.configs if c in SERVE_CONFIGS]
    args.reply = reply_bytes() if args.serve_configs else b""
    os.sched_setaffinity(0, {int(GEN_CPU)})  # this script beside the load generator, never on CPU 1
    data: dict[str, Any] = {"stamp": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "argv": sys.argv[1:],
                            "build": build_info(args.stuntman), "machine": machine_info(),
                            "options": {k: v for k, v in vars(args).items()
                                        if k not in ("serve_echo", "serve_reply", "port", "reply")},
                            "reply_hex": args.reply.hex(), "closed": [], "rate": [], "serve": [], "set_aside": []}
    with tempfile.TemporaryDirectory(prefix="stuntman-grpc-serve-") as tmp:
        work = Path(tmp)
        (work / "stubs").mkdir()
        shutil.copytree(GRPC_STUBS / "stubs", work / "grpc-stubs")
        if args.pass_configs:
            phase(args, args.pass_configs, 0.0, work, data["closed"], data["set_aside"])
        if args.pass_configs and args.rate >= 0:
            if args.rate > 0:
                rate, source = args.rate, "--rate"
            else:
                lowest = min(med(of(data["closed"], c), "calls_per_s") for c in args.pass_configs)
                rate = max(100.0, math.floor(0.5 * lowest / 100) * 100)
                source = f"50% of the lower closed-loop median, {lowest:,.0f} calls/s, rounded down to 100"
            data["rate_calls_s"], data["rate_source"] = rate, source
            phase(args, args.pass_configs, rate, work, data["rate"], data["set_aside"])
        if args.serve_configs:
            phase(args, args.serve_configs, 0.0, work, data["serve"], data["set_aside"])
    data["loadavg_end"] = os.getloadavg()
    data["build_end"] = build_info(args.stuntman)
    md = render(args, data)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"grpc-serve-{stamp}.md").write_text(md)
    (out_dir / f"grpc-serve-{stamp}.json").write_text(json.dumps(data, indent=1))
    print(f"\n{md}\n# report: {out_dir}/grpc-serve-{stamp}.md\n# raw:    {out_dir}/grpc-serve-{stamp}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
