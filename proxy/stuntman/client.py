"""A typed client for the stuntman admin API, sync (`Stuntman`) and async (`AsyncStuntman`).

Each admin operation is written once, in `Operations`, as the HTTP call it makes; the two clients
only differ in how a call is carried out (urllib, or aiohttp). Bodies are plain dicts in the
stub-file vocabulary, or the config models themselves (`StubSpec`, a fault model).

    admin = Stuntman("http://127.0.0.1:8081")
    admin.create_stub({"request": {"method": "GET", "path": "/api/users/42"},
                       "response": {"json": {"id": 42}}})
    admin.create_fault({"type": "error", "status": 503, "request": {"path": "/api/payments"}, "first_n": 2})
    assert admin.count_requests({"method": "POST", "path": "/api/payments"}) == 3
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    import aiohttp

T = TypeVar("T")
JSON = Any  # what json.loads returns


class StuntmanError(Exception):
    """The admin API said no: `status`, and its answer (`errors` holds field paths for a 400)."""

    def __init__(self, status: int, answer: Any, method: str, path: str):
        self.status, self.answer = status, answer
        detail = answer.get("error", "") if isinstance(answer, dict) else str(answer)
        fields = answer.get("errors", []) if isinstance(answer, dict) else []
        lines = [f"{method} {path} → {status}: {detail}"]
        lines += [f"  {e.get('field') or '(body)'}: {e.get('message')}" for e in fields]
        super().__init__("\n".join(lines))


def _dump(spec: Any) -> Any:
    """A config model as the API's JSON, or the dict as given."""
    if hasattr(spec, "model_dump"):
        return spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return spec


def _key(name: str) -> Callable[[JSON], Any]:
    return lambda answer: answer[name]


class Operations(Generic[T]):
    """Every admin endpoint. `T` is what a call returns: the answer, or an awaitable of it."""

    def _call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
              then: Callable[[JSON], Any] | None = None, text: bool = False) -> T:
        raise NotImplementedError

    # -- stubs -------------------------------------------------------------------------------
    def stubs(self) -> T:
        """Every stub, in match order: [{id, source, ...the stub}]."""
        return self._call("GET", "/__admin/mappings", then=_key("mappings"))

    def create_stub(self, stub: Any) -> T:
        return self._call("POST", "/__admin/mappings", _dump(stub))

    def get_stub(self, stub_id: str) -> T:
        return self._call("GET", f"/__admin/mappings/{stub_id}")

    def replace_stub(self, stub_id: str, stub: Any) -> T:
        return self._call("PUT", f"/__admin/mappings/{stub_id}", _dump(stub))

    def delete_stub(self, stub_id: str) -> T:
        return self._call("DELETE", f"/__admin/mappings/{stub_id}")

    def delete_all_stubs(self) -> T:
        return self._call("DELETE", "/__admin/mappings")

    def reset_stubs(self) -> T:
        """Back to exactly what the stub files say."""
        return self._call("POST", "/__admin/mappings/reset")

    def reload(self) -> T:
        """Re-read the stub files now (StuntmanError 422 with configErrors if they are bad)."""
        return self._call("POST", "/__admin/mappings/reload")

    # -- faults ------------------------------------------------------------------------------
    def faults(self) -> T:
        return self._call("GET", "/__admin/faults", then=_key("faults"))

    def create_fault(self, fault: Any) -> T:
        return self._call("POST", "/__admin/faults", _dump(fault))

    def get_fault(self, fault_id: str) -> T:
        return self._call("GET", f"/__admin/faults/{fault_id}")

    def replace_fault(self, fault_id: str, fault: Any) -> T:
        return self._call("PUT", f"/__admin/faults/{fault_id}", _dump(fault))

    def update_fault(self, fault_id: str, **changes: Any) -> T:
        """PATCH some fields, e.g. update_fault(id, enabled=False)."""
        return self._call("PATCH", f"/__admin/faults/{fault_id}", changes)

    def delete_fault(self, fault_id: str) -> T:
        return self._call("DELETE", f"/__admin/faults/{fault_id}")

    def delete_all_faults(self) -> T:
        return self._call("DELETE", "/__admin/faults")

    def reset_faults(self, session: str | None = None) -> T:
        """Back to the files' faults, counters afresh; with `session`, only that session's counters."""
        query = {"session": session} if session is not None else None
        return self._call("POST", "/__admin/faults/reset", query=query, then=_key("faults"))

    # -- the journal -------------------------------------------------------------------------
    def requests(self, limit: int | None = None) -> T:
        """Journaled requests, newest first."""
        return self._call("GET", "/__admin/requests", query={"limit": limit} if limit else None,
                          then=_key("requests"))

    def find_requests(self, matcher: Any) -> T:
        """Journaled requests a request matcher (a stub's `request:`) accepts, newest first."""
        return self._call("POST", "/__admin/requests/find", _dump(matcher), then=_key("requests"))

    def count_requests(self, matcher: Any) -> T:
        return self._call("POST", "/__admin/requests/count", _dump(matcher), then=_key("count"))

    def unmatched_requests(self) -> T:
        return self._call("GET", "/__admin/requests/unmatched", then=_key("requests"))

    def clear_requests(self) -> T:
        return self._call("DELETE", "/__admin/requests")

    def near_misses(self, method: str, url: str, headers: dict[str, str] | None = None,
                    body: str | None = None) -> T:
        """The stubs nearest to a request, each with what did not match."""
        request: dict[str, Any] = {"method": method, "url": url, "headers": headers or {}}
        if body is not None:
            request["body"] = body
        return self._call("POST", "/__admin/near-misses", request, then=_key("nearest"))

    def verify(self, method: str, path: str, count: int, **matcher: Any) -> T:
        """Raise AssertionError unless exactly `count` journaled requests match."""
        spec = {"method": method, "path": path, **matcher}

        def check(answer: JSON) -> int:
            if answer["count"] != count:
                raise AssertionError(f"expected {count} request(s) matching {spec}, "
                                     f"the journal has {answer['count']}")
            return answer["count"]
        return self._call("POST", "/__admin/requests/count", spec, then=check)

    # -- recordings ---------------------------------------------------------------------------
    def start_recording(self, name: str, upstream: str | None = None, filter: Any = None,
                        mode: str | None = None) -> T:
        """Record what `filter` (a request matcher) accepts through `upstream` into `name`; into a
        recording that holds exchanges, `mode` is "append" or "overwrite"."""
        body: dict[str, Any] = {"name": name}
        if upstream is not None:
            body["upstream"] = upstream
        if filter is not None:
            body["filter"] = _dump(filter)
        if mode is not None:
            body["mode"] = mode
        return self._call("POST", "/__admin/recordings/start", body)

    def stop_recording(self) -> T:
        return self._call("POST", "/__admin/recordings/stop")

    def recording_status(self) -> T:
        return self._call("GET", "/__admin/recordings/status")

    def snapshot_recording(self, name: str, filter: Any = None, mode: str | None = None) -> T:
        """The proxied exchanges the journal holds (needs --journal-responses) → the recording `name`
        (into one that holds exchanges, `mode` is "append" or "overwrite")."""
        body: dict[str, Any] = {"name": name}
        if filter is not None:
            body["filter"] = _dump(filter)
        if mode is not None:
            body["mode"] = mode
        return self._call("POST", "/__admin/recordings/snapshot", body)

    # -- contracts ---------------------------------------------------------------------------
    def contracts(self) -> T:
        """Every contract (OpenAPI): its operations, where each is served or watched; the load
        errors of their files are in `GET /__admin/contracts`'s `loadErrors`."""
        return self._call("GET", "/__admin/contracts", then=_key("contracts"))

    def create_contract(self, openapi: str | None = None, spec: Any = None, pact: str | None = None,
                        **options: Any) -> T:
        """Serve (or, with monitor=True, watch) an OpenAPI spec or a pact: a file under the stubs
        directory, or the document itself (`spec`: a pact is told by its `interactions`);
        options as a stub file's `contract:` entry (name, id, seed, priority; OpenAPI: basePath,
        validate, enforceSecurity, monitor, enforce, violationHeader; pact: providerState,
        strictProviderState, providerStateHeader)."""
        body = {**options, **({"openapi": openapi} if openapi is not None else {}),
                **({"pact": pact} if pact is not None else {}), **({"spec": spec} if spec is not None else {})}
        return self._call("POST", "/__admin/contracts", body)

    def set_provider_state(self, contract: str, state: str | None, session: str = "") -> T:
        """The provider state a session's requests to a pact ask for (None: none asked for)."""
        return self.set_scenario(f"pact:{contract}", state if state is not None else "Started", session)

    def get_contract(self, contract_id: str) -> T:
        return self._call("GET", f"/__admin/contracts/{contract_id}")

    def delete_contract(self, contract_id: str) -> T:
        return self._call("DELETE", f"/__admin/contracts/{contract_id}")

    # -- gRPC --------------------------------------------------------------------------------
    def grpc_services(self) -> T:
        """The services of the loaded .proto files (--proto) with their methods (path, kind, input
        and output types) and health status; `builtin` (health, reflection), `overall`, `otherHealth`."""
        return self._call("GET", "/__admin/grpc/services")

    def set_grpc_health(self, service: str, status: str) -> T:
        """The status grpc.health.v1.Health answers for `service` ("" for the server as a whole):
        SERVING, NOT_SERVING, SERVICE_UNKNOWN or UNKNOWN."""
        path = "/__admin/grpc/health" + (f"/{quote(service, safe='')}" if service else "")
        return self._call("PUT", path, {"status": status})

    # -- scenarios, health, the rest ---------------------------------------------------------
    def scenarios(self, session: str = "") -> T:
        return self._call("GET", "/__admin/scenarios", query={"session": session}, then=_key("scenarios"))

    def set_scenario(self, name: str, state: str, session: str = "") -> T:
        return self._call("POST", "/__admin/scenarios", {"name": name, "state": state, "session": session})

    def reset_scenarios(self, session: str | None = None) -> T:
        return self._call("POST", "/__admin/scenarios/reset",
                          query={"session": session} if session is not None else None)

    def health(self) -> T:
        return self._call("GET", "/__admin/health")

    def ready(self) -> T:
        """True while serving, False while draining (no token needed)."""
        return self._call("GET", "/__admin/ready", then=lambda a: a["status"] == "ready")

    def metrics(self) -> T:
        """The Prometheus text exposition."""
        return self._call("GET", "/metrics", text=True)

    def openapi(self) -> T:
        return self._call("GET", "/__admin/openapi.json")

    def shutdown(self) -> T:
        return self._call("POST", "/__admin/shutdown")


def _parse(status: int, data: bytes, text: bool) -> Any:
    if text:
        return data.decode()
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data.decode("utf-8", "replace")


class Stuntman(Operations[Any]):
    """The sync client (stdlib urllib: no extra dependency in a test process)."""

    def __init__(self, admin_url: str, token: str | None = None, timeout: float = 10.0):
        self.admin_url = admin_url.rstrip("/")
        self.token, self.timeout = token, timeout

    def _call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
              then: Callable[[JSON], Any] | None = None, text: bool = False) -> Any:
        query = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.admin_url + path + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                answer = _parse(resp.status, resp.read(), text)
        except urllib.error.HTTPError as exc:
            answer = _parse(exc.code, exc.read(), False)
            if path == "/__admin/ready" and exc.code == 503:
                return False
            raise StuntmanError(exc.code, answer, method, path) from None
        return then(answer) if then else answer


class AsyncStuntman(Operations[Awaitable[Any]]):
    """The async client (aiohttp). Use `async with AsyncStuntman(url) as admin:` or close()."""

    def __init__(self, admin_url: str, token: str | None = None, timeout: float = 10.0):
        self.admin_url = admin_url.rstrip("/")
        self.token, self.timeout = token, timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncStuntman:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
                    then: Callable[[JSON], Any] | None = None, text: bool = False) -> Any:
        import aiohttp

        if self._session is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout))
        query = {k: v for k, v in (query or {}).items() if v is not None}
        async with self._session.request(method, self.admin_url + path, json=body, params=query or None) as resp:
            data = await resp.read()
            status = resp.status
        if status >= 400:
            if path == "/__admin/ready" and status == 503:
                return False
            raise StuntmanError(status, _parse(status, data, False), method, path)
        answer = _parse(status, data, text)
        return then(answer) if then else answer
