"""Descriptors learned from the upstream's server reflection (--grpc-upstream-reflection).

Passed through without --proto, a method is raw bytes: stuntman cannot tell a unary method from a
stream (every call takes grpc.aio's costlier stream path) nor show its messages as JSON. With
this on, the first call to a service --proto does not name asks the upstream's reflection service
(grpc.reflection.v1alpha, which grpcio, grpc-go and grpc-java servers offer) for the files that
define it, their imports too, in the background: calls go on as raw bytes meanwhile, and from the
answer on the service's methods are known as if --proto had them (kinds, JSON in the journal and
recordings). A service is asked once; an upstream without reflection is logged once and its calls
pass as before. Nothing learned replaces --proto's descriptors, and stubs still need --proto.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from google.protobuf import descriptor_pb2, descriptor_pool
from grpc import aio

from ..proto.protoset import Method, ProtoSet

if TYPE_CHECKING:
    from .proxy import GrpcUpstream

log = logging.getLogger("stuntman.grpc")

REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
ASK_TIMEOUT = 10.0   # seconds for one reflection request
MAX_SERVICES = 1000  # services asked about (a service name is any string a client sends)
MAX_FILES = 200      # files fetched for one service, imports included


class Learned:
    """The methods learned from one upstream, by path, each with the descriptors that read it."""

    def __init__(self, upstream: GrpcUpstream):
        self.upstream = upstream
        self.methods: dict[str, tuple[Method, ProtoSet]] = {}
        self.generation = 0  # counts services learned (the listener's handler cache follows it)
        self._asked: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def method(self, path: str) -> tuple[Method, ProtoSet] | None:
        """The method, if learned; else None, and its service is asked about (once)."""
        found = self.methods.get(path)
        if found is not None:
            return found
        service = path[1:].partition("/")[0]
        if service and service not in self._asked and len(self._asked) < MAX_SERVICES:
            self._asked.add(service)
            task = asyncio.get_running_loop().create_task(self._learn(service))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return None

    async def _learn(self, service: str) -> None:
        try:
            protos = await learn_service(self.upstream.channel, service)
        except Exception as exc:  # (no reflection, a timeout, descriptors that do not load)
            log.info("gRPC upstream %s: no descriptors of %s through its reflection (%s); its calls pass "
                     "as raw bytes", self.upstream.target, service, exc)
            return
        for path, method in protos.methods.items():
            self.methods[path] = (method, protos)
        self.generation += 1
        log.info("gRPC upstream %s: learned %s (%d methods) through its reflection", self.upstream.target,
                 service, len(protos.methods))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()


async def learn_service(channel: aio.Channel, service: str) -> ProtoSet:
    """The files defining service (and those they import), from the reflection service on channel,
    loaded into a pool of their own."""
    from grpc_reflection.v1alpha import reflection_pb2 as reflection

    ask = channel.stream_stream(REFLECTION, request_serializer=reflection.ServerReflectionRequest.SerializeToString,
                                response_deserializer=reflection.ServerReflectionResponse.FromString)

    async def files_for(**request: Any) -> list[descriptor_pb2.FileDescriptorProto]:
        call = ask(iter([reflection.ServerReflectionRequest(**request)]), timeout=ASK_TIMEOUT)
        async for answer in call:
            if answer.WhichOneof("message_response") == "error_response":
                raise LookupError(answer.error_response.error_message or f"{request} not found")
            return [descriptor_pb2.FileDescriptorProto.FromString(data)
                    for data in answer.file_descriptor_response.file_descriptor_proto]
        raise LookupError("no answer")

    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    pending = await files_for(file_containing_symbol=service)
    while pending:
        file = pending.pop()
        if file.name in files:
            continue
        if len(files) >= MAX_FILES:
            raise ValueError(f"more than {MAX_FILES} files")
        files[file.name] = file
        for dependency in file.dependency:
            if dependency not in files:
                pending += _well_known(dependency) or await files_for(file_by_filename=dependency)
    pool = descriptor_pool.DescriptorPool()
    loaded: list[descriptor_pb2.FileDescriptorProto] = []
    for name in files:
        _add(pool, files, name, loaded)
    protos = ProtoSet(pool, loaded, services=[service])
    for method in pool.FindServiceByName(service).methods:
        path = f"/{service}/{method.name}"
        protos.methods[path] = Method(path, method.input_type, method.output_type, method.client_streaming,
                                      method.server_streaming)
    return protos


def _add(pool: Any, files: dict[str, descriptor_pb2.FileDescriptorProto], name: str,
         loaded: list[descriptor_pb2.FileDescriptorProto]) -> None:
    """Add a file to pool after its imports (once each)."""
    if any(done.name == name for done in loaded):
        return
    file = files[name]
    loaded.append(file)  # (first: an import cycle, which protoc refuses anyway, stops here)
    for dependency in file.dependency:
        _add(pool, files, dependency, loaded)
    pool.Add(file)


def _well_known(name: str) -> list[descriptor_pb2.FileDescriptorProto]:
    """google/protobuf/*.proto from protobuf itself (an upstream need not serve them)."""
    if not name.startswith("google/protobuf/"):
        return []
    from google.protobuf import (  # noqa: F401  (each registers its file in the default pool)
        any_pb2,
        duration_pb2,
        empty_pb2,
        field_mask_pb2,
        struct_pb2,
        timestamp_pb2,
        wrappers_pb2,
    )

    try:
        found = descriptor_pool.Default().FindFileByName(name)
    except KeyError:
        return []
    proto = descriptor_pb2.FileDescriptorProto()
    found.CopyToProto(proto)
    return [proto]
