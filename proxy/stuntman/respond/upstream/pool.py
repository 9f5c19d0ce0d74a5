"""Idle keep-alive connections to one origin, and how new ones are made (TLS verified by default)."""
from __future__ import annotations

import asyncio
import socket
import ssl
from typing import TYPE_CHECKING

from .client import UpstreamConnection
from .errors import UpstreamError

if TYPE_CHECKING:
    from ...settings import Settings


class Pool:
    """Idle keep-alive connections to one origin (scheme, host, port)."""

    def __init__(self, scheme: str, host: str, port: int, settings: Settings):
        self.scheme, self.host, self.port = scheme, host, port
        self.settings = settings
        self.idle: list[UpstreamConnection] = []
        self.ssl_context = _tls_context(settings) if scheme == "https" else None

    def take_idle(self) -> UpstreamConnection | None:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        return None

    def release(self, conn: UpstreamConnection) -> None:
        if conn.closed:
            return
        if len(self.idle) >= self.settings.pool_max_idle:
            conn.close()
            return
        conn.call = None
        self.idle.append(conn)

    async def connect(self) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: UpstreamConnection(self), self.host, self.port, ssl=self.ssl_context,
                    server_hostname=self.host if self.ssl_context else None),
                self.settings.connect_timeout)
        except TimeoutError:
            raise UpstreamError(504, "upstream-connect-timeout",
                                f"no connection to {self.origin} within {self.settings.connect_timeout:g} s") from None
        except ConnectionRefusedError:
            raise UpstreamError(502, "upstream-refused", f"{self.origin} refused the connection") from None
        except socket.gaierror as exc:
            raise UpstreamError(502, "upstream-dns", f"cannot resolve {self.host}: {exc.strerror}") from None
        except ssl.SSLError as exc:
            raise UpstreamError(502, "upstream-tls", f"TLS with {self.origin} failed: {exc}") from None
        except OSError as exc:
            raise UpstreamError(502, "upstream-unreachable", f"cannot connect to {self.origin}: {exc}") from None
        return conn

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """Verify upstream certificates (system store or --upstream-ca) unless told not to."""
    ctx = ssl.create_default_context(cafile=str(settings.upstream_ca) if settings.upstream_ca else None)
    if settings.insecure_upstream:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
