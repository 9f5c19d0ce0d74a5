"""A recording → editable stub files (`stuntman stubs from-recording`).

What a person would do by hand: identical exchanges become one stub (different answers to the
same request become a sequence); volatile headers are dropped; where otherwise-identical paths
differ in one segment that looks like an id (/users/42, /users/7), a path template
(/users/{id}) answers every id, with the id echoed where the recorded body had it; the recorded
paths keep their exact stubs ahead of it. Large bodies go to files under __files/. gRPC calls
become gRPC stubs with JSON messages (record/grpcstubs.py).
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from .format import body_bytes, encode_content, header_pairs
from .grpcstubs import grpc_stub_specs
from .recorder import GRPC, read_exchanges, side_files
from .replay import request_matcher

VOLATILE_HEADERS = {
    "date", "server", "content-length", "transfer-encoding", "connection", "keep-alive", "age", "etag",
    "last-modified", "expires", "via", "x-request-id", "x-correlation-id", "x-trace-id", "traceparent",
    "tracestate", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2", "cf-ray", "x-runtime",
    "x-served-by", "x-cache", "x-timer", "set-cookie", "strict-transport-security", "alt-svc",
}
ID_LIKE = re.compile(r"^(\d+|[0-9a-f]{8,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                     r"|[A-Za-z]+[-_]?\d[\w-]*)$", re.IGNORECASE)
INLINE_LIMIT = 64 * 1024


def _param_name(previous: str) -> str:
    """users → id? The segment before names the thing: /users/{userId}; else {id}."""
    word = re.sub(r"[^A-Za-z]", "", previous)
    if not word:
        return "id"
    singular = word[:-1] if word.endswith("s") and len(word) > 3 else word
    return singular[0].lower() + singular[1:] + "Id"


def _generalize(paths: list[str]) -> dict[str, str]:
    """Recorded path → template, for paths that differ from others only in one id-like segment."""
    templates: dict[str, str] = {}
    by_shape: dict[int, list[list[str]]] = defaultdict(list)
    for path in set(paths):
        by_shape[path.count("/")].append(path.split("/"))
    for group in by_shape.values():
        for pos in range(1, max(len(g) for g in group)):
            buckets: dict[tuple[str, ...], list[list[str]]] = defaultdict(list)
            for segments in group:
                buckets[tuple(segments[:pos] + segments[pos + 1:])].append(segments)
            for members in buckets.values():
                values = {m[pos] for m in members}
                if len(values) > 1 and all(ID_LIKE.match(v) for v in values):
                    template = members[0][:pos] + ["{" + _param_name(members[0][pos - 1]) + "}"] + members[0][pos + 1:]
                    for m in members:
                        templates.setdefault("/".join(m), "/".join(template))
    return templates


def _echo(value: Any, recorded: str, param: str) -> Any:
    """The recorded id, wherever the body repeats it, becomes {{path.param}}."""
    if isinstance(value, dict):
        return {k: _echo(v, recorded, param) for k, v in value.items()}
    if isinstance(value, list):
        return [_echo(v, recorded, param) for v in value]
    if str(value) == recorded and not isinstance(value, bool):
        return "{{path." + param + "}}"
    return value


def grpc_calls(directory: Path) -> list[tuple[dict, dict]]:
    """The recorded gRPC calls (index line, exchange), in recorded order."""
    return [(line, record) for line, record in read_exchanges(directory, grpc=True) if record.get("protocol") == GRPC]


def needs_protos(directory: Path) -> bool:
    """Its gRPC stubs will hold JSON messages: reading them back takes the --proto they were
    recorded with."""
    return any(record["request"].get("kind") for _, record in grpc_calls(directory))


def stubs_from_recording(directory: Path, out: Path, stubs_root: Path, name: str) -> Path:
    """Write `out/<name>.yaml` (and bodies under out/__files/); returns the YAML file. gRPC calls
    become gRPC stubs after the HTTP ones (record/grpcstubs.py), their messages as JSON."""
    exchanges = [record for _, record in read_exchanges(directory)]
    calls = grpc_calls(directory)
    templates = _generalize([x["request"]["url"].partition("?")[0] for x in exchanges])
    files_dir = out / "__files"
    stubs: dict[str, dict[str, Any]] = {}   # request key → stub
    general: dict[str, dict[str, Any]] = {}  # template key → stub
    for x in exchanges:
        request, response = x["request"], x["response"]
        path = request["url"].partition("?")[0]
        matcher = request_matcher(request)
        answer = _response(response, directory, files_dir, stubs_root, f"{x['seq']:06d}")
        key = json.dumps(matcher, sort_keys=True)
        if key in stubs:
            stub = stubs[key]
            if "responses" not in stub:
                stub["responses"] = [stub.pop("response")]
            responses = stub["responses"]
            if answer not in responses:  # the same answer again adds nothing; a new one, a sequence
                responses.append(answer)
        else:
            stubs[key] = {"name": f"{name} {request['method']} {path}", "request": matcher, "response": answer}
        template = templates.get(path)
        if template is not None and "body" not in matcher and "query" not in matcher:
            recorded_id = next(a for a, b in zip(path.split("/"), template.split("/"), strict=True) if a != b)
            param = template.split("{", 1)[1].split("}", 1)[0]
            general.setdefault(f"{request['method']} {template}", {
                "name": f"{name} {request['method']} {template}", "priority": 6,  # after the exact ones
                "request": {"method": request["method"], "path": template},
                "response": _echoing(answer, recorded_id, param)})
    for stub in stubs.values():
        if "responses" in stub and len(stub["responses"]) == 1:
            stub["response"] = stub.pop("responses")[0]
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}.yaml"
    grpc = [spec for spec, _ in grpc_stub_specs(calls, name, side_files(directory), editable=True)]
    counted = ", ".join([f"{len(exchanges)} exchanges"] * bool(exchanges or not calls)
                        + [f"{len(calls)} gRPC calls"] * bool(calls))
    header = (f"# Stubs from the recording {directory.name} ({counted}): exact requests first,\n"
              "# then path templates (priority 6) for ids that were not recorded. Edit freely.\n")
    text = yaml.dump(list(stubs.values()) + list(general.values()) + grpc, Dumper=_PlainDumper, sort_keys=False,
                     allow_unicode=True, width=110)
    target.write_text(header + text, encoding="utf-8")
    return target


class _PlainDumper(yaml.SafeDumper):
    """No &anchors/*aliases: a person edits these files, and shared values must stay apart."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _response(response: dict[str, Any], directory: Path, files_dir: Path, stubs_root: Path,
              stem: str) -> dict[str, Any]:
    body = response.get("body") or {}
    headers: dict[str, str | list[str]] = {}
    for name, value in header_pairs(response.get("headers", [])):
        if name.lower() in VOLATILE_HEADERS:
            continue
        if name in headers:
            previous = headers[name]
            headers[name] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            headers[name] = value
    answer: dict[str, Any] = {"status": response["status"]}
    if headers:
        answer["headers"] = headers
    data = body_bytes(body, side_files(directory))
    if body.get("contentEncoding") or len(data) > INLINE_LIMIT or "base64" in body:
        data = encode_content(data, body.get("contentEncoding"))
        files_dir.mkdir(parents=True, exist_ok=True)
        path = files_dir / f"{stem}.bin"
        path.write_bytes(data)
        answer["bodyFile"] = path.relative_to(stubs_root).as_posix()
    elif "json" in body:
        answer["json"] = body["json"]
        answer["template"] = False
    elif data:
        answer["body"] = data.decode("utf-8")
        answer["template"] = False
    return answer


def _echoing(answer: dict[str, Any], recorded_id: str, param: str) -> dict[str, Any]:
    if "json" not in answer:
        return answer
    echoed = _echo(answer["json"], recorded_id, param)
    out = {k: v for k, v in answer.items() if k != "template"}
    out["json"] = echoed
    return out
