"""`stuntman verify-pact PACT... --against URL`: replay each pact interaction's request at a live
service and judge its answer by the pact (stuntman.pact.verify). Pointed at a stuntman proxying
or replaying an upstream, it tells whether the recorded upstream still satisfies its consumers.

Exit status: 0 every interaction passed (skipped message interactions and pending ones do not
count), 1 one failed, 2 a usage error or a pact that does not load (its file and JSON pointer).
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import CliError

if TYPE_CHECKING:
    from ..pact.document import Pact
    from ..pact.verify import InteractionResult

PLAIN = {"✓": "ok", "✗": "FAIL", "→": "->"}  # for an output that cannot encode them


def add_verify_pact_command(sub) -> None:
    """`verify-pact`: its parser."""
    verify = sub.add_parser(
        "verify-pact", help="verify a live provider against pacts: replay each interaction, judge each answer",
        description="Send each HTTP interaction's request of the pacts (Pact specification v1 to v4) to the "
                    "service at --against, as the pact writes it, and judge the answer by the interaction's "
                    "response: status, headers and body with its matching rules. Every mismatch is listed with "
                    "where it is and what was expected. Provider states are set up by POSTing "
                    "{state, params, action: setup} to --provider-state-url before the request and "
                    "{…, action: teardown} after it. Message interactions are skipped; request generators are "
                    "not applied (the pact's example values are sent). Exit status 0 when every interaction "
                    "passes, 1 when one fails, 2 on a usage error or a pact that does not load.")
    verify.add_argument("pacts", nargs="+", type=Path, metavar="PACT",
                        help="a pact file, or a directory: every *.json pact in it (sorted)")
    verify.add_argument("--against", required=True, metavar="URL",
                        help="the provider's base URL (http://host:port, or with a path that prefixes each "
                             "interaction's path)")
    verify.add_argument("--provider-state-url", default=None, metavar="URL",
                        help="where provider states are set up and torn down (Pact's convention: POST JSON "
                             "{state, params, action})")
    verify.add_argument("--json", action="store_true", help="print a machine-readable report")
    verify.add_argument("--timeout", type=float, default=10.0, metavar="S",
                        help="seconds to wait for each answer (default: 10)")
    verify.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                        help="a header sent with every interaction's request, replacing the pact's of that name "
                             "(e.g. 'Authorization: Bearer …'; repeatable; not sent to the state URL)")
    verify.set_defaults(func=cmd_verify_pact)


def cmd_verify_pact(args) -> int:
    against = _base_url(args.against, "--against")
    state_url = _base_url(args.provider_state_url, "--provider-state-url") if args.provider_state_url else None
    if not args.timeout > 0:
        raise CliError(f"--timeout {args.timeout:g}: expected a number of seconds above 0")
    headers = _headers(args.header)
    pacts = [_load(path) for path in _pact_files(args.pacts)]
    runs = asyncio.run(_verify_all(pacts, against, state_url, args.timeout, headers))
    results = [r for _, found in runs for r in found]
    if args.json:
        print(json.dumps(_report(runs, against), indent=2, ensure_ascii=False))
    else:
        _print_human(runs, against)
    return 1 if any(r.failed for r in results) else 0


async def _verify_all(pacts: list[Pact], against: str, state_url: str | None, timeout: float,
                      headers: dict[str, str]) -> list[tuple[Pact, list[InteractionResult]]]:
    """The pacts one after another (in one event loop), as one provider is set up for one
    request at a time."""
    from ..pact.verify import verify

    return [(pact, await verify(pact, against, state_url, timeout, headers)) for pact in pacts]


def _base_url(value: str, flag: str) -> str:
    """An absolute http(s) URL with a host, or a usage error naming the flag."""
    from yarl import URL

    try:
        url = URL(value)
    except (ValueError, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise CliError(f"{flag} {value!r}: expected an http:// or https:// URL with a host")
    if flag == "--against" and (url.raw_query_string or url.raw_fragment):
        raise CliError(f"{flag} {value!r}: a base URL has no query or fragment")
    return value


def _headers(given: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for text in given:
        name, colon, value = text.partition(":")
        if not colon or not name.strip() or any(c in name for c in " \t\r\n") or any(c in value for c in "\r\n"):
            raise CliError(f"--header {text!r}: expected 'Name: value'")
        out[name.strip()] = value.strip()
    return out


def _pact_files(paths: list[Path]) -> list[Path]:
    """Each file named, and the *.json files of each directory named (sorted), as `run --pact`."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.json") if p.is_file())
            if not found:
                raise CliError(f"{path}: no *.json pact in this directory")
            out += found
        elif path.exists():
            out.append(path)
        else:
            raise CliError(f"{path}: no such file or directory")
    return out


def _load(path: Path) -> Pact:
    from ..pact.document import PactError, load_pact

    try:
        return load_pact(path)
    except PactError as exc:
        raise CliError(str(exc)) from None


# -- reports ---------------------------------------------------------------------------------------

def _report(runs: list[tuple[Pact, list[InteractionResult]]], against: str) -> dict[str, Any]:
    from ..pact.verify import summary

    results = [r for _, found in runs for r in found]
    return {"passed": not any(r.failed for r in results), "against": against, "summary": summary(results),
            "pacts": [{"file": pact.file, "consumer": pact.consumer, "provider": pact.provider,
                       "version": pact.version, "notes": pact.notes, "summary": summary(found),
                       "interactions": [r.as_json() for r in found]} for pact, found in runs]}


def _print_human(runs: list[tuple[Pact, list[InteractionResult]]], against: str) -> None:
    """One line per interaction, ✓ or ✗ (- when skipped), each mismatch indented under its
    interaction, then a summary line."""
    from ..pact.verify import summary

    lines: list[str] = []
    for pact, found in runs:
        lines.append(f"{pact.file} ({pact.consumer or '?'} → {pact.provider or '?'}, Pact {pact.version}) "
                     f"against {against}")
        for result in found:
            mark = "-" if result.skipped is not None else ("✓" if result.passed else "✗")
            lines.append(f"  {mark} {_title(result)}")
            lines += [f"      {line}" for line in _details(result)]
    counts = summary([r for _, found in runs for r in found])
    parts = [f"{counts['passed']} passed", f"{counts['failed']} failed"]
    parts += [f"{counts['skipped']} skipped"] if counts["skipped"] else []
    parts += [f"{counts['pending']} of them pending (not failing the run)"] if counts["pending"] else []
    lines.append(f"{counts['interactions']} interaction{'s' if counts['interactions'] != 1 else ''}: "
                 f"{', '.join(parts)}")
    _emit(lines)


def _title(result: InteractionResult) -> str:
    given = f" (given {', '.join(repr(s) for s in result.states)})" if result.states else ""
    pending = " [pending]" if result.pending else ""
    if result.skipped is not None:
        return f"{result.description}{given}: skipped, {result.skipped}"
    answered = f" → {result.status}" if result.status is not None else ""
    return f"{result.description}{given}{pending}: {result.method} {result.path}{answered}"


def _details(result: InteractionResult) -> list[str]:
    lines = list(result.mismatches)
    if result.error is not None:
        lines.append(f"error: {result.error}")
    if not result.passed:
        lines += [f"note: {note}" for note in result.notes]
    return lines


def _emit(lines: list[str]) -> None:
    """Print the lines; where standard output cannot encode the marks (an ASCII terminal), they
    become words, and anything else it cannot encode a '?'."""
    text = "\n".join(lines) + "\n"
    encoding = sys.stdout.encoding or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        for mark, word in PLAIN.items():
            text = text.replace(mark, word)
        text = text.encode(encoding, "replace").decode(encoding)
    sys.stdout.write(text)
