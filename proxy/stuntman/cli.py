"""`stuntman run | record | replay | validate | probe | schema`, and (record/commands.py) the
recording commands. Every `run` flag can also come from STUNTMAN_<FLAG>."""
from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import json
import logging
import os
import signal
import sys
import tempfile
from dataclasses import fields, replace
from pathlib import Path

from pydantic import ValidationError

from . import __version__
from .config.loader import ConfigErrors
from .config.model import ProxySpec, stub_file_schema
from .record.recorder import UnreadableExchange
from .settings import Settings, is_loopback

DEFAULTS = Settings()
RECORDING_COMMANDS = {"import": "cmd_import", "export": "cmd_export", "diff": "cmd_diff",
                      "stubs": "cmd_stubs_from_recording", "ca": "cmd_ca"}  # in record/commands.py


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise CliError(f"{message} (see '{self.prog} --help')")


def _env_name(flag: str) -> str:
    return "STUNTMAN_" + flag.lstrip("-").replace("-", "_").upper()


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _add(parser, flag: str, kind, default, help: str, metavar: str | None = None) -> None:
    """A `run` flag that falls back to its STUNTMAN_* env var, then to `default`.

    The env var is read only when `run` executes (see _from_env), so a bad STUNTMAN_PORT never
    breaks `validate` or `schema`.
    """
    env = _env_name(flag)
    dest = flag.lstrip("-").replace("-", "_")
    parser.get_default("env_flags").append((dest, env, kind, default))
    if kind is bool:
        parser.add_argument(flag, action="store_true", default=None, help=f"{help} [env {env}]")
        return
    shown = "" if default is None else f" (default: {default})"
    parser.add_argument(flag, type=kind, default=None, metavar=metavar,
                        help=f"{help}{shown} [env {env}]")


def _from_env(args) -> None:
    """Fill every `run` flag not given on the command line from its env var or default."""
    for dest, env, kind, default in args.env_flags:
        if getattr(args, dest) is not None:
            continue
        raw = os.environ.get(env)
        if raw is None:
            value = default
        elif kind is bool:
            if raw.lower() not in _TRUE + _FALSE:
                raise CliError(f"{env}={raw!r}: expected true or false")
            value = raw.lower() in _TRUE
        else:
            try:
                value = kind(raw)
            except ValueError:
                raise CliError(f"{env}={raw!r}: expected {kind.__name__}") from None
        setattr(args, dest, value)


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


_port.__name__ = "port number"


def _run_flags(run) -> None:
    """The flags of `run` (and `record`, `replay`): each with its STUNTMAN_* env var."""
    run.set_defaults(env_flags=[])  # (dest, env var, type, default) of each flag, for _from_env
    _add(run, "--stubs", Path, DEFAULTS.stubs, "directory of stub files (*.yaml, *.yml, *.json)", "DIR")
    _add(run, "--host", str, DEFAULTS.host, "data-plane listen address", "H")
    _add(run, "--port", _port, DEFAULTS.port, "data-plane port", "P")
    _add(run, "--admin-host", str, DEFAULTS.admin_host, "admin API listen address", "H")
    _add(run, "--admin-port", _port, DEFAULTS.admin_port, "admin API port", "A")
    _add(run, "--admin-token", str, None,
         "bearer token the admin API requires; mandatory when --admin-host is not loopback", "TOKEN")
    _add(run, "--upstream", str, None, "pass unmatched requests through to this URL (sidecar mode)", "URL")
    _add(run, "--upstream-timeout", float, DEFAULTS.upstream_timeout,
         "seconds to wait for the upstream's response head before answering 504", "S")
    _add(run, "--connect-timeout", float, DEFAULTS.connect_timeout, "seconds to connect upstream", "S")
    _add(run, "--pool-max-idle", int, DEFAULTS.pool_max_idle,
         "idle keep-alive connections kept per upstream (more are closed)", "N")
    _add(run, "--preserve-host", bool, False, "send the client's Host header upstream (default: rewrite it)")
    _add(run, "--upstream-ca", Path, None, "CA bundle (PEM) to verify https:// upstreams (default: system store)", "FILE")
    _add(run, "--insecure-upstream", bool, False, "do not verify https:// upstream certificates")
    _add(run, "--max-body-bytes", int, DEFAULTS.max_body_bytes,
         "largest body buffered for routes that match on it (then 413)", "N")
    _add(run, "--max-header-bytes", int, DEFAULTS.max_header_bytes, "largest request head (then 431)", "N")
    _add(run, "--max-headers", int, DEFAULTS.max_headers, "most header fields (then 431)", "N")
    _add(run, "--max-url-bytes", int, DEFAULTS.max_url_bytes, "longest request-target (then 414)", "N")
    _add(run, "--idle-timeout", float, DEFAULTS.idle_timeout, "seconds before an idle connection closes", "S")
    _add(run, "--header-timeout", float, DEFAULTS.header_timeout,
         "seconds for a client to send a whole request head (then 408)", "S")
    _add(run, "--body-timeout", float, DEFAULTS.body_timeout,
         "seconds a request body may stall between two reads (then 408)", "S")
    _add(run, "--drain-timeout", float, DEFAULTS.drain_timeout,
         "on SIGTERM/SIGINT: stop accepting, then give in-flight requests this long to finish", "S")
    _add(run, "--session-header", str, DEFAULTS.session_header,
         "request header whose value partitions scenario and sequence state", "NAME")
    _add(run, "--journal-size", int, DEFAULTS.journal_size,
         "requests kept in the journal (/__admin/requests), oldest dropped first; 0 turns it off", "N")
    _add(run, "--journal-responses", int, DEFAULTS.journal_responses,
         "keep up to N bytes of each proxied response in the journal too (POST /__admin/recordings/snapshot)", "N")
    _add(run, "--journal-body-bytes", int, DEFAULTS.journal_body_bytes,
         "bytes of each request body kept in the journal", "N")
    _add(run, "--no-metrics", bool, False, "do not count requests for GET /metrics")
    _add(run, "--seed", int, None, "seed of fault decisions (default: random, printed at start)", "N")
    _add(run, "--fault-headers", bool, False,
         "let any request ask for a delay or an error with X-Stuntman-Delay-Ms / X-Stuntman-Abort")
    run.add_argument("--fault", action="append", default=[], metavar="K=V,...",
                     help="a fault for matching requests, e.g. 'path=/api/payments,type=error,status=503,"
                          "probability=0.1' (repeatable; keys: method, path, pathPrefix, route, and the fault's "
                          "own fields)")
    _add(run, "--no-uvloop", bool, False, "use asyncio's default event loop instead of uvloop")
    _add(run, "--no-watch", bool, False, "do not reload when files under --stubs change")
    _add(run, "--recordings", Path, DEFAULTS.recordings, "directory of recordings", "DIR")
    _add(run, "--record-to", str, None, "record what passes to --upstream into this recording", "NAME")
    run.add_argument("--redact", action="append", default=[], metavar="NAME",
                     help="also redact this header / query parameter / JSON field name in recordings (repeatable; "
                          "Authorization, Proxy-Authorization, Cookie, Set-Cookie and X-Api-Key always are)")
    run.add_argument("--redact-json", action="append", default=[], metavar="JSONPATH",
                     help="redact the JSON body fields this JSONPath finds (repeatable)")
    _add(run, "--no-redact", bool, False, "write secrets to recordings as they are")
    _add(run, "--record-body-inline", int, DEFAULTS.record_body_inline,
         "bodies larger than this go to side files in recordings (bodies/)", "N")


def build_parser() -> argparse.ArgumentParser:
    from .record.commands import add_recording_commands

    parser = _Parser(prog="stuntman", description=(
        "Service virtualization and fault-injecting HTTP proxy: serves stubs from YAML/JSON "
        "files and passes everything else through to a real upstream."))
    parser.add_argument("--version", action="version", version=f"stuntman {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="serve stubs (and pass unmatched requests upstream)",
                         description="Serve the stubs in a directory on the data-plane port; "
                                     "with --upstream, unmatched requests pass through to it.")
    record = sub.add_parser("record", help="pass requests through to --upstream, recording them (--to NAME)",
                            description="A reverse proxy to --upstream that records every exchange into "
                                        "--recordings/NAME (redacted; see README 'Record and replay').")
    replay = sub.add_parser("replay", help="answer from recordings (--mode strict|spy|record-missing)",
                            description="Serve recordings (names under --recordings, or directories) as "
                                        "routes: strict answers 404 for what was not recorded, spy passes it "
                                        "to --upstream, record-missing passes it and records it.")
    for command in (run, record, replay):
        _run_flags(command)
    record.add_argument("--to", dest="record_to", required=True, metavar="NAME",
                        help="the recording (a directory under --recordings)")
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
                         description="Check every stub file under DIR. Prints each error as "
                                     "file:line: field.path: message; exit status 1 if any.")
    val.add_argument("dir", type=Path, metavar="DIR", nargs="?", default=DEFAULTS.stubs,
                     help="stubs directory (default: stubs)")

    add_recording_commands(sub, _Parser, DEFAULTS)

    probe = sub.add_parser("probe", help="exit 0 if the stuntman here is serving (for health checks)",
                           description="Ask a running stuntman's GET /__admin/ready (no token needed): exit 0 "
                                       "while it serves, 1 while it drains or does not answer. The address comes "
                                       "from --admin-url, else STUNTMAN_ADMIN_HOST/STUNTMAN_ADMIN_PORT.")
    probe.add_argument("--admin-url", default=None, metavar="URL", help="default: from the STUNTMAN_ADMIN_* env")
    probe.add_argument("--timeout", type=float, default=2.0, metavar="S", help="seconds to wait (default 2)")
    schema = sub.add_parser("schema", help="print the JSON Schema of stub files (or of recorded exchanges)",
                            description="Print the JSON Schema (draft 2020-12) that stub files follow, "
                                        "or with --recording, that a recording's exchange files follow.")
    schema.add_argument("--recording", action="store_true", help="the recorded-exchange format")
    return parser


def _recording_path(value: str) -> str:
    """On the command line a recording with a slash is a path (recordings/payments); a bare name
    lives under --recordings."""
    return str(Path(value).resolve()) if "/" in value or os.sep in value else value


def _settings(args) -> Settings:
    _from_env(args)
    values = {f.name: getattr(args, f.name) for f in fields(Settings) if hasattr(args, f.name)}
    values["uvloop"] = not args.no_uvloop
    values["watch"] = not args.no_watch
    values["metrics"] = not args.no_metrics
    values["fault"] = tuple(args.fault)
    values["redact"], values["redact_json"] = tuple(args.redact), tuple(args.redact_json)
    values["replay"] = tuple(map(_recording_path, getattr(args, "replay", ()) or ()))
    values["record_to"] = _recording_path(args.record_to) if args.record_to else None
    if getattr(args, "replay_ignore_query", None) is not None:
        values["replay_ignore_query"] = tuple(args.replay_ignore_query)
    else:
        values.pop("replay_ignore_query", None)  # the default (_)
    values["replay_ignore_body"] = tuple(getattr(args, "replay_ignore_body", ()) or ())
    return Settings(**values)


def _check_dir(path: Path) -> None:
    if not path.exists():
        raise CliError(f"stubs directory '{path}' does not exist")
    if not path.is_dir():
        raise CliError(f"'{path}' is not a directory")


def cmd_validate(args) -> int:
    from .compile import load_table

    _check_dir(args.dir)
    table, errors = load_table(args.dir, {}, DEFAULTS)
    for err in errors:
        print(err)
    if errors:
        print(f"{len(errors)} error(s) in {args.dir}", file=sys.stderr)
        return 1
    files = table.files | {r.fault.source.split(":")[0] for r in table.faults.rules}
    print(f"ok: {len(table.routes)} stub(s), {len(table.faults.rules)} standalone fault(s) "
          f"in {len(files)} file(s) under {args.dir}")
    return 0


def cmd_probe(args) -> int:
    from .client import Stuntman, StuntmanError

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


def cmd_run(args) -> int:
    settings = _settings(args)
    if args.command != "run" and settings.stubs == DEFAULTS.stubs and not settings.stubs.exists():
        settings = replace(settings, stubs=Path(tempfile.mkdtemp(prefix="stuntman-nostubs-")))  # stubs are optional here
    if args.command == "record" and args.forward:
        from .record.commands import cmd_forward

        return cmd_forward(settings, args)
    _check_dir(settings.stubs)
    if args.command == "record" and not settings.upstream:
        raise CliError("record needs --upstream URL: the service whose exchanges are recorded")
    if args.command == "replay" and settings.replay_mode != "strict" and not settings.upstream:
        raise CliError(f"--mode {settings.replay_mode} needs --upstream URL for what was not recorded")
    if settings.upstream:
        try:
            ProxySpec(upstream=settings.upstream)  # the same URL rules as a route's proxy
        except ValidationError as exc:
            raise CliError(f"--upstream {settings.upstream!r}: {exc.errors()[0]['msg']}") from None
    if not is_loopback(settings.admin_host) and not settings.admin_token:
        raise CliError(f"the admin API on {settings.admin_host} would be reachable from other hosts: "
                       "set --admin-token (or STUNTMAN_ADMIN_TOKEN), or bind it to 127.0.0.1")
    if settings.upstream_ca and not settings.upstream_ca.is_file():
        raise CliError(f"--upstream-ca '{settings.upstream_ca}' is not a file")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s stuntman %(levelname)s %(message)s")
    if settings.uvloop:
        import uvloop

        runner = uvloop.run
    else:
        runner = asyncio.run
    return runner(_serve(settings))


def _tune_gc() -> None:
    """This process is a server: what is loaded by now (modules, the route table) lives as long
    as it does, so it leaves the cyclic collector's sight (gc.freeze); and the young generation is
    collected every 20,000 allocations, not 700, so the objects of a request held 50 ms by a
    latency fault die young instead of being promoted into full collections that walk them all
    (with 1,000 such requests in flight those stalled the loop for 25-50 ms: a p99 miss)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


async def _serve(settings: Settings) -> int:
    from .server import Server

    try:
        server = Server(settings)
    except ConfigErrors as exc:  # a --fault flag
        raise CliError("; ".join(map(str, exc.errors))) from None
    try:
        count = server.load()
    except ConfigErrors as exc:
        for err in exc.errors:
            print(err, file=sys.stderr)
        raise CliError(f"{len(exc.errors)} error(s) in stub files under {settings.stubs}; not started") from None
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
    upstream = f", unmatched → {settings.upstream}" if settings.upstream else ""
    faults = len(server.table.faults.rules)
    print(f"stuntman {__version__}: {count} stub(s){f', {faults} standalone fault(s)' if faults else ''} "
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


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command in ("run", "record", "replay"):
            return cmd_run(args)
        if args.command in RECORDING_COMMANDS:
            from .record import commands

            return getattr(commands, RECORDING_COMMANDS[args.command])(args)
        if args.command == "probe":
            return cmd_probe(args)
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "schema":
            if args.recording:
                from .record.format import recording_schema

                print(json.dumps(recording_schema(), indent=2))
            else:
                print(json.dumps(stub_file_schema(), indent=2))
            return 0
        parser.print_help()
        return 2
    except CliError as exc:
        print(f"stuntman: error: {exc}", file=sys.stderr)
        return 2
    except UnreadableExchange as exc:  # a recording's file that does not parse
        print(f"stuntman: error: {exc.file}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
