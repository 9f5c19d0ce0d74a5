"""A set of .proto files (or descriptor sets) loaded into one descriptor pool, and the methods of
their services.

`load_protos(paths, includes)` compiles every .proto (a file, or all under a directory) with
grpcio-tools' protoc, in this process, into a FileDescriptorSet with its imports and the
well-known types, and loads it into a fresh DescriptorPool; `.pb`/`.desc` files are descriptor sets
already. A file that does not compile is a ProtoError with protoc's own `file:line:column: message`
lines; loading is all or nothing, so a reload keeps the previous set serving.

protoc writes its errors to the process's stderr (file descriptor 2), so that is pointed at a
temporary file for the duration of a compile (under a lock: one compile at a time).
"""
from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, MethodDescriptor

DESCRIPTOR_SETS = (".pb", ".desc", ".protoset")
_COMPILING = threading.Lock()


class ProtoError(Exception):
    """A .proto that does not compile, or a descriptor set that does not load: what protoc says."""

    def __init__(self, file: str, message: str):
        super().__init__(f"{file}: {message}")
        self.file, self.message = file, message


@dataclass(frozen=True)
class Method:
    """One method of a service: its path, message types and kind."""

    path: str                      # /package.Service/Method
    input: Descriptor
    output: Descriptor
    client_streaming: bool
    server_streaming: bool

    @property
    def kind(self) -> str:
        return {(False, False): "unary", (False, True): "server-streaming", (True, False): "client-streaming",
                (True, True): "bidi-streaming"}[(self.client_streaming, self.server_streaming)]


@dataclass
class ProtoSet:
    pool: descriptor_pool.DescriptorPool
    files: list[descriptor_pb2.FileDescriptorProto]  # every file, imports first (for reflection)
    services: list[str] = field(default_factory=list)  # full names, in the order declared
    methods: dict[str, Method] = field(default_factory=dict)  # by path
    sources: list[Path] = field(default_factory=list)  # the files read (to watch)

    def message_class(self, descriptor: Descriptor) -> Any:
        return message_factory.GetMessageClass(descriptor)


EMPTY = ProtoSet(descriptor_pool.DescriptorPool(), [])
UNREADABLE = ProtoSet(descriptor_pool.DescriptorPool(), [])  # a load that failed: its error says why


def load_protos(paths: tuple[Path, ...] | list[Path], includes: tuple[Path, ...] | list[Path] = ()) -> ProtoSet:
    """Every .proto and descriptor set named (files, or directories of them) in one pool."""
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    sources: list[Path] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise ProtoError(str(path), "no such file or directory")
        if path.is_file() and path.suffix in DESCRIPTOR_SETS:
            found = _read_set(path)
            sources.append(path)
        else:
            protos = sorted(path.rglob("*.proto")) if path.is_dir() else [path]
            if not protos:
                continue
            root = path if path.is_dir() else path.parent
            found = _compile(protos, [root, *map(Path, includes)])
            sources += protos
        for proto in found.file:
            files.setdefault(proto.name, proto)
    pool = descriptor_pool.DescriptorPool()
    loaded = []
    for proto in files.values():  # (protoc lists imports before the files that import them)
        try:
            pool.Add(proto)
        except (TypeError, ValueError) as exc:
            raise ProtoError(proto.name, f"does not load: {exc}") from None
        loaded.append(proto)
    protoset = ProtoSet(pool, loaded, sources=sources)
    for proto in loaded:
        for service in proto.service:
            name = f"{proto.package}.{service.name}" if proto.package else service.name
            protoset.services.append(name)
            for method in pool.FindServiceByName(name).methods:
                protoset.methods[f"/{name}/{method.name}"] = _method(name, method)
    return protoset


def _method(service: str, method: MethodDescriptor) -> Method:
    return Method(f"/{service}/{method.name}", method.input_type, method.output_type,
                  method.client_streaming, method.server_streaming)


def _read_set(path: Path) -> descriptor_pb2.FileDescriptorSet:
    found = descriptor_pb2.FileDescriptorSet()
    try:
        found.ParseFromString(path.read_bytes())
    except Exception as exc:  # (protobuf's DecodeError, and what a truncated file raises)
        raise ProtoError(str(path), f"is not a FileDescriptorSet: {exc}") from None
    return found


def _compile(protos: list[Path], includes: list[Path]) -> descriptor_pb2.FileDescriptorSet:
    from grpc_tools import protoc

    well_known = str(resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory() as work, _COMPILING:
        out = Path(work) / "set.pb"
        args = ["protoc", *(f"-I{include}" for include in includes), f"-I{well_known}",
                f"--descriptor_set_out={out}", "--include_imports", "--include_source_info",
                *(str(p) for p in protos)]
        with tempfile.TemporaryFile() as errors:
            saved = os.dup(2)
            os.dup2(errors.fileno(), 2)
            try:
                status = protoc.main(args)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            errors.seek(0)
            said = errors.read().decode("utf-8", "replace").strip()
        if status != 0:
            first = said.splitlines()[0] if said else ""
            file = first.split(":", 1)[0] if first else str(protos[0])
            raise ProtoError(file, said or f"protoc failed (exit {status})")
        return _read_set(out)
