"""`stuntman run | record | replay | validate | probe | schema`: the commands that start a server,
check its stub files, or ask a running one. Every `run` flag can also come from STUNTMAN_<FLAG>."""
from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import json
import os
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from pydantic import ValidationError

from .. import __version__
from ..config.loader import BODY_DIR, STUB_SUFFIXES, ConfigErrors, load_file, stub_files
from ..config.model import ProxySpec, stub_file_schema
from ..settings import Settings
from .common import (
    DEFAULTS,
    CliError,
    add_record_mode,
    check_admin_exposure,
    check_dir,
    check_upstream_ca,
    env_flag,
    exchanges_held,
    port_number,
    recording_directory,
    settings_from,
    setup_logging,
)
from .recordings import cmd_forward


def _host_names(text: str) -> tuple[str, ...]:
    return tuple(text.replace(",", " ").split())


class _AppendTuple(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, (getattr(namespace, self.dest) or ()) + (values,))


def _run_flags(run) -> None:
    """The flags of `run` (and `record`, `replay`): each with its STUNTMAN_* env var."""
    run.set_defaults(env_flags=[])  # (dest, env var, type, default) of each flag, for settings_from
    env_flag(run, "--stubs", Path, DEFAULTS.stubs, "directory of stub files (*.yaml, *.yml, *.json)", "DIR")
    env_flag(run, "--host", str, DEFAULTS.host, "data-plane listen address", "H")
    env_flag(run, "--port", port_number, DEFAULTS.port, "data-plane port", "P")
    env_flag(run, "--admin-host", str, DEFAULTS.admin_host, "admin API listen address", "H")
    env_flag(run, "--admin-port", port_number, DEFAULTS.admin_port, "admin API port", "A")
    env_flag(run, "--admin-token", str, None,
             "bearer token the admin API requires; mandatory when --admin-host is not loopback", "TOKEN")
    # Repeatable, so not an env_flag: the env var holds the names separated by commas or spaces.
    run.get_default("env_flags").append(
        ("admin_allowed_hosts", "STUNTMAN_ADMIN_ALLOWED_HOSTS", _host_names, DEFAULTS.admin_allowed_hosts))
    run.add_argument("--admin-allowed-host", dest="admin_allowed_hosts", action=_AppendTuple, default=None,
                     metavar="NAME",
                     help="also answer admin requests whose Host is NAME (any port) or NAME:PORT, e.g. a "
                          "Compose or Kubernetes service name (repeatable; localhost, 127.0.0.1, [::1] and the "
                          "address connected to always are) [env STUNTMAN_ADMIN_ALLOWED_HOSTS]")
    env_flag(run, "--admin-max-body-bytes", int, DEFAULTS.admin_max_body_bytes,
             "largest admin API request body (then 413)", "N")
    env_flag(run, "--upstream", str, None, "pass unmatched requests through to this URL (sidecar mode)", "URL")
    env_flag(run, "--upstream-timeout", float, DEFAULTS.upstream_timeout,
             "seconds to wait for the upstream's response head before answering 504", "S")
    env_flag(run, "--connect-timeout", float, DEFAULTS.connect_timeout, "seconds to connect upstream", "S")
    env_flag(run, "--pool-max-idle", int, DEFAULTS.pool_max_idle,
             "idle keep-alive connections kept per upstream (more are closed)", "N")
    env_flag(run, "--preserve-host", bool, False, "send the client's Host header upstream (default: rewrite it)")
    env_flag(run, "--upstream-ca", Path, None,
             "CA bundle (PEM) to verify https:// upstreams (default: system store)", "FILE")
    env_flag(run, "--insecure-upstream", bool, False, "do not verify https:// upstream certificates")
    env_flag(run, "--grpc-port", port_number, None, "also listen for gRPC (h2c) on this port", "P")
    env_flag(run, "--grpc-host", str, None, "gRPC listen address (default: --host)", "H")
    env_flag(run, "--grpc-max-streams", int, DEFAULTS.grpc_max_streams,
             "gRPC calls in flight on one client connection (more wait for a place)", "N")
    env_flag(run, "--grpc-upstream", str, None,
             "pass gRPC calls through to HOST:PORT (h2c) or grpcs://HOST:PORT (TLS)", "TARGET")
    env_flag(run, "--grpc-upstream-reflection", bool, False,
             "learn the methods --proto does not name from --grpc-upstream's server reflection (their kinds, "
             "their messages as JSON in the journal and recordings)")
    env_flag(run, "--grpc-upstream-ca", Path, None,
             "CA bundle (PEM) to verify a grpcs:// upstream (default: system roots)", "FILE")
    run.add_argument("--proto", action="append", type=Path, default=[], metavar="DIR_OR_FILE",
                     help="gRPC services from a .proto file, every .proto under a directory, or a descriptor set "
                          "(.pb, .desc), compiled in-process: stubs answer their methods with messages written "
                          "as JSON (repeatable; reloaded when they change)")
    run.add_argument("--proto-include", action="append", type=Path, default=[], metavar="DIR",
                     help="another import path for --proto files (repeatable; the well-known types are built in)")
    env_flag(run, "--max-body-bytes", int, DEFAULTS.max_body_bytes,
             "largest body buffered for routes that match on it (then 413)", "N")
    env_flag(run, "--max-header-bytes", int, DEFAULTS.max_header_bytes, "largest request head (then 431)", "N")
    env_flag(run, "--max-headers", int, DEFAULTS.max_headers, "most header fields (then 431)", "N")
    env_flag(run, "--max-url-bytes", int, DEFAULTS.max_url_bytes, "longest request-target (then 414)", "N")
    env_flag(run, "--max-upstream-header-bytes", int, DEFAULTS.max_upstream_header_bytes,
             "largest upstream response head (then 502 and the connection closed)", "N")
    env_flag(run, "--idle-timeout", float, DEFAULTS.idle_timeout, "seconds before an idle connection closes", "S")
    env_flag(run, "--header-timeout", float, DEFAULTS.header_timeout,
             "seconds for a client to send a whole request head (then 408)", "S")
    env_flag(run, "--body-timeout", float, DEFAULTS.body_timeout,
             "seconds a request body may stall between two reads (then 408)", "S")
    env_flag(run, "--drain-timeout", float, DEFAULTS.drain_timeout,
             "on SIGTERM/SIGINT: stop accepting, then give in-flight requests this long to finish", "S")
    env_flag(run, "--session-header", str, DEFAULTS.session_header,
             "request header whose value partitions scenario and sequence state", "NAME")
    env_flag(run, "--journal-size", int, DEFAULTS.journal_size,
             "requests kept in the journal (/__admin/requests), oldest dropped first; 0 turns it off", "N")
    env_flag(run, "--journal-responses", int, DEFAULTS.journal_responses,
             "keep up to N bytes of each proxied response in the journal too (POST /__admin/recordings/snapshot)",
             "N")
    env_flag(run, "--journal-body-bytes", int, DEFAULTS.journal_body_bytes,
             "bytes of each request body kept in the journal", "N")
    env_flag(run, "--no-metrics", bool, False, "do not count requests for GET /metrics")
    env_flag(run, "--seed", int, None, "seed of fault decisions (default: random, printed at start)", "N")
    env_flag(run, "--fault-headers", bool, False,
             "let any request ask for a delay or an error with X-Stuntman-Delay-Ms / X-Stuntman-Abort")
    run.add_argument("--fault", action="append", default=[], metavar="K=V,...",
                     help="a fault for matching requests, e.g. 'path=/api/payments,type=error,status=503,"
                          "probability=0.1' (repeatable; keys: method, path, pathPrefix, route, and the fault's "
                          "own fields)")
    run.add_argument("--openapi", action="append", type=Path, default=[], metavar="SPEC",
                     help="serve an OpenAPI document (Swagger 2.0, OpenAPI 3.0/3.1; YAML or JSON) as stubs: "
                          "examples, or data generated from its schemas (repeatable; reloaded when it changes)")
    env_flag(run, "--no-validate", bool, False,
             "do not check requests to --openapi contracts against them (default: 400 problem+json)")
    env_flag(run, "--enforce-security", bool, False,
             "answer 401 when an --openapi contract's declared security is not met (default: report it "
             "in an X-Stuntman-Security header)")
    run.add_argument("--openapi-monitor", action="append", type=Path, default=[], metavar="SPEC",
                     help="check the traffic (proxied, recorded, replayed, stubbed) against an OpenAPI document "
                          "and report what breaks it in the journal and the stuntman_contract_violations_total "
                          "metric; nothing is blocked unless --contract-enforce (repeatable)")
    env_flag(run, "--contract-enforce", bool, False,
             "block what breaks an --openapi-monitor contract: a request with 400, a response replaced by 502")
    env_flag(run, "--contract-header", bool, False,
             "say an --openapi-monitor contract's verdict in an X-Stuntman-Contract response header (this holds "
             "each proxied response whole before it goes out)")
    run.add_argument("--pact", action="append", type=Path, default=[], metavar="FILE_OR_DIR",
                     help="serve a pact file (Pact specification v1 to v4), or every *.json pact in a directory, "
                          "as stubs: each HTTP interaction answers the requests its rules match (repeatable; "
                          "reloaded when it changes)")
    env_flag(run, "--provider-state", str, None,
             "the provider state --pact interactions are served in: a regular expression their states are "
             "searched with (a request's X-Pact-Provider-State header, or its session's state, comes first)",
             "REGEX")
    env_flag(run, "--strict-provider-state", bool, False,
             "interactions without a provider state answer only when no state is asked for")
    env_flag(run, "--no-uvloop", bool, False, "use asyncio's default event loop instead of uvloop")
    env_flag(run, "--no-watch", bool, False, "do not reload when files under --stubs change")
    env_flag(run, "--recordings", Path, DEFAULTS.recordings, "directory of recordings", "DIR")
    env_flag(run, "--record-to", str, None,
             "record what passes to --upstream (and the gRPC calls passed through) into this recording", "NAME")
    run.add_argument("--redact", action="append", default=[], metavar="NAME",
                     help="also redact this header / query parameter / JSON field name in recordings (repeatable; "
                          "Authorization, Proxy-Authorization, Cookie, Set-Cookie and X-Api-Key always are)")
    run.add_argument("--redact-json", action="append", default=[], metavar="JSONPATH",
                     help="redact the JSON body fields this JSONPath finds (repeatable)")
    env_flag(run, "--no-redact", bool, False, "write secrets to recordings as they are")
    env_flag(run, "--record-body-inline", int, DEFAULTS.record_body_inline,
             "bodies larger than this go to side files in recordings (bodies/)", "N")


def add_run_commands(sub) -> None:
    """run, record, replay, validate: their parsers."""
    run = sub.add_parser("run", help="serve stubs (and pass unmatched requests upstream)",
                         description="Serve the stubs in a directory on the data-plane port; "
                                     "with --upstream, unmatched requests pass through to it.")
    record = sub.add_parser("record", help="pass requests through to --upstream, recording them (--to NAME)",
                            description="A reverse proxy to --upstream (and, with --grpc-port, to "
                                        "--grpc-upstream) that records every exchange into --recordings/NAME "
                                        "(redacted; see README 'Record and replay').")
    replay = sub.add_parser("replay", help="answer from recordings (--mode strict|spy|record-missing)",
                            description="Serve recordings (names under --recordings, or directories) as "
                                        "routes: strict answers 404 for what was not recorded, spy passes it "
                                        "to --upstream, record-missing passes it and records it.")
    for command in (run, record, replay):
        _run_flags(command)
    run.set_defaults(func=cmd_run)
    record.set_defaults(func=cmd_record)
    replay.set_defaults(func=cmd_replay)
    record.add_argument("--to", dest="record_to", required=True, metavar="NAME",
                        help="the recording (a directory under --recordings)")
    add_record_mode(record)
    record.add_argument("--forward", action="store_true",
                        help="be a forward proxy (HTTPS_PROXY=http://HOST:PORT) that intercepts HTTPS with "
                             "stuntman's CA (mitmproxy), recording every upstream; no --upstream needed")
    record.add_argument("--ca-dir", type=Path, default=None, metavar="DIR",
                        help="where stuntman's CA lives (default: $STUNTMAN_CA_DIR or ~/.config/stuntman/ca)")
    replay.add_argument("replay", nargs="+", metavar="RECORDING", help="recording names (or directories)")
    replay.add_argument("--mode", dest="replay_mode", default="strict",
                        choices=("strict", "spy", "record-missing"), help="what happens to unrecorded requests")
    replay.add_argument("--latency", dest="replay_latency", default="none", choices=("none", "recorded"),
                        help="answer at once, or after each exchange's recorded time to first byte")
    replay.add_argument("--ignore-query", dest="replay_ignore_query", action="append", default=None, metavar="NAME",
                        help="a query parameter not to match on (repeatable; default: _)")
    replay.add_argument("--ignore-body", dest="replay_ignore_body", action="append", default=[], metavar="JSONPATH",
                        help="a JSON request-body field not to match on, e.g. '$.requestId' (repeatable)")

    val = sub.add_parser("validate", help="check stub files; print every error with file:line",
                         description="Check every stub file under DIR, or one stub FILE (one under --stubs is "
                                     "checked as the server loads it, with the rest of that directory). Prints "
                                     "each error as file:line: field.path: message; exit status 1 if any.")
    val.add_argument("path", type=Path, metavar="DIR|FILE", nargs="?", default=DEFAULTS.stubs,
                     help="stubs directory, or one stub file (default: stubs)")
    val.add_argument("--stubs", type=Path, default=DEFAULTS.stubs, metavar="DIR",
                     help="for a FILE: the stubs directory it belongs to, which bodyFile paths and a fault's "
                          "route: are resolved in (default: stubs; a file outside it stands alone)")
    val.set_defaults(func=cmd_validate)


def add_probe_and_schema(sub) -> None:
    """probe, schema: their parsers."""
    probe = sub.add_parser("probe", help="exit 0 if the stuntman here is serving (for health checks)",
                           description="Ask a running stuntman's GET /__admin/ready (no token needed): exit 0 "
                                       "while it serves, 1 while it drains or does not answer. The address comes "
                                       "from --admin-url, else STUNTMAN_ADMIN_HOST/STUNTMAN_ADMIN_PORT.")
    probe.add_argument("--admin-url", default=None, metavar="URL", help="default: from the STUNTMAN_ADMIN_* env")
    probe.add_argument("--timeout", type=float, default=2.0, metavar="S", help="seconds to wait (default 2)")
    probe.set_defaults(func=cmd_probe)
    schema = sub.add_parser("schema", help="print the JSON Schema of stub files (or of recorded exchanges)",
                            description="Print the JSON Schema (draft 2020-12) that stub files follow, "
                                        "or with --recording, that a recording's exchange files follow.")
    schema.add_argument("--recording", action="store_true", help="the recorded-exchange format")
    schema.set_defaults(func=cmd_schema)


def cmd_validate(args) -> int:
    from ..compile import load_table

    if args.path.is_file() or (not args.path.exists() and args.path.suffix.lower() in STUB_SUFFIXES):
        return _validate_file(args.path, args.stubs)
    check_dir(args.path)
    table, errors = load_table(args.path, {}, DEFAULTS)
    for err in errors:
        print(err)
    if errors:
        print(f"{len(errors)} error(s) in {args.path}", file=sys.stderr)
        return 1
    files = table.files | {r.fault.source.split(":")[0] for r in table.faults.rules}
    print(f"ok: {len(table.routes)} stub(s), {len(table.faults.rules)} standalone fault(s) "
          f"in {len(files)} file(s) under {args.path}")
    return 0


def _validate_file(path: Path, stubs: Path) -> int:
    """One stub file. Under `stubs` it is checked with the rest of that directory, as the server
    loads it (bodyFile paths, a fault's route: naming a stub of another file, ids used twice), and
    only its own errors are printed; elsewhere it stands alone, its directory the root. Errors name
    the file as it was given."""
    from ..compile import compile_table, load_table

    if not path.exists():
        raise CliError(f"stub file '{path}' does not exist")
    if path.suffix.lower() not in STUB_SUFFIXES:
        raise CliError(f"'{path}' is not a stub file (.yaml, .yml or .json) or a directory")
    resolved = path.resolve()
    inside = stubs.is_dir() and resolved.is_relative_to(stubs.resolve())
    root = stubs.resolve() if inside else resolved.parent
    name = resolved.relative_to(root).as_posix()
    if not inside:
        try:
            table, errors = compile_table(load_file(resolved, root), root, {}, DEFAULTS)
        except ConfigErrors as exc:  # it does not parse or validate: nothing to compile
            errors = exc.errors
    else:
        if resolved not in stub_files(root):
            raise CliError(f"'{path}' is not read as a stub file under {stubs} (hidden, or under {BODY_DIR}/)")
        table, errors = load_table(root, {}, DEFAULTS)
    errors = [replace(e, file=str(path)) for e in errors if e.file == name]
    for err in errors:
        print(err)
    if errors:
        print(f"{len(errors)} error(s) in {path}", file=sys.stderr)
        return 1
    stub_count = sum(1 for r in table.routes if r.file == name)
    fault_count = sum(1 for r in table.faults.rules if r.fault.source.split(":")[0] == name)
    counts = [f"{stub_count} stub(s)"] if stub_count or not fault_count else []
    counts += [f"{fault_count} standalone fault(s)"] if fault_count else []
    print(f"ok: {', '.join(counts)} in {path}")
    return 0


def cmd_probe(args) -> int:
    from ..client import Stuntman, StuntmanError

    url = args.admin_url
    if url is None:
        host = os.environ.get("STUNTMAN_ADMIN_HOST", DEFAULTS.admin_host)
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # listening everywhere: ask loopback
        url = f"http://{'[' + host + ']' if ':' in host else host}:{os.environ.get('STUNTMAN_ADMIN_PORT', '8081')}"
    try:
        ready = Stuntman(url, timeout=args.timeout).ready()
    except (OSError, StuntmanError) as exc:
        print(f"stuntman: not ready: {url}: {exc}", file=sys.stderr)
        return 1
    if not ready:
        print(f"stuntman: draining: {url}", file=sys.stderr)
    return 0 if ready else 1


def cmd_schema(args) -> int:
    if args.recording:
        from ..record.format import recording_schema

        print(json.dumps(recording_schema(), indent=2))
    else:
        print(json.dumps(stub_file_schema(), indent=2))
    return 0


def cmd_run(args) -> int:
    return _start(settings_from(args))


def cmd_record(args) -> int:
    """Into a new recording; into one that holds exchanges only with --append or --overwrite (which
    removes them once stuntman listens: a start that fails loses nothing)."""
    settings = _stubs_optional(settings_from(args))
    held = exchanges_held(recording_directory(settings.recordings, args.record_to), args.record_to,
                          args.append, args.overwrite)
    if args.forward:
        return cmd_forward(settings, args, held)
    return _start(settings, without_upstream="record needs --upstream URL (or --grpc-upstream TARGET, with "
                                             "--grpc-port): the service whose exchanges are recorded",
                  replacing=held if args.overwrite else 0)


def cmd_replay(args) -> int:
    settings = _stubs_optional(settings_from(args))
    if settings.replay_mode == "strict":
        return _start(settings)
    return _start(settings, without_upstream=f"--mode {settings.replay_mode} needs --upstream URL (or "
                                             "--grpc-upstream TARGET) for what was not recorded")


def _stubs_optional(settings: Settings) -> Settings:
    """record and replay need no stubs: without the default stubs directory they serve none."""
    if settings.stubs == DEFAULTS.stubs and not settings.stubs.exists():
        return replace(settings, stubs=Path(tempfile.mkdtemp(prefix="stuntman-nostubs-")))
    return settings


def _start(settings: Settings, without_upstream: str | None = None, replacing: int = 0) -> int:
    """Check the settings, then serve until SIGTERM/SIGINT (or POST /__admin/shutdown).
    `without_upstream`: the error when this command needs --upstream and has none; `replacing`:
    the exchanges --record-to's recording holds, to remove once listening (--overwrite)."""
    check_dir(settings.stubs)
    recording = recording_directory(settings.recordings, settings.record_to) if settings.record_to else None
    if without_upstream and not (settings.upstream or settings.grpc_upstream and settings.grpc_port is not None):
        raise CliError(without_upstream)  # (an HTTP upstream, or a gRPC one)
    if settings.upstream:
        try:
            ProxySpec(upstream=settings.upstream)  # the same URL rules as a route's proxy
        except ValidationError as exc:
            raise CliError(f"--upstream {settings.upstream!r}: {exc.errors()[0]['msg']}") from None
    check_admin_exposure(settings)
    check_upstream_ca(settings)
    setup_logging()
    if settings.uvloop:
        import uvloop

        return uvloop.run(_serve(settings, recording, replacing))
    return asyncio.run(_serve(settings, recording, replacing))


def _tune_gc() -> None:
    """This process is a server: what is loaded by now (modules, the route table) lives as long
    as it does, so it leaves the cyclic collector's sight (gc.freeze); and the young generation is
    collected every 20,000 allocations, not 700, so the objects of a request held 50 ms by a
    latency fault die young instead of being promoted into full collections that walk them all
    (with 1,000 such requests in flight those stalled the loop for 25-50 ms: a p99 miss)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def _recording_started(directory: Path | None, replacing: int) -> str:
    """The start line's word on the recording: where, and what became of what it held. Called once
    stuntman listens, and before it reads a request: only then are replaced exchanges removed."""
    from ..record.recorder import clear_recording, read_index

    if directory is None:
        return ""
    if replacing:
        clear_recording(directory)
        return f", recording into {directory} (replacing it: its {replacing} exchange(s) removed)"
    held = len(read_index(directory))
    return f", recording into {directory}" + (f" (appending to its {held} exchange(s))" if held else "")


async def _serve(settings: Settings, recording: Path | None = None, replacing: int = 0) -> int:
    from ..server import Server

    try:
        server = Server(settings)
    except ConfigErrors as exc:  # a --fault flag
        raise CliError("; ".join(map(str, exc.errors))) from None
    try:
        count = server.load()
    except ConfigErrors as exc:
        for err in exc.errors:
            print(err, file=sys.stderr)
        also = " or contracts" if settings.openapi or settings.openapi_monitor else ""
        where = ("--fault flags" if all(e.file.startswith("--fault") for e in exc.errors)
                 else f"stub files under {settings.stubs}{also}")
        raise CliError(f"{len(exc.errors)} error(s) in {where}; not started") from None
    _tune_gc()
    try:
        await server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CliError(f"cannot listen: an address is already in use ({exc.strerror}: "
                           f"port {settings.port} or admin port {settings.admin_port})") from None
        raise CliError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    admin = f", admin http://{settings.admin_host}:{server.admin_port}" if server.admin_port else ""
    if server.grpc is not None:
        admin += f", gRPC on {settings.grpc_host or settings.host}:{server.grpc.port}" + \
            (f" → {settings.grpc_upstream}" if settings.grpc_upstream else "")
    upstream = f", unmatched → {settings.upstream}" if settings.upstream else ""
    upstream += _recording_started(recording, replacing)
    faults = len(server.table.faults.rules)
    contracts = server.table.contracts
    openapi = [c for c in contracts if c.kind == "openapi"]
    pacts = [c for c in contracts if c.kind == "pact"]
    served = sum(len(c.spec.operations) for c in openapi if not c.options.monitor)
    monitored = sum(len(c.spec.operations) for c in openapi if c.options.monitor)
    count -= sum(len(c.routes) for c in contracts)
    extra = f", {len(openapi)} contract(s) with {served} operation(s)" if served else ""
    extra += f", {monitored} operation(s) monitored" if monitored else ""
    extra += f", {len(pacts)} pact(s) with {sum(len(c.routes) for c in pacts)} interaction(s)" if pacts else ""
    extra += f", {faults} standalone fault(s)" if faults else ""
    print(f"stuntman {__version__}: {count} stub(s){extra} "
          f"from {settings.stubs} on "
          f"http://{settings.host}:{server.port}{admin}{upstream} "
          f"({'uvloop' if settings.uvloop else 'asyncio'}; fault seed {server.seed}: --seed {server.seed} repeats "
          f"this run's fault decisions)", flush=True)
    stopped = asyncio.ensure_future(stop.wait())
    asked = asyncio.ensure_future(server.stop_requested.wait())
    await asyncio.wait([stopped, asked], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    asked.cancel()
    busy = await server.drain(settings.drain_timeout)
    await server.close()
    print(f"stuntman: stopped ({'drained' if not busy else f'{busy} connection(s) cut at --drain-timeout'})",
          flush=True)
    return 0
