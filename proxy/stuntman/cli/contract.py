"""The `contract` commands (OpenAPI contracts): `contract diff OLD NEW`. Each subcommand adds its
parser in add_contract_commands; what they drive is in openapi/."""
from __future__ import annotations

import sys
from pathlib import Path

from .common import CliError, Parser


def add_contract_commands(sub) -> None:
    """`contract` and its subcommands: their parsers."""
    contract = sub.add_parser("contract", help="OpenAPI contracts: what changed between two versions of a spec",
                              description="Work with OpenAPI contracts (Swagger 2.0, OpenAPI 3.0, 3.1).")
    commands = contract.add_subparsers(dest="contract_command", metavar="COMMAND", parser_class=Parser,
                                       required=True)
    _add_diff(commands)


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
    if args.output is None:
        sys.stdout.write(report)
    else:
        try:
            args.output.write_text(report, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"--output {str(args.output)!r}: {exc.strerror or exc}") from None
    return 1 if at_or_above(findings, args.fail_on) else 0
