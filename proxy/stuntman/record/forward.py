"""Forward-proxy recording with HTTPS interception, for local development: the service under test
sets HTTPS_PROXY=http://127.0.0.1:8888 and trusts stuntman's CA; every exchange with every
upstream is recorded, redacted, into one recording.

mitmproxy is the engine (an in-process master with a stuntman addon), not a hand-written TLS MITM.
Its CA lives in stuntman's config directory. Upstream certificates are verified by default
(--insecure-upstream relaxes it, --upstream-ca adds a CA bundle). An exchange is on disk before
the client gets its response: the addon's response hook waits for the write.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .recorder import Exchanged, Recorder

if TYPE_CHECKING:
    from mitmproxy import http

CA_FILE = "mitmproxy-ca-cert.pem"  # mitmproxy's name for the certificate clients must trust


def default_ca_dir() -> Path:
    if os.environ.get("STUNTMAN_CA_DIR"):
        return Path(os.environ["STUNTMAN_CA_DIR"])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "stuntman" / "ca"


def ensure_ca(ca_dir: Path) -> Path:
    """The CA certificate's path, generated on first use (private key readable by the owner only)."""
    try:
        from mitmproxy.certs import CertStore
    except ImportError:
        raise RuntimeError("forward-proxy recording needs mitmproxy: pip install 'stuntman[forward]'") from None
    ca_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    CertStore.from_store(ca_dir, "mitmproxy", 2048)
    return ca_dir / CA_FILE


class RecordFlows:
    """The mitmproxy addon: each completed flow → one exchange in the recording."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder

    async def response(self, flow: http.HTTPFlow) -> None:
        entry, side = self.recorder.build(exchanged(flow))
        await self.recorder.save(entry, side)


def exchanged(flow: http.HTTPFlow) -> Exchanged:
    """A mitmproxy HTTP flow (with its response) as a recorded exchange."""
    request, response = flow.request, flow.response
    assert response is not None, "a flow with its response"
    started = request.timestamp_start or 0.0
    head_at = response.timestamp_start or started
    ended = response.timestamp_end or head_at
    return Exchanged(
        method=request.method, url=request.path, protocol=request.http_version,
        request_headers=list(request.headers.items(multi=True)), request_body=request.raw_content or b"",
        status=response.status_code, reason=response.reason or "",
        response_headers=list(response.headers.items(multi=True)), response_body=response.raw_content or b"",
        ttfb=max(head_at - started, 0.0), total=max(ended - started, 0.0),
        upstream=f"{request.scheme}://{request.host}:{request.port}")


def import_flows(path: Path, recorder: Recorder,
                 progress: Callable[[int, int], object] | None = None) -> tuple[int, list[str]]:
    """The HTTP flows with a response in a mitmproxy flow file (read by mitmproxy's own reader)
    appended to a recording: (count, what was skipped and why)."""
    from mitmproxy import http, io
    from mitmproxy.exceptions import FlowReadException

    flows: list[http.HTTPFlow] = []
    skipped: list[str] = []
    try:
        with open(path, "rb") as f:
            for i, flow in enumerate(io.FlowReader(f).stream()):
                if not isinstance(flow, http.HTTPFlow):
                    skipped.append(f"flows[{i}]: a {type(flow).__name__}, not HTTP")
                elif flow.response is None:
                    skipped.append(f"flows[{i}]: no response ({flow.error.msg if flow.error else 'none recorded'})")
                else:
                    flows.append(flow)
    except (OSError, FlowReadException) as exc:
        raise RuntimeError(f"{path}: not a mitmproxy flow file: {exc}") from None
    for n, flow in enumerate(flows, 1):
        recorder.write_now(*recorder.build(exchanged(flow)))
        if progress is not None:
            progress(n, len(flows))
    return len(flows), skipped


async def run_forward(host: str, port: int, recorder: Recorder, ca_dir: Path, *, insecure: bool = False,
                      upstream_ca: Path | None = None, ready: Callable[[], object] | None = None) -> None:
    """Serve as an HTTP(S) forward proxy until cancelled."""
    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    ensure_ca(ca_dir)
    opts = options.Options(listen_host=host, listen_port=port, confdir=str(ca_dir), ssl_insecure=insecure)
    if upstream_ca is not None:
        opts.update(ssl_verify_upstream_trusted_ca=str(upstream_ca))
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    master.addons.add(RecordFlows(recorder))
    if ready is not None:
        ready()
    try:
        await master.run()
    finally:
        master.shutdown()
