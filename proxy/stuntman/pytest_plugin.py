"""The pytest plugin (registered through the `pytest11` entry point): a `stuntman` fixture.

By default each test gets its own stuntman, started in-process on free loopback ports (tens of
milliseconds), serving the stubs of `--stuntman-stubs` / ini `stuntman_stubs` (default: none)
and the recordings of ini `stuntman_replay` (under `stuntman_recordings`, default a temp dir),
passing unmatched requests to `stuntman_upstream` if set; it is stopped after the test.

With `STUNTMAN_ADMIN_URL` set (and `STUNTMAN_URL` for the data plane, `STUNTMAN_ADMIN_TOKEN` if
the admin API needs one) the fixture attaches to a running sidecar instead, shared by every test
and pytest-xdist worker. Each test then has a session of its own: the stubs and faults it creates
only apply to requests carrying its `X-Stuntman-Session` header (`stuntman.headers`: the service
under test must pass it on), `verify` and `requests` only count those, and after the test its
stubs, faults and scenario state are removed — other tests never see them.

    def test_checkout(stuntman):
        stuntman.stub("GET", "/api/users/42", json={"id": 42})
        stuntman.fault("/api/payments", type="error", status=503, first_n=2)
        ...  # exercise the service under test against stuntman.url
        stuntman.verify("POST", "/api/payments", count=3)
"""
from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .client import Stuntman

SESSION_HEADER = "X-Stuntman-Session"


class StuntmanFixture:
    """What a test gets: the data-plane `url`, the admin client `admin`, and helpers that read
    like the test's intent."""

    def __init__(self, url: str, admin: Stuntman, shared: bool):
        self.url = url.rstrip("/")
        self.admin = admin
        self.shared = shared
        self.session = f"pytest-{uuid.uuid4().hex[:12]}" if shared else ""
        self.headers = {SESSION_HEADER: self.session} if shared else {}
        self._stubs: list[str] = []
        self._faults: list[str] = []

    def _scoped(self, matcher: dict[str, Any]) -> dict[str, Any]:
        if not self.shared:
            return matcher
        return {**matcher, "headers": {**matcher.get("headers", {}), SESSION_HEADER: {"equals": self.session}}}

    def stub(self, method: str, path: str, *, status: int = 200, json: Any = None, body: str | None = None,
             headers: dict[str, str] | None = None, match: dict[str, Any] | None = None,
             responses: list[Any] | None = None, faults: list[Any] | None = None, name: str | None = None,
             priority: int | None = None) -> dict[str, Any]:
        """Answer `method path` (a path template like /api/users/{id} works) with this response.
        `match`: more of the request matcher (query, headers, body); `responses`: a sequence."""
        spec: dict[str, Any] = {"request": self._scoped({"method": method, "path": path, **(match or {})})}
        if responses is not None:
            spec["responses"] = responses
        else:
            response: dict[str, Any] = {"status": status}
            if json is not None:
                response["json"] = json
            if body is not None:
                response["body"] = body
            if headers:
                response["headers"] = headers
            spec["response"] = response
        if faults:
            spec["faults"] = faults
        if name is not None:
            spec["name"] = name
        if priority is not None or self.shared:  # a test's stubs win over the sidecar's own
            spec["priority"] = priority if priority is not None else 1
        created = self.admin.create_stub(spec)
        self._stubs.append(created["id"])
        return created

    def fault(self, target: str, type: str, *, method: str | None = None, **params: Any) -> dict[str, Any]:
        """A fault on requests to `target` (a path, or a path prefix ending in `*`) or on the
        stub named `target`: stuntman.fault("/api/payments", type="error", status=503, first_n=2)."""
        spec: dict[str, Any] = {"type": type, **params}
        if target.startswith("/"):
            matcher = {"pathPrefix": target[:-1]} if target.endswith("*") else {"path": target}
            if method is not None:
                matcher["method"] = method
            spec["request"] = matcher
        else:
            spec["route"] = target
        if self.shared:
            spec["when_header"] = {**spec.get("when_header", {}), SESSION_HEADER: self.session}
        created = self.admin.create_fault(spec)
        self._faults.append(created["id"])
        return created

    def verify(self, method: str, path: str, count: int, **matcher: Any) -> int:
        """AssertionError unless exactly `count` requests like this reached stuntman in this test."""
        return self.admin.verify(method, path, count, **self._scoped(matcher))

    def count(self, method: str, path: str, **matcher: Any) -> int:
        """How many requests like this reached stuntman in this test (no assertion)."""
        return self.admin.count_requests(self._scoped({"method": method, "path": path, **matcher}))

    def requests(self, method: str | None = None, path: str | None = None, **matcher: Any) -> list[dict[str, Any]]:
        """This test's journaled requests (newest first) a request matcher accepts: method and
        path first, as count and verify take them (both optional here: none lists them all)."""
        given = {k: v for k, v in (("method", method), ("path", path)) if v is not None}
        return self.admin.find_requests(self._scoped({**given, **matcher}))

    def reset(self) -> None:
        """Remove what this test created; in a shared sidecar, only that."""
        for stub_id in self._stubs:
            self._ignore_missing(self.admin.delete_stub, stub_id)
        for fault_id in self._faults:
            self._ignore_missing(self.admin.delete_fault, fault_id)
        self._stubs.clear()
        self._faults.clear()
        self.admin.reset_scenarios(self.session)
        if not self.shared:
            self.admin.clear_requests()

    @staticmethod
    def _ignore_missing(delete: Callable[[str], object], item_id: str) -> None:
        from .client import StuntmanError

        try:
            delete(item_id)
        except StuntmanError as exc:
            if exc.status != 404:
                raise


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stuntman")
    group.addoption("--stuntman-stubs", default=None, metavar="DIR",
                    help="stub directory the in-process stuntman serves (ini: stuntman_stubs)")
    parser.addini("stuntman_stubs", "stub directory the in-process stuntman serves", default="")
    parser.addini("stuntman_upstream", "where the in-process stuntman passes unmatched requests", default="")
    parser.addini("stuntman_recordings", "recordings directory of the in-process stuntman (default: a temp dir)",
                  default="")
    parser.addini("stuntman_replay", "recordings the in-process stuntman replays (names or paths)", type="args",
                  default=[])


@pytest.fixture
def stuntman(request: pytest.FixtureRequest) -> Iterator[StuntmanFixture]:
    """A stuntman for this test: in-process, or the sidecar at $STUNTMAN_ADMIN_URL."""
    admin_url = os.environ.get("STUNTMAN_ADMIN_URL")
    if admin_url:
        token = os.environ.get("STUNTMAN_ADMIN_TOKEN")
        url = os.environ.get("STUNTMAN_URL") or admin_url.rsplit(":", 1)[0] + ":8080"
        fixture = StuntmanFixture(url, Stuntman(admin_url, token), shared=True)
        yield fixture
        fixture.reset()
        return
    from .testing import InProcess

    config = request.config
    stubs = config.getoption("--stuntman-stubs") or config.getini("stuntman_stubs")
    with tempfile.TemporaryDirectory(prefix="stuntman-") as empty:
        stubs_dir = Path(stubs) if stubs else Path(empty)
        if stubs and not stubs_dir.is_absolute():
            stubs_dir = Path(config.rootpath) / stubs_dir
        upstream = config.getini("stuntman_upstream") or None
        recordings = config.getini("stuntman_recordings")
        recordings_dir = Path(config.rootpath) / recordings if recordings else Path(empty) / "recordings"
        replay = tuple(config.getini("stuntman_replay"))
        running = InProcess.start(stubs_dir, upstream=upstream, recordings=recordings_dir, replay=replay,
                                  replay_mode="spy" if replay and upstream else "strict")
        try:
            assert running.admin_url is not None  # start() gives it an admin port
            yield StuntmanFixture(running.url, Stuntman(running.admin_url), shared=False)
        finally:
            running.stop()
