"""Runtime settings of a server (from CLI flags / STUNTMAN_* env vars, or built by tests)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


@dataclass(frozen=True)
class Settings:
    stubs: Path = Path("stubs")
    host: str = "127.0.0.1"
    port: int = 8080
    admin_host: str = "127.0.0.1"
    admin_port: int | None = 8081        # None: no admin API (in-process tests)
    upstream: str | None = None          # unmatched requests go here (sidecar mode)
    upstream_timeout: float = 30.0       # seconds until the upstream's response head → 504
    connect_timeout: float = 5.0
    preserve_host: bool = False          # send the client's Host upstream instead of the upstream's
    upstream_ca: Path | None = None      # CA bundle for https:// upstreams (default: system store)
    insecure_upstream: bool = False      # do not verify https:// upstream certificates
    pool_max_idle: int = 1024            # idle keep-alive connections kept per upstream
    max_body_bytes: int = 10 * 1024 * 1024   # buffered bodies (routes that match on the body) → 413
    max_header_bytes: int = 32 * 1024    # request head → 431
    max_headers: int = 100               # header fields → 431
    max_url_bytes: int = 8 * 1024        # request-target → 414
    # upstream response head → 502, the connection closed: above the listener's 32 KiB as responses
    # carry more (Set-Cookie, CSP, Link), and above what common servers send by default (Node 16 KiB,
    # nginx 4-8 KiB buffers), yet small enough that a broken upstream can't grow it without bound
    max_upstream_header_bytes: int = 64 * 1024
    idle_timeout: float = 75.0           # keep-alive connection with no request
    header_timeout: float = 10.0         # from a request's first byte to the end of its head → 408
    body_timeout: float = 60.0           # between two reads of a request body → 408
    linger_timeout: float = 5.0          # reading the rest of a body we answered early, before close
    drain_timeout: float = 10.0          # on SIGTERM: how long in-flight requests may take to finish
    session_header: str = "X-Stuntman-Session"
    uvloop: bool = True
    journal_size: int = 10_000           # requests kept for /__admin/requests (0: no journal)
    journal_body_bytes: int = 8192       # of each request body, in the journal
    journal_responses: int = 0           # bytes of each proxied response kept too (for snapshots); 0: none
    metrics: bool = True                 # Prometheus metrics at GET /metrics on the admin port
    watch: bool = True                   # reload when files under `stubs` change
    admin_token: str | None = None       # bearer token the admin API requires (when set)
    admin_allowed_hosts: tuple[str, ...] = ()  # more Host names the admin API answers (NAME or NAME:PORT)
    admin_max_body_bytes: int = 1024 * 1024  # admin API request bodies → 413 (JSON, naming the limit)
    seed: int | None = None              # of fault decisions (None: a random one, printed at start)
    fault_headers: bool = False          # requests may ask for faults (X-Stuntman-Delay-Ms / -Abort)
    fault: tuple[str, ...] = ()          # --fault 'path=/x,type=error,status=503' rules
    recordings: Path = Path("recordings")  # where recordings live (names are relative to it)
    record_to: str | None = None         # record what passes to --upstream into this recording
    replay: tuple[str, ...] = ()         # recordings served as routes
    replay_mode: str = "strict"          # unmatched: strict → 404, spy → upstream, record-missing → upstream + record
    replay_latency: str = "none"         # recorded: answer after the recorded time to first byte
    replay_ignore_query: tuple[str, ...] = ("_",)  # query parameters a replay does not match on
    replay_ignore_body: tuple[str, ...] = ()       # JSONPaths of request body fields it does not match on
    redact: tuple[str, ...] = ()         # more header / query / JSON field names to redact
    redact_json: tuple[str, ...] = ()    # JSONPaths of body fields to redact
    no_redact: bool = False              # write secrets as they are (explicitly asked for)
    record_body_inline: int = 64 * 1024  # larger bodies go to side files
    openapi: tuple[Path, ...] = ()       # OpenAPI specs served as stubs (--openapi)
    openapi_validate: bool = True        # their requests are checked (400 problem+json)
    enforce_security: bool = False       # their declared security is enforced (401)
    openapi_monitor: tuple[Path, ...] = ()  # OpenAPI specs the traffic is checked against (--openapi-monitor)
    contract_enforce: bool = False       # ...blocking what breaks them (400 / 502)
    contract_header: bool = False        # ...saying the verdict in X-Stuntman-Contract
    pact: tuple[Path, ...] = ()          # pact files (or directories of them) served as stubs (--pact)
    provider_state: str | None = None    # their provider state, fixed (a regex; --provider-state)
    strict_provider_state: bool = False  # interactions without states answer only when none is asked for
    grpc_port: int | None = None         # gRPC listener (h2c): None, none
    grpc_host: str | None = None         # its address (None: --host)
    grpc_max_streams: int = 100          # calls in flight on one client connection (HTTP/2's SETTINGS)
    grpc_upstream_reflection: bool = False  # learn unknown methods from --grpc-upstream's server reflection
    grpc_upstream: str | None = None     # where gRPC calls pass through: HOST:PORT (h2c) or grpcs://HOST:PORT
    grpc_upstream_ca: Path | None = None  # CA bundle (PEM) for a grpcs:// upstream (default: system roots)
    proto: tuple[Path, ...] = ()         # .proto files (or directories, or descriptor sets) served (--proto)
    proto_include: tuple[Path, ...] = ()  # more import paths for them (--proto-include)
