"""The command-line commands of recordings: import, export, diff, stubs from-recording, ca, and
`record --forward` (its parser is `record`'s, in cli/run.py). What they drive is in record/."""
from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from .. import __version__
from ..settings import Settings
from .common import (
    DEFAULTS,
    CliError,
    Parser,
    add_record_mode,
    check_upstream_ca,
    exchanges_held,
    recording_directory,
)


def add_recording_commands(sub) -> None:
    """import, export, diff, stubs from-recording, ca: their parsers."""
    imp = sub.add_parser("import", help="import a HAR file or mitmproxy flows into a recording, or an OpenAPI "
                                        "spec as stub files",
                         description="Import the entries of a HAR 1.2 file (browser or proxy export), or the "
                                     "HTTP flows of a mitmproxy flow file, into a recording (--to), redacted like "
                                     "a recording's own; or an OpenAPI spec as editable stub files (--out), one "
                                     "per operation, a stub per response and named example.")
    imp.add_argument("format", choices=("har", "mitmproxy", "openapi"), help="the file's format")
    imp.add_argument("file", type=Path, help="the file to import")
    imp.add_argument("--to", dest="record_to", default=None, metavar="NAME",
                     help="har, mitmproxy: the recording (a name under --recordings, or a path)")
    imp.add_argument("--out", dest="out", type=Path, default=None, metavar="DIR",
                     help="openapi: the directory to write the stub files into (made if missing; a file "
                          "already there is not overwritten without --overwrite)")
    imp.add_argument("--seed", type=int, default=None, metavar="N",
                     help="openapi: seed of generated bodies (default: a served contract's, from the file name)")
    imp.add_argument("--skip-bad", action="store_true", help="import the good entries even if some are bad")
    add_record_mode(imp)
    imp.set_defaults(func=cmd_import)
    exp = sub.add_parser("export", help="export a recording as HAR",
                         description="Write a recording as a HAR 1.2 file (for tools that read HAR).")
    exp.add_argument("format", choices=("har",), help="the format to write")
    exp.add_argument("recording", metavar="RECORDING", help="a name under --recordings, or a path")
    exp.add_argument("--out", type=Path, default=None, help="the file to write (default: standard output)")
    exp.set_defaults(func=cmd_export)
    diff = sub.add_parser("diff", help="replay a recording against the live upstream and report drift",
                          description="Send each recorded request to --upstream again and report what changed: "
                                      "status, headers, JSON fields added/removed/retyped, values (ids and times "
                                      "ignored). Exchanges whose requests hold redacted values are skipped unless "
                                      "--header supplies them or --send-redacted is given. Exit status 1 when "
                                      "anything drifted, 2 when the upstream cannot be reached.")
    diff.add_argument("recording", metavar="RECORDING", help="a name under --recordings, or a path")
    diff.add_argument("--upstream", required=True, metavar="URL", help="the live service")
    diff.add_argument("--headers", default="content-type", metavar="A,B",
                      help="response headers to compare (default: content-type)")
    diff.add_argument("--ignore", action="append", default=[], metavar="JSONPATH",
                      help="a field whose changes do not count, e.g. '$.meta.requestId' (repeatable)")
    diff.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                      help="send this header with every request, in place of the recorded one (e.g. "
                           "credentials the recording redacted; repeatable)")
    diff.add_argument("--send-redacted", action="store_true",
                      help="send exchanges whose requests hold redacted values anyway, as recorded (by default "
                           "they are skipped and listed)")
    diff.add_argument("--json", action="store_true", help="the report as JSON")
    diff.set_defaults(func=cmd_diff)
    stubs = sub.add_parser("stubs", help="stubs from-recording: turn a recording into editable stub files")
    stubs_sub = stubs.add_subparsers(dest="stubs_command", metavar="COMMAND", parser_class=Parser, required=True)
    from_rec = stubs_sub.add_parser(
        "from-recording", help="a recording → generalized, editable stubs",
        description="Write a recording as stub files: duplicates merged, volatile headers dropped, ids in paths "
                    "generalized to templates, large bodies to __files/.")
    from_rec.add_argument("recording", metavar="RECORDING", help="a name under --recordings, or a path")
    from_rec.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to write the stub file")
    from_rec.add_argument("--stubs", type=Path, default=DEFAULTS.stubs, metavar="DIR",
                          help="the stubs directory bodyFile paths are relative to, when --out is inside it")
    from_rec.add_argument("--proto", action="append", type=Path, default=[], metavar="DIR_OR_FILE",
                          help="the --proto the recording's gRPC calls were made with: their stubs' JSON messages "
                               "are checked against it (repeatable)")
    from_rec.add_argument("--proto-include", action="append", type=Path, default=[], metavar="DIR",
                          help="another import path for --proto files (repeatable)")
    from_rec.set_defaults(func=cmd_stubs_from_recording)
    for command in (imp, exp, diff, from_rec):
        command.add_argument("--recordings", type=Path, default=DEFAULTS.recordings, metavar="DIR",
                             help="directory of recordings (default: recordings)")
    imp.add_argument("--redact", action="append", default=[], metavar="NAME", help="more names to redact")
    imp.add_argument("--redact-json", action="append", default=[], metavar="JSONPATH", help="JSONPaths to redact")
    imp.add_argument("--no-redact", action="store_true", help="write secrets as they are")

    ca = sub.add_parser("ca", help="stuntman's CA for forward-proxy recording: where it is, or its PEM",
                        description="The CA certificate clients trust for `stuntman record --forward` (generated "
                                    "on first use). See README 'Trusting stuntman's CA'.")
    ca.add_argument("--path", action="store_true", help="print the certificate's path (the default)")
    ca.add_argument("--export", action="store_true", help="print the certificate (PEM)")
    ca.add_argument("--ca-dir", type=Path, default=None, metavar="DIR",
                    help="where the CA lives (default: $STUNTMAN_CA_DIR or ~/.config/stuntman/ca)")
    ca.set_defaults(func=cmd_ca)


def _existing_recording(recordings: Path, value: str) -> Path:
    directory = recording_directory(recordings, value)
    if not directory.is_dir():
        raise CliError(f"no recording at {directory}")
    return directory


def cmd_import(args) -> int:
    """Into a new recording; into one that holds exchanges only with --append (added after them)
    or --overwrite (imported aside, then put in their place: a failed import leaves them)."""
    from ..record.recorder import replace_recording

    if args.format == "openapi":
        return _import_openapi(args)
    if args.record_to is None:
        raise CliError(f"import {args.format} needs --to NAME (the recording to write)")
    directory = recording_directory(args.recordings, args.record_to)
    held = exchanges_held(directory, args.record_to, args.append, args.overwrite)
    fresh = None
    if args.overwrite and held:
        fresh = Path(tempfile.mkdtemp(prefix=f".{directory.name}.importing-", dir=directory.parent))
    try:
        count, summary = _import(args, fresh or directory)
        if fresh is not None:
            replace_recording(directory, fresh)
    finally:
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
    was = (f" (replacing it: its {held} exchange(s) removed)" if fresh is not None
           else f" (appended to its {held} exchange(s))" if held else "")
    print(f"imported {count} exchange(s) into {directory}{was}{summary}")
    return 0


def _import_openapi(args) -> int:
    """An OpenAPI spec → one stub file per operation under --out."""
    import yaml

    from ..openapi.document import SpecError, load_spec
    from ..openapi.tostubs import spec_stubs
    from ..record.har import stderr_progress

    if args.out is None:
        raise CliError("import openapi needs --out DIR (where to write the stub files)")
    try:
        spec = load_spec(args.file)
    except SpecError as exc:
        raise CliError(str(exc)) from None
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    total = len(spec.operations)
    written = stubs = 0
    for name, items in spec_stubs(spec, args.seed):
        target = out / f"{name}.yaml"
        if target.exists() and not args.overwrite:
            raise CliError(f"{target} exists: pass --overwrite to replace the files of an earlier import")
        target.write_text(f"# {spec.file}: imported by stuntman {__version__}; edit freely\n"
                          + yaml.safe_dump(items, sort_keys=False, allow_unicode=True, width=120))
        written += 1
        stubs += len(items)
        stderr_progress(written, total, "operations")
    notes = "".join(f"\nnote: {note}" for note in spec.notes)
    print(f"imported {total} operation(s) of {spec.file} ({spec.version}) as {stubs} stub(s) in {written} file(s) "
          f"under {out}{notes}")
    return 0


def _import(args, directory: Path) -> tuple[int, str]:
    """The file's exchanges written into `directory`: how many, and what the summary line adds."""
    from ..record.format import Redactor
    from ..record.har import HarError, import_har, stderr_progress

    redactor = Redactor(tuple(args.redact), tuple(args.redact_json), enabled=not args.no_redact)
    if args.format == "mitmproxy":
        from ..record.forward import import_flows
        from ..record.recorder import Recorder

        if not args.file.is_file():
            raise CliError(f"{args.file}: no such file")
        recorder = Recorder(directory, redactor)
        try:
            count, skipped = import_flows(args.file, recorder, stderr_progress)
        except (RuntimeError, ImportError) as exc:
            raise CliError(str(exc)) from None
        finally:
            recorder.close()
        for line in skipped:
            print(f"skipped {line}", file=sys.stderr)
        return count, ""
    try:
        result = import_har(args.file, directory, redactor, args.skip_bad, stderr_progress)
    except HarError as exc:
        for problem in exc.problems[:-1]:
            print(problem, file=sys.stderr)
        raise CliError(exc.problems[-1]) from None
    for index, why in result.unanswered:
        print(f"skipped entries[{index}]: no response ({why})", file=sys.stderr)
    for problem in result.problems:
        print(f"skipped {problem}", file=sys.stderr)
    return result.count, ((f"; {result.unanswered_summary()}" if result.unanswered else "")
                          + (f"; skipped {len(result.problems)} problem(s)" if result.problems else ""))


def cmd_export(args) -> int:
    from ..record.har import export_har

    directory = _existing_recording(args.recordings, args.recording)
    text = json.dumps(export_har(directory), indent=2, ensure_ascii=False)
    if args.out is None:
        print(text)
    else:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


def cmd_diff(args) -> int:
    from ..record.drift import Unreachable, diff_recording, report_text

    directory = _existing_recording(args.recordings, args.recording)
    try:
        url = urlsplit(args.upstream)
        usable = url.scheme in ("http", "https") and bool(url.hostname) and url.port != 0
    except ValueError:  # a port that is not a number
        usable = False
    if not usable:
        raise CliError(f"--upstream {args.upstream!r}: expected an http:// or https:// URL")
    extra = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise CliError(f"--header {header!r}: expected 'Name: value'")
        extra[name.strip()] = value.strip()
    try:
        report = asyncio.run(diff_recording(directory, args.upstream, tuple(filter(None, args.headers.split(","))),
                                            tuple(args.ignore), extra, send_redacted=args.send_redacted))
    except Unreachable as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(report_text(report), end="")
    return 1 if report.drifted else 0


def cmd_stubs_from_recording(args) -> int:
    from ..compile import load_table
    from ..record.tostubs import needs_protos, stubs_from_recording

    directory = _existing_recording(args.recordings, args.recording)
    if not args.proto and needs_protos(directory):
        raise CliError(f"{directory} holds gRPC calls read with --proto: give the same --proto (and --proto-include) "
                       "to write their messages as JSON stubs")
    out = args.out.resolve()
    root = args.stubs.resolve() if out.is_relative_to(args.stubs.resolve()) else out
    written = stubs_from_recording(directory, out, root, directory.name)
    settings = replace(DEFAULTS, proto=tuple(args.proto), proto_include=tuple(args.proto_include))
    table, errors = load_table(root, {}, settings)  # what was written must load as it is
    protos = [e for e in errors if Path(e.file).suffix in (".proto", ".pb", ".desc")]
    mine = [e for e in errors if (root / e.file).resolve() == written.resolve()]
    for err in protos + mine:
        print(err, file=sys.stderr)
    if protos:
        raise CliError(f"--proto does not compile: {len(protos)} error(s); {written} is not checked")
    if mine:  # (the messages were read with other protos than these, or stuntman wrote what it cannot read)
        why = "a bug: please report it"
        if args.proto:
            why = f"is --proto what the gRPC calls were recorded with? If so, {why}"
        raise CliError(f"{written} does not load: {len(mine)} error(s) ({why})")
    count = sum(1 for r in table.routes if (root / r.file).resolve() == written.resolve())
    print(f"wrote {count} stub(s) to {written}")
    return 0


def cmd_ca(args) -> int:
    from ..record.forward import default_ca_dir, ensure_ca

    try:
        cert = ensure_ca(args.ca_dir or default_ca_dir())
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    print(cert.read_text(), end="") if args.export else print(cert)
    return 0


def cmd_forward(settings: Settings, args, held: int) -> int:
    """`stuntman record --forward`: mitmproxy in this process, recording through stuntman's recorder.
    `held`: the exchanges the recording holds (removed first with --overwrite)."""
    from ..record.format import Redactor
    from ..record.forward import default_ca_dir, ensure_ca, run_forward
    from ..record.recorder import Recorder, clear_recording

    ca_dir = args.ca_dir or default_ca_dir()
    try:
        cert = ensure_ca(ca_dir)
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    check_upstream_ca(settings)
    assert settings.record_to is not None  # `record` requires --to
    directory = recording_directory(settings.recordings, settings.record_to)
    if held and args.overwrite:
        clear_recording(directory)
    was = ("" if not held else f" (replacing it: its {held} exchange(s) removed)" if args.overwrite
           else f" (appending to its {held} exchange(s))")
    recorder = Recorder(directory, Redactor(settings.redact, settings.redact_json, enabled=not settings.no_redact),
                        settings.record_body_inline)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(run_forward(
            settings.host, settings.port, recorder, ca_dir, insecure=settings.insecure_upstream,
            upstream_ca=settings.upstream_ca,
            ready=lambda: print(f"stuntman {__version__}: forward proxy on http://{settings.host}:{settings.port} "
                                f"recording into {directory}{was}; clients: HTTPS_PROXY=http://{settings.host}:"
                                f"{settings.port} and trust {cert}", flush=True)))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass
        await loop.run_in_executor(None, recorder.close)

    asyncio.run(serve())
    print("stuntman: stopped", flush=True)
    return 0
