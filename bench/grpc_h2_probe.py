#!/usr/bin/env python3
"""A probe, not stuntman: what a gRPC pass-through costs when it relays HTTP/2 frames with h2
(pure Python, sans-IO) instead of making a grpc.aio call on each side. It does nothing else:
no routing, journal or metrics; one upstream connection per client connection; headers, DATA
and trailers passed as they come, flow control acknowledged as data arrives.

  grpc_h2_probe.py LISTEN_PORT UPSTREAM_PORT     (then bench/grpc_load.py at LISTEN_PORT)

Measured 2026-12-02 (issue 14), 64-byte unary calls, 4 channels x 16 in flight, the probe alone
on CPU 1, the echo upstream (grpc_serve.py --serve-echo) and grpc_load.py on CPU 0:
4,909 calls/s at 201 CPU µs/call, against 7,300 calls/s for the echo upstream called directly
and 1,644 (607 µs) / 2,266 (440 µs) for stuntman's grpc.aio pass-through (stream / unary path) in
the same hour: relaying frames leaves room for stuntman's pipeline (about 60 µs/call) within the
issue's 0.5x goal, which a grpc.aio call on each side does not.
"""
from __future__ import annotations

import asyncio
import sys

import uvloop
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, RequestReceived, ResponseReceived, StreamEnded, StreamReset, TrailersReceived

UP = int(sys.argv[2])


class Upstream(asyncio.Protocol):
    def __init__(self, down):
        self.down = down
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding=None,
                                               validate_outbound_headers=False, normalize_outbound_headers=False,
                                               validate_inbound_headers=False))
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.h2.initiate_connection()
        transport.write(self.h2.data_to_send())
        self.down.upstream_ready()

    def data_received(self, data):
        down = self.down
        for event in self.h2.receive_data(data):
            t = type(event)
            if t is ResponseReceived:
                down.h2.send_headers(down.ids[event.stream_id], event.headers)
            elif t is DataReceived:
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                down.h2.send_data(down.ids[event.stream_id], event.data)
            elif t is TrailersReceived:
                down.h2.send_headers(down.ids.pop(event.stream_id), event.headers, end_stream=True)
            elif t is StreamReset:
                sid = down.ids.pop(event.stream_id, None)
                if sid:
                    down.h2.reset_stream(sid)
        out = self.h2.data_to_send()
        if out:
            self.transport.write(out)
        down.flush()


class Down(asyncio.Protocol):
    def __init__(self):
        self.h2 = H2Connection(H2Configuration(client_side=False, header_encoding=None,
                                               validate_outbound_headers=False, normalize_outbound_headers=False,
                                               validate_inbound_headers=False))
        self.ids = {}   # upstream stream id -> downstream stream id
        self.rev = {}   # downstream -> upstream
        self.up = None
        self.pending: list[bytes] | None = []  # what came before the upstream connection was up

    def connection_made(self, transport):
        self.transport = transport
        self.h2.initiate_connection()
        transport.write(self.h2.data_to_send())
        loop = asyncio.get_running_loop()
        self.up = Upstream(self)
        loop.create_task(loop.create_connection(lambda: self.up, "127.0.0.1", UP))

    def flush(self):
        out = self.h2.data_to_send()
        if out:
            self.transport.write(out)

    def data_received(self, data):
        if self.pending is not None:  # (the upstream connection is not up yet: in order, later)
            self.pending.append(data)
            return
        up = self.up
        for event in self.h2.receive_data(data):
            t = type(event)
            if t is RequestReceived:
                usid = up.h2.get_next_available_stream_id()
                self.ids[usid] = event.stream_id
                self.rev[event.stream_id] = usid
                up.h2.send_headers(usid, event.headers)
            elif t is DataReceived:
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                up.h2.send_data(self.rev[event.stream_id], event.data)
            elif t is StreamEnded:
                up.h2.end_stream(self.rev.pop(event.stream_id))
        out = up.h2.data_to_send()
        if out:
            up.transport.write(out)
        self.flush()

    def upstream_ready(self):
        pending, self.pending = self.pending, None
        for data in pending or ():
            self.data_received(data)


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Down, "127.0.0.1", int(sys.argv[1]))
    print("listening", flush=True)
    await server.serve_forever()

uvloop.run(main())
