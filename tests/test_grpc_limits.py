"""Limits of the gRPC listener on what one client connection may hold: the calls in flight
(`--grpc-max-streams`, announced in HTTP/2's SETTINGS as MAX_CONCURRENT_STREAMS, so a client's
further calls wait for a place rather than fail) and the size of a message (`--max-body-bytes`).
Seen on the wire (the server's SETTINGS frame, read raw with h2) and by a real client.
"""
from __future__ import annotations

import socket
from datetime import datetime

import grpc
import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import RemoteSettingsChanged
from h2.settings import SettingCodes

from test_grpc_proxy import journal


def server_settings(port: int) -> dict[int, int]:
    """The SETTINGS stuntman's gRPC listener sends a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        h2 = H2Connection(H2Configuration(client_side=True))
        h2.initiate_connection()
        sock.sendall(h2.data_to_send())
        while True:
            data = sock.recv(65536)
            assert data, "the server closed the connection before its SETTINGS"
            for event in h2.receive_data(data):
                if isinstance(event, RemoteSettingsChanged):
                    return {int(code): setting.new_value for code, setting in event.changed_settings.items()}


@pytest.mark.parametrize("streams", [None, 7])
def test_the_calls_a_connection_may_hold_are_announced_in_settings(stuntman, streams):
    st = stuntman({}, grpc_port=0, **({"grpc_max_streams": streams} if streams else {}))
    settings = server_settings(st.server.grpc.port)
    assert settings[SettingCodes.MAX_CONCURRENT_STREAMS] == (streams or 100)


def test_a_call_beyond_the_limit_waits_for_a_place_and_is_then_answered(stuntman):
    """With one place, two calls on one connection go one after the other: the second reaches
    stuntman (its journal entry starts) only once the first has ended."""
    stub = "- request: {grpc: {service: test.Echo, method: Slow}}\n  grpc: {rawMessages: [b2s=], delayMs: 300}\n"
    st = stuntman({"s.yaml": stub}, grpc_port=0, admin_port=0, grpc_max_streams=1)
    with grpc.insecure_channel(f"127.0.0.1:{st.server.grpc.port}") as channel:
        slow = channel.unary_unary("/test.Echo/Slow")
        first, second = slow.future(b"1", timeout=20), slow.future(b"2", timeout=20)
        assert first.result(timeout=10) == second.result(timeout=10) == b"ok"
    spans = sorted((end - entry["timing"]["totalMs"] / 1000, end) for entry in journal(st)
                   for end in (datetime.fromisoformat(entry["loggedDate"]).timestamp(),))
    assert len(spans) == 2 and spans[1][0] >= spans[0][1] - 0.002  # (the journal's times: to the ms)


def test_a_message_over_max_body_bytes_is_refused_resource_exhausted(stuntman):
    stub = "- request: {grpc: {service: test.Echo, method: Unary}}\n  grpc: {rawMessages: [b2s=]}\n"
    st = stuntman({"s.yaml": stub}, grpc_port=0, max_body_bytes=1000)
    with grpc.insecure_channel(f"127.0.0.1:{st.server.grpc.port}") as channel, \
            pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary("/test.Echo/Unary")(b"x" * 1001, timeout=10)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]

