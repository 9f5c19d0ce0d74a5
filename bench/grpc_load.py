#!/usr/bin/env python3
"""A small gRPC load generator: unary calls of raw bytes over grpc.aio (no generated code, any method).

  grpc_load.py HOST:PORT [--method /bench.Echo/Unary] [--size 64] [--channels 4]
               [--concurrency 16 | --rate R] [--warmup 1] [--duration 10] [--processes 1]
               [--timeout 10] [--no-check] [--pid PID ...] [--json]

Each channel is its own grpc.aio channel with its own connection (`grpc.use_local_subchannel_pool`
= 1), connected and checked with one call before the load starts. The request is --size bytes; with
the check on (the default), an answer that is not the request's bytes back (an echo) is counted as
WRONG_ANSWER.

Closed loop (default): --concurrency calls in flight on each channel, a new call as soon as one
ends. Counted: the calls that ended inside the measured window; latency from the call's start.

Constant rate (--rate R, calls/s over all channels): open loop, calls are started on a fixed
schedule (round robin over the channels) whatever the answers; a call's latency is measured from
its scheduled time, so a server that stalls is charged for the calls it kept waiting (no
coordinated omission). Timers have a millisecond's resolution (uvloop), so a call whose time is
less than 1 ms away starts at once, a little early, and its latency is then taken from when it
actually started. Counted: the calls scheduled inside the window, waited for after it (up to
--timeout). Also reported: the service time (from the actual start), how late calls started
(a generator that cannot keep up starts them late), the most calls in flight.

--warmup s of load are not counted; the measured window is the --duration s after them. With
--processes K, K processes each drive --channels/K channels (and --rate/K), share one measured
window, and their latencies are merged (all of them are kept: percentiles are exact). uvloop is
used when it can be imported.

Report: calls, calls/s, latency p50/p90/p99/max (ms), the calls per status code name, the load
generator's own CPU (user+system, every thread and process) and the busy share of every CPU over
the window (/proc/stat, with its split: user, system, softirq, steal, ...); --pid PID (repeatable)
adds the CPU time of that process over the same window (to measure the server: CPU µs per call =
cpu_s / calls). --json prints one JSON object.

As a module: `run(Options(target=...)) -> dict` (the JSON object), `format_result(dict) -> str`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import sys
import time
from array import array
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from grpc import aio

TICK = 0.001  # the event loop's timer resolution (libuv: milliseconds)
CLK = os.sysconf("SC_CLK_TCK")
now = time.monotonic  # CLOCK_MONOTONIC: one clock for every process on the machine


@dataclass
class Options:
    target: str
    method: str = "/bench.Echo/Unary"
    size: int = 64
    channels: int = 4
    concurrency: int = 16  # closed loop: calls in flight per channel
    rate: float = 0.0  # > 0: open loop at this many calls/s over all channels
    warmup: float = 1.0
    duration: float = 10.0
    timeout: float = 10.0
    processes: int = 1
    check: bool = True
    pids: list[int] = field(default_factory=list)  # processes whose CPU over the window is reported


@dataclass
class Part:
    """What one process measured (picklable: sent back by --processes workers)."""
    latency: array = field(default_factory=lambda: array("d"))  # seconds, counted calls
    service: array = field(default_factory=lambda: array("d"))  # open loop: from the actual start
    late: array = field(default_factory=lambda: array("d"))  # open loop: actual start - scheduled
    codes: Counter = field(default_factory=Counter)
    answered_in_window: int = 0
    max_in_flight: int = 0


class Window:
    """The measured window [t0, t1): unknown (infinite) until the warm-up ends."""
    t0 = t1 = math.inf


# ---------------------------------------------------------------------------------------------
# one process's load
# ---------------------------------------------------------------------------------------------
class Driver:
    def __init__(self, opts: Options, channels: int, rate: float, offset: float = 0.0):
        self.opts, self.rate, self.offset = opts, rate, offset
        self.payload = bytes((i * 7 + 1) & 0xFF for i in range(opts.size))
        self.channels = [aio.insecure_channel(opts.target, options=[("grpc.use_local_subchannel_pool", 1)])
                         for _ in range(channels)]
        self.calls: list[Any] = [ch.unary_unary(opts.method) for ch in self.channels]  # raw bytes both ways
        self.in_flight = 0

    async def connect(self) -> None:
        """Each channel connected, and one call on it answered as it should be."""
        for call in self.calls:
            try:
                answer = await call(self.payload, timeout=self.opts.timeout)
            except aio.AioRpcError as exc:
                raise SystemExit(f"{self.opts.target}{self.opts.method}: {exc.code().name} {exc.details()}") \
                    from None
            if self.opts.check and answer != self.payload:
                raise SystemExit(f"{self.opts.target}{self.opts.method}: the answer is not the request's bytes "
                                 f"({len(answer)} bytes back for {len(self.payload)}); --no-check if not an echo")

    async def close(self) -> None:
        for ch in self.channels:
            await ch.close()

    async def run(self, w: Window, part: Part) -> None:
        if self.rate > 0:
            await self._open(w, part)
        else:
            await asyncio.gather(*(self._closed(call, w, part) for call in self.calls
                                   for _ in range(self.opts.concurrency)))

    async def _call(self, call: Any) -> str:
        try:
            answer = await call(self.payload, timeout=self.opts.timeout)
        except aio.AioRpcError as exc:
            return str(exc.code().name)
        return "OK" if not self.opts.check or answer == self.payload else "WRONG_ANSWER"

    async def _closed(self, call: Any, w: Window, part: Part) -> None:
        latency, codes = part.latency, part.codes
        while True:
            start = now()
            if start >= w.t1:
                return
            code = await self._call(call)
            end = now()
            if w.t0 <= end < w.t1:
                latency.append(end - start)
                codes[code] += 1

    async def _open(self, w: Window, part: Part) -> None:
        interval = 1.0 / self.rate
        base = now() + self.offset
        pending: set[asyncio.Task] = set()
        i = 0
        while True:
            scheduled = base + i * interval
            if scheduled >= w.t1:
                break
            wait = scheduled - now()
            if wait > TICK:
                await asyncio.sleep(wait)
            task = asyncio.ensure_future(self._one(self.calls[i % len(self.calls)], scheduled, w, part))
            pending.add(task)
            task.add_done_callback(pending.discard)
            i += 1
        if pending:
            await asyncio.wait(pending)

    async def _one(self, call: Any, scheduled: float, w: Window, part: Part) -> None:
        self.in_flight += 1
        if self.in_flight > part.max_in_flight:
            part.max_in_flight = self.in_flight
        start = now()
        code = await self._call(call)
        end = now()
        self.in_flight -= 1
        if w.t0 <= end < w.t1:
            part.answered_in_window += 1
        if w.t0 <= scheduled < w.t1:
            part.latency.append(end - min(scheduled, start))
            part.service.append(end - start)
            part.late.append(start - scheduled)
            part.codes[code] += 1


def _asyncio_run(main: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


async def _sleep_until(t: float) -> None:
    while (left := t - now()) > 0:
        await asyncio.sleep(left)


# ---------------------------------------------------------------------------------------------
# CPU over the window (/proc)
# ---------------------------------------------------------------------------------------------
def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK


STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpus_jiffies() -> dict[str, list[int]]:
    """Per CPU, /proc/stat's first 8 fields (guest time is counted in user already)."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *v = line.split()
                out[name[3:]] = list(map(int, v[:8]))
    return out


class Sample:
    def __init__(self, pids: list[int], own: list[int]):
        self.t = now()
        self.pids = {pid: _cpu_or_nan(pid) for pid in pids}
        self.own = sum(_cpu_or_nan(pid) for pid in own)
        self.cpus = cpus_jiffies()


def _cpu_or_nan(pid: int) -> float:
    try:
        return proc_cpu_s(pid)
    except (OSError, ValueError, IndexError):
        return math.nan


def _cpu_report(a: Sample, b: Sample) -> dict[str, Any]:
    wall = b.t - a.t
    busy, detail = {}, {}
    for cpu in sorted(b.cpus, key=int):
        d = [y - x for x, y in zip(a.cpus[cpu], b.cpus[cpu], strict=True)]
        total = max(1, sum(d))
        busy[cpu] = round(100 * (total - d[3] - d[4]) / total, 1)  # all but idle and iowait
        detail[cpu] = {name: round(100 * v / total, 1) for name, v in zip(STAT_FIELDS, d, strict=True)}
    return {
        "window_s": round(wall, 4),
        "generator_cpu_s": round(b.own - a.own, 3),
        "generator_cpu_percent": round(100 * (b.own - a.own) / wall, 1),
        "cpu_busy_percent": busy, "cpu_detail_percent": detail,
        "pids": {str(pid): {"cpu_s": round(b.pids[pid] - a.pids[pid], 3),
                            "cpu_percent": round(100 * (b.pids[pid] - a.pids[pid]) / wall, 1)} for pid in a.pids},
    }


# ---------------------------------------------------------------------------------------------
# one process, or several
# ---------------------------------------------------------------------------------------------
async def _single(opts: Options) -> tuple[Part, dict]:
    driver = Driver(opts, opts.channels, opts.rate)
    try:
        await driver.connect()
        w, part = Window(), Part()
        w.t0 = now() + opts.warmup
        w.t1 = w.t0 + opts.duration
        load = asyncio.ensure_future(driver.run(w, part))
        await _sleep_until(w.t0)
        a = Sample(opts.pids, [os.getpid()])
        await _sleep_until(w.t1)
        b = Sample(opts.pids, [os.getpid()])
        await load
    finally:
        await driver.close()
    return part, _cpu_report(a, b)


def _worker(opts: Options, index: int, conn: Connection) -> None:
    """A --processes worker: connect, say so, load; the window comes from the parent; the Part back."""
    share = _split(opts.channels, opts.processes)[index]
    rate = opts.rate / opts.processes
    offset = index / opts.rate / opts.processes if opts.rate > 0 else 0.0

    async def main() -> Part:
        driver = Driver(opts, share, rate, offset)
        try:
            await driver.connect()
            conn.send("ready")
            w, part = Window(), Part()
            load = asyncio.ensure_future(driver.run(w, part))
            w.t0, w.t1 = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            await load
            return part
        finally:
            await driver.close()
    try:
        conn.send(_asyncio_run(main()))
    except BaseException as exc:
        conn.send(f"error: {exc}")
        raise


def _split(n: int, k: int) -> list[int]:
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _multi(opts: Options) -> tuple[Part, dict]:
    ctx = multiprocessing.get_context("spawn")  # (no grpc state inherited)
    pipes, procs = [], []
    for i in range(opts.processes):
        mine, theirs = ctx.Pipe()
        p = ctx.Process(target=_worker, args=(opts, i, theirs), daemon=True)
        p.start()
        pipes.append(mine)
        procs.append(p)
    try:
        for conn in pipes:
            said = conn.recv()
            if said != "ready":
                raise SystemExit(f"a worker failed: {said}")
        t0 = now() + opts.warmup
        for conn in pipes:
            conn.send((t0, t0 + opts.duration))
        own = [p.pid for p in procs if p.pid is not None]
        time.sleep(max(0.0, t0 - now()))
        a = Sample(opts.pids, own)
        time.sleep(max(0.0, t0 + opts.duration - now()))
        b = Sample(opts.pids, own)
        merged = Part()
        for conn in pipes:
            part = conn.recv()
            if not isinstance(part, Part):
                raise SystemExit(f"a worker failed: {part}")
            merged.latency.extend(part.latency)
            merged.service.extend(part.service)
            merged.late.extend(part.late)
            merged.codes.update(part.codes)
            merged.answered_in_window += part.answered_in_window
            merged.max_in_flight += part.max_in_flight  # (an upper bound: the peaks need not coincide)
    finally:
        for p in procs:
            p.join(timeout=opts.timeout + 5)
            if p.is_alive():
                p.kill()
    return merged, _cpu_report(a, b)


def percentiles(values: array, scale: float = 1000.0) -> dict[str, float]:
    """p50/p90/p99 (nearest rank), max and mean, ×scale (seconds → ms)."""
    if not values:
        return {}
    s = sorted(values)
    n = len(s)

    def rank(p: float) -> float:
        return round(s[max(0, math.ceil(p / 100 * n) - 1)] * scale, 3)
    return {"p50": rank(50), "p90": rank(90), "p99": rank(99), "max": round(s[-1] * scale, 3),
            "mean": round(sum(s) / n * scale, 3)}


def run(opts: Options) -> dict[str, Any]:
    """Drive the load; the result as the JSON object --json prints."""
    if opts.processes < 1 or opts.channels < opts.processes:
        raise ValueError("--processes must be between 1 and --channels")
    if opts.processes == 1:
        part, cpu = _asyncio_run(_single(opts))
    else:
        part, cpu = _multi(opts)
    calls = len(part.latency)
    result: dict[str, Any] = {
        "target": opts.target, "method": opts.method, "size": opts.size,
        "mode": "rate" if opts.rate > 0 else "closed", "channels": opts.channels,
        "concurrency": opts.concurrency if opts.rate <= 0 else None, "rate": opts.rate or None,
        "processes": opts.processes, "warmup_s": opts.warmup, "duration_s": opts.duration,
        "calls": calls, "calls_per_s": round(calls / opts.duration, 1),
        "latency_ms": percentiles(part.latency), "codes": dict(sorted(part.codes.items())),
        "errors": calls - part.codes.get("OK", 0),
    }
    if opts.rate > 0:
        result.update({"answered_per_s": round(part.answered_in_window / opts.duration, 1),
                       "service_ms": percentiles(part.service), "start_late_ms": percentiles(part.late),
                       "max_in_flight": part.max_in_flight})
    result.update(cpu)
    return result


def format_result(r: dict[str, Any]) -> str:
    load = (f"{r['rate']:g} calls/s (open loop)" if r["mode"] == "rate"
            else f"{r['concurrency']} in flight per channel (closed loop)")
    lat = r["latency_ms"]
    lines = [f"{r['target']}{r['method']}, {r['size']} bytes, {r['channels']} channels x {load}, "
             f"{r['processes']} process(es), {r['warmup_s']:g} s warm-up + {r['duration_s']:g} s",
             f"  calls        {r['calls']:,} ({r['calls_per_s']:,.1f}/s)",
             "  latency ms   " + (f"p50 {lat['p50']}  p90 {lat['p90']}  p99 {lat['p99']}  max {lat['max']}"
                                  if lat else "-")
             + ("  (from the scheduled start)" if r["mode"] == "rate" else ""),
             "  codes        " + ", ".join(f"{k} {v:,}" for k, v in r["codes"].items())]
    if r["mode"] == "rate":
        sv, late = r["service_ms"], r["start_late_ms"]
        if sv:
            lines += [f"  service ms   p50 {sv['p50']}  p99 {sv['p99']}  max {sv['max']}  (from the actual start)",
                      f"  started late p50 {late['p50']} ms, p99 {late['p99']} ms, max {late['max']} ms; "
                      f"{r['answered_per_s']:,.1f} answers/s; at most {r['max_in_flight']} in flight"]
    busy = ", ".join(f"CPU {c} {v}% (softirq {r['cpu_detail_percent'][c]['softirq']}%, "
                     f"steal {r['cpu_detail_percent'][c]['steal']}%)" for c, v in r["cpu_busy_percent"].items())
    lines.append(f"  generator    {r['generator_cpu_percent']}% of a CPU; busy: {busy}")
    for pid, c in r["pids"].items():
        per = f", {1e6 * c['cpu_s'] / r['calls']:.1f} µs/call" if r["calls"] else ""
        lines.append(f"  pid {pid:<8} {c['cpu_percent']}% of a CPU{per}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("target", help="HOST:PORT (h2c)")
    ap.add_argument("--method", default=Options.method, help="full method path (default: %(default)s)")
    ap.add_argument("--size", type=int, default=Options.size, help="request bytes (default: %(default)s)")
    ap.add_argument("--channels", type=int, default=Options.channels, help="(default: %(default)s)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--concurrency", type=int, default=Options.concurrency,
                      help="closed loop: calls in flight per channel (default: %(default)s)")
    mode.add_argument("--rate", type=float, default=0.0, help="open loop: calls/s over all channels")
    ap.add_argument("--warmup", type=float, default=Options.warmup, help="seconds (default: %(default)s)")
    ap.add_argument("--duration", type=float, default=Options.duration, help="seconds (default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=Options.timeout, help="per call, s (default: %(default)s)")
    ap.add_argument("--processes", type=int, default=1, help="load processes (default: %(default)s)")
    ap.add_argument("--no-check", dest="check", action="store_false",
                    help="do not require the answer to be the request's bytes")
    ap.add_argument("--pid", type=int, action="append", default=[], help="report this process's CPU too")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args(argv)
    opts = Options(target=a.target, method=a.method, size=a.size, channels=a.channels, concurrency=a.concurrency,
                   rate=a.rate, warmup=a.warmup, duration=a.duration, timeout=a.timeout, processes=a.processes,
                   check=a.check, pids=a.pid)
    try:
        result = run(opts)
    except ValueError as exc:
        ap.error(str(exc))
    print(json.dumps(result) if a.json else format_result(result))
    return 0 if result["calls"] and not result["errors"] else 1



if __name__ == "__main__":
    sys.exit(main())
