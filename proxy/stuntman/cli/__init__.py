"""The `stuntman` command: its parser, built from the commands' modules, and `main`.

cli/run.py: run, record, replay, validate, probe, schema; cli/recordings.py: import, export, diff,
stubs from-recording, ca, record --forward; cli/common.py: what they share. Each subcommand's
parser names its function (`set_defaults(func=...)`); `main` calls it."""
from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..record.recorder import UnreadableExchange
from .common import CliError, Parser
from .contract import add_contract_commands
from .recordings import add_recording_commands
from .run import add_probe_and_schema, add_run_commands
from .verify_pact import add_verify_pact_command


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="stuntman", description=(
        "Service virtualization and fault-injecting HTTP proxy: serves stubs from YAML/JSON "
        "files and passes everything else through to a real upstream."))
    parser.add_argument("--version", action="version", version=f"stuntman {__version__}")

    def no_command(args) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=no_command)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    add_run_commands(sub)  # run, record, replay, validate
    add_recording_commands(sub)  # import, export, diff, stubs from-recording, ca
    add_probe_and_schema(sub)
    add_contract_commands(sub)  # contract diff
    add_verify_pact_command(sub)  # verify-pact
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except CliError as exc:
        print(f"stuntman: error: {exc}", file=sys.stderr)
        return 2
    except UnreadableExchange as exc:  # a recording's file that does not parse
        print(f"stuntman: error: {exc.file}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left (`stuntman schema | head`): quiet, as Unix tools are
        # stdout is still to be flushed at exit, into the same closed pipe: point it at /dev/null
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a writer ended by SIGPIPE (128 + 13)
