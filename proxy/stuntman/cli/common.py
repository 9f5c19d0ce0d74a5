"""What several commands share: the user-error type and the parser that raises it, `run` flags
backed by STUNTMAN_* env vars and the Settings built from them, the recording-name rule, the
checks made before serving, logging."""
from __future__ import annotations

import argparse
import logging
import os
from dataclasses import fields
from pathlib import Path

from ..settings import Settings, is_loopback

DEFAULTS = Settings()


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise CliError(f"{message} (see '{self.prog} --help')")


def _env_name(flag: str) -> str:
    return "STUNTMAN_" + flag.lstrip("-").replace("-", "_").upper()


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def env_flag(parser, flag: str, kind, default, help: str, metavar: str | None = None) -> None:
    """A `run` flag that falls back to its STUNTMAN_* env var, then to `default`.

    The env var is read only when `run` executes (see _from_env), so a bad STUNTMAN_PORT never
    breaks `validate` or `schema`. The parser needs `env_flags=[]` among its defaults first.
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


def port_number(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


port_number.__name__ = "port number"


def recording_path(value: str) -> str:
    """On the command line a recording with a slash is a path (recordings/payments); a bare name
    lives under --recordings."""
    return str(Path(value).resolve()) if "/" in value or os.sep in value else value


def recording_directory(recordings: Path, value: str) -> Path:
    """Where a recording named on the command line lives (a bad name is a CliError)."""
    from ..record.recorder import recording_dir

    try:
        return recording_dir(recordings, recording_path(value))
    except ValueError as exc:
        raise CliError(str(exc)) from None


def add_record_mode(parser) -> None:
    """--append / --overwrite: what writing into a recording that already holds exchanges does."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true",
                      help="if the recording already holds exchanges, add to them")
    mode.add_argument("--overwrite", action="store_true",
                      help="if the recording already holds exchanges, remove them and start it anew")


def exchanges_held(directory: Path, value: str, append: bool, overwrite: bool) -> int:
    """How many exchanges a recording to be written already holds; a CliError if it holds any and
    neither --append nor --overwrite said what to do with them (nothing is lost by asking)."""
    from ..record.recorder import read_index

    held = len(read_index(directory))
    if held and not (append or overwrite):
        raise CliError(f"recording '{value}' already holds {held} exchange(s): pass --append to add to it "
                       "or --overwrite to replace it")
    return held


def settings_from(args) -> Settings:
    """The Settings of `run`, `record` or `replay`: flags, then STUNTMAN_* env vars, then defaults."""
    _from_env(args)
    values = {f.name: getattr(args, f.name) for f in fields(Settings) if hasattr(args, f.name)}
    values["uvloop"] = not args.no_uvloop
    values["watch"] = not args.no_watch
    values["metrics"] = not args.no_metrics
    values["fault"] = tuple(args.fault)
    values["openapi"] = tuple(args.openapi)
    values["openapi_validate"] = not args.no_validate
    values["openapi_monitor"] = tuple(args.openapi_monitor)
    values["pact"] = tuple(getattr(args, "pact", ()) or ())
    values["proto"] = tuple(getattr(args, "proto", ()) or ())
    values["proto_include"] = tuple(getattr(args, "proto_include", ()) or ())
    values["redact"], values["redact_json"] = tuple(args.redact), tuple(args.redact_json)
    values["replay"] = tuple(map(recording_path, getattr(args, "replay", ()) or ()))
    values["record_to"] = recording_path(args.record_to) if args.record_to else None
    if getattr(args, "replay_ignore_query", None) is not None:
        values["replay_ignore_query"] = tuple(args.replay_ignore_query)
    else:
        values.pop("replay_ignore_query", None)  # the default (_)
    values["replay_ignore_body"] = tuple(getattr(args, "replay_ignore_body", ()) or ())
    return Settings(**values)


def check_dir(path: Path) -> None:
    """A stubs directory that is there."""
    if not path.exists():
        raise CliError(f"stubs directory '{path}' does not exist")
    if not path.is_dir():
        raise CliError(f"'{path}' is not a directory")


def check_admin_exposure(settings: Settings) -> None:
    """An admin API reachable from other hosts must ask for a token."""
    if not is_loopback(settings.admin_host) and not settings.admin_token:
        raise CliError(f"the admin API on {settings.admin_host} would be reachable from other hosts: "
                       "set --admin-token (or STUNTMAN_ADMIN_TOKEN), or bind it to 127.0.0.1")


def check_upstream_ca(settings: Settings) -> None:
    if settings.upstream_ca and not settings.upstream_ca.is_file():
        raise CliError(f"--upstream-ca '{settings.upstream_ca}' is not a file")


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s stuntman %(levelname)s %(message)s")
