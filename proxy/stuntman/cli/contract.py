"""The `contract` commands (OpenAPI contracts): `contract diff OLD NEW`, `contract check RECORDING
--openapi SPEC`. Each subcommand adds its parser in add_contract_commands; what they drive is in
openapi/ (and, for check, the reading of recordings is in record/: it is turned into openapi.check's
plain values here, as the openapi package does not import the record package)."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import DEFAULTS, CliError, Parser

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ..openapi.check import Recorded


def add_contract_commands(sub) -> None:
    """`contract` and its subcommands: their parsers."""
    contract = sub.add_parser("contract", help="OpenAPI contracts: what changed between two versions of a spec, and "
                                                  "whether recorded traffic keeps one",
                              description="Work with OpenAPI contracts (Swagger 2.0, OpenAPI 3.0, 3.1).")
    commands = contract.add_subparsers(dest="contract_command", metavar="COMMAND", parser_class=Parser,
                                       required=True)
    _add_diff(commands)
    _add_check(commands)


def _add_diff(commands) -> None:
    from ..openapi.diff_report import FORMATS

    diff = commands.add_parser(
        "diff", help="report the changes between two versions of a spec, and which break clients",
        description="Compare two versions of an OpenAPI spec and report each change with a rule id (oasdiff's "
                    "names) and a level: error (breaks clients), warning (may break them), info (does not). "
                    "Exit status 1 when a change at or above --fail-on is found, 0 otherwise, 2 when a spec "
                    "does not load.")
    diff.add_argument("old", type=Path, metavar="OLD", help="the spec clients were built against")
    diff.add_argument("new", type=Path, metavar="NEW", help="the new version of the spec")
    diff.add_argument("--format", choices=FORMATS, default="text", help="the report's format (default: text)")
    diff.add_argument("--fail-on", choices=("warning", "error"), default="error",
                      help="the lowest level that makes the exit status 1 (default: error)")
    diff.add_argument("--output", type=Path, default=None, metavar="FILE",
                      help="write the report to FILE (default: standard output)")
    diff.set_defaults(func=cmd_contract_diff)


def cmd_contract_diff(args) -> int:
    from ..openapi.diff import diff_files
    from ..openapi.diff_report import at_or_above, render
    from ..openapi.document import SpecError

    try:
        findings = diff_files(args.old, args.new)
    except SpecError as exc:
        raise CliError(str(exc)) from None
    report = render(findings, str(args.old), str(args.new), args.format, args.fail_on)
    _write(report, args.output)
    return 1 if at_or_above(findings, args.fail_on) else 0


def _write(report: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(report)
    else:
        try:
            output.write_text(report, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"--output {str(output)!r}: {exc.strerror or exc}") from None


# -- contract check ----------------------------------------------------------------------------

def _add_check(commands) -> None:
    from ..openapi.check import FORMATS

    check = commands.add_parser(
        "check", help="check recorded traffic against a spec: every request and response, every violation",
        description="Match each exchange of a recording to its operation in an OpenAPI spec (by method and "
                    "path, under the spec's servers or --base-path, or at the root) and validate its request "
                    "and its response. Every violation is listed with its exchange, direction, location, JSON "
                    "pointer and the rule in the spec; an exchange no operation matches is listed as not in the "
                    "contract. Violations on values the recording redacted are not counted. Exit status 1 when "
                    "there is a violation or an exchange not in the contract (unless --allow-undocumented), 0 "
                    "otherwise, 2 when the spec or the recording cannot be read.")
    check.add_argument("recording", metavar="RECORDING",
                       help="a recording (its directory, or a name under --recordings), a directory holding "
                            "recordings, one exchange file (exchanges/*.json), or a HAR file")
    check.add_argument("--openapi", type=Path, required=True, metavar="SPEC",
                       help="the contract: an OpenAPI 3.x or Swagger 2.0 file (YAML or JSON)")
    check.add_argument("--base-path", default=None, metavar="/PREFIX",
                       help="where the operations are, in place of the spec's servers (may hold {name} "
                            "segments: /tenants/{tenant}/v1)")
    check.add_argument("--allow-undocumented", action="store_true",
                       help="list exchanges not in the contract but do not fail on them")
    check.add_argument("--format", choices=FORMATS, default="text", help="the report's format (default: text)")
    check.add_argument("--output", type=Path, default=None, metavar="FILE",
                       help="write the report to FILE (default: standard output)")
    check.add_argument("--recordings", type=Path, default=DEFAULTS.recordings, metavar="DIR",
                       help=f"directory of recordings, for a RECORDING given by name (default: {DEFAULTS.recordings})")
    check.set_defaults(func=cmd_contract_check)


def cmd_contract_check(args) -> int:
    from ..openapi.check import check_exchanges, render
    from ..openapi.document import SpecError, load_spec

    if args.base_path is not None and not args.base_path.startswith("/"):
        raise CliError(f"--base-path {args.base_path!r}: expected a path starting with '/'")
    try:
        spec = load_spec(args.openapi, str(args.openapi))
    except SpecError as exc:
        raise CliError(str(exc)) from None
    path = _recording_path(args.recordings, args.recording)
    with tempfile.TemporaryDirectory(prefix="stuntman-check-") as scratch:
        try:
            report = check_exchanges(spec, _exchanges(path, Path(scratch)), args.recording, args.base_path)
        except SpecError as exc:  # a schema that does not compile
            raise CliError(str(exc)) from None
    _write(render(report, args.format, args.allow_undocumented), args.output)
    return 1 if report.failed(args.allow_undocumented) else 0


def _recording_path(recordings: Path, value: str) -> Path:
    """RECORDING as given if it is there; a bare name under --recordings."""
    from .common import recording_directory

    path = Path(value)
    if path.exists():
        return path
    if "/" not in value and value not in (".", ".."):
        try:
            named = recording_directory(recordings, value)
        except CliError:
            named = None
        if named is not None and named.exists():
            return named
        raise CliError(f"no recording at {value!r} (nor {str(recordings / value)!r})")
    raise CliError(f"no recording at {value!r}")


def _exchanges(path: Path, scratch: Path) -> Iterator[Recorded]:
    """The exchanges at `path`, in order: a recording, the recordings in a directory, one exchange
    file, or a HAR file (imported into `scratch` first, unredacted, by the HAR importer)."""
    from ..record.recorder import INDEX, UnreadableExchange, side_files

    if path.is_dir():
        if (path / INDEX).exists() or (path / "exchanges").is_dir():
            yield from _recording(path, str(path))
            return
        found = sorted(index.parent for index in path.rglob(INDEX))
        if not found:
            raise CliError(f"no recording at {str(path)!r}: no {INDEX} in it or below it")
        for directory in found:
            yield from _recording(directory, str(directory))
        return
    if path.name == INDEX:
        yield from _recording(path.parent, str(path.parent))
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CliError(f"{path}: not a recording, an exchange file or a HAR file: "
                       f"{getattr(exc, 'strerror', None) or exc}") from None
    if isinstance(data, dict) and isinstance(data.get("log"), dict):
        yield from _har(path, scratch)
    elif isinstance(data, dict) and isinstance(data.get("request"), dict) and isinstance(data.get("response"), dict):
        try:  # exchanges/NNNNNN-….json: its side files are in its recording's directory
            yield _recorded(data, str(path), side_files(path.resolve().parent.parent))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UnreadableExchange(str(path), exc) from None
    else:
        raise CliError(f"{path}: not a recording, an exchange file or a HAR file")


def _recording(directory: Path, shown: str) -> Iterator[Recorded]:
    from ..record.recorder import UnreadableExchange, read_exchanges, side_files

    read = side_files(directory)
    for line, record in read_exchanges(directory):
        where = str(Path(shown) / line["file"])
        try:
            yield _recorded(record, where, read)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # a side file gone, a field missing
            raise UnreadableExchange(where, exc) from None


def _recorded(record: dict[str, Any], where: str, read: Callable[[str], bytes]) -> Recorded:
    from ..openapi.check import Recorded
    from ..record.format import body_bytes, header_pairs

    request, response = record["request"], record["response"]
    return Recorded(
        where, str(request["method"]), str(request["url"]), header_pairs(request["headers"]),
        body_bytes(request["body"], read), int(response["status"]), header_pairs(response["headers"]),
        body_bytes(response["body"], read), seq=record.get("seq"),
        faults=tuple(str(f.get("name") or f.get("type")) for f in record.get("faults") or () if isinstance(f, dict)))


def _har(path: Path, scratch: Path) -> Iterator[Recorded]:
    """A HAR file's entries, read by the HAR importer (into a scratch recording, nothing redacted:
    the check sees the values as sent); each named by its index in the file."""
    from ..record.format import Redactor
    from ..record.har import HarError, import_har
    from ..record.recorder import read_exchanges, side_files

    directory = scratch / "har"
    try:
        result = import_har(path, directory, Redactor(enabled=False))
    except HarError as exc:
        raise CliError(f"{path}: " + "; ".join(exc.problems)) from None
    for index, why in result.unanswered:
        print(f"stuntman: skipped {path} entries[{index}]: no response ({why})", file=sys.stderr)
    skipped = {index for index, _ in result.unanswered}
    indexes = [i for i in range(result.count + len(skipped)) if i not in skipped]
    read = side_files(directory)
    for index, (_, record) in zip(indexes, read_exchanges(directory), strict=True):
        record["seq"] = None  # the scratch recording's numbers mean nothing to the user
        yield _recorded(record, f"{path} entries[{index}]", read)
