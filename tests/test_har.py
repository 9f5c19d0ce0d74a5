"""HAR import and export through the CLI, replayed over real sockets: realistic exports written
here (Chrome-like with HTTP/2 pseudo headers, base64 and compressed content, a redirect, a missing
body; a broken one), redaction on import, and a round trip."""
from __future__ import annotations

import base64
import gzip
import json

from conftest import call, run_cli
from stuntman.record.recorder import read_index

PNG = bytes(range(256)) * 4
SECRET = "eyJhbGciOiJIUzI1NiJ9.secret-token"


def entry(method, url, status, *, headers=(), content=None, post=None, response_headers=(), wait=12.5):
    request = {"method": method, "url": url, "httpVersion": "h2", "headers": [
        {"name": ":authority", "value": "api.example.test"}, {"name": ":method", "value": method},
        *({"name": k, "value": v} for k, v in headers)], "queryString": [], "cookies": [],
        "headersSize": -1, "bodySize": -1}
    if post is not None:
        request["postData"] = post
    return {"startedDateTime": "2026-11-20T10:00:00.000Z", "time": wait + 3, "request": request,
            "response": {"status": status, "statusText": "", "httpVersion": "h2", "cookies": [],
                         "headers": [{"name": k, "value": v} for k, v in response_headers],
                         "content": content or {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "",
                         "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"blocked": 1, "dns": -1, "send": 0, "wait": wait, "receive": 3}}


CHROME = {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"}, "pages": [], "entries": [
    entry("GET", "https://api.example.test/api/users/42?lang=en", 200,
          headers=[("Authorization", f"Bearer {SECRET}"), ("Accept", "application/json")],
          content={"size": 27, "mimeType": "application/json", "text": '{"id": 42, "name": "Ada"}'},
          response_headers=[("content-type", "application/json"), ("content-encoding", "gzip")]),
    entry("GET", "https://api.example.test/logo.png", 200,
          content={"size": len(PNG), "mimeType": "image/png", "text": base64.b64encode(PNG).decode(),
                   "encoding": "base64"}, response_headers=[("content-type", "image/png")]),
    entry("GET", "https://api.example.test/old", 302, response_headers=[("location", "/new")]),
    entry("POST", "https://api.example.test/api/orders", 201,
          post={"mimeType": "application/json", "text": '{"item": 7}'},
          content={"size": 12, "mimeType": "application/json", "text": '{"id": "o1"}'},
          response_headers=[("content-type", "application/json"), ("set-cookie", f"sid={SECRET}; HttpOnly")]),
    entry("GET", "https://api.example.test/beacon", 204),  # no body at all
]}}


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_a_chrome_export_imports_and_replays(stuntman, tmp_path):
    har = write(tmp_path, "chrome.har", CHROME)
    result = run_cli("import", "har", str(har), "--to", "web", "--recordings", str(tmp_path / "rec"))
    assert result.returncode == 0 and "imported 5 exchange(s)" in result.stdout, result.stderr
    files = "".join(p.read_text() for p in (tmp_path / "rec" / "web" / "exchanges").glob("*.json"))
    assert SECRET not in files and ":authority" not in files
    st = stuntman({}, recordings=tmp_path / "rec", replay=("web",))
    status, headers, body = call(st.port, "GET", "/api/users/42?lang=en")
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == b'{"id": 42, "name": "Ada"}'  # stored decoded, encoded again
    assert call(st.port, "GET", "/logo.png")[2] == PNG
    status, headers, _ = call(st.port, "GET", "/old")
    assert status == 302 and headers["location"] == "/new"
    status, headers, body = call(st.port, "POST", "/api/orders", body=b'{"item":7}')
    assert (status, body) == (201, b'{"id": "o1"}') and headers["set-cookie"] == "[REDACTED]"
    assert call(st.port, "GET", "/beacon")[:3:2] == (204, b"")


def test_a_broken_har_names_entry_and_field_and_imports_nothing_unless_asked(tmp_path):
    broken = json.loads(json.dumps(CHROME))
    entries = broken["log"]["entries"]
    del entries[1]["request"]["url"]
    entries[2]["response"]["status"] = "abc"
    entries[3]["response"]["content"] = {"size": 3, "text": "%%%not base64", "encoding": "base64"}
    har = write(tmp_path, "broken.har", broken)
    result = run_cli("import", "har", str(har), "--to", "b", "--recordings", str(tmp_path))
    assert result.returncode == 2
    assert "entries[1].request.url: Field required" in result.stderr
    assert "entries[2].response.status:" in result.stderr
    assert "entries[3].response.content.text: not valid base64" in result.stderr
    assert not (tmp_path / "b").exists()
    result = run_cli("import", "har", str(har), "--to", "b", "--recordings", str(tmp_path), "--skip-bad")
    assert result.returncode == 0 and "imported 2 exchange(s)" in result.stdout and "skipped 3" in result.stdout
    assert run_cli("import", "har", str(write(tmp_path, "x.har", {"entries": []})), "--to", "c",
                   "--recordings", str(tmp_path)).returncode == 2


def test_export_writes_har_that_imports_back_the_same(tmp_path):
    har = write(tmp_path, "chrome.har", CHROME)
    assert run_cli("import", "har", str(har), "--to", "a", "--recordings", str(tmp_path)).returncode == 0
    result = run_cli("export", "har", "a", "--recordings", str(tmp_path), "--out", str(tmp_path / "out.har"))
    assert result.returncode == 0, result.stderr
    exported = json.loads((tmp_path / "out.har").read_text())
    assert exported["log"]["version"] == "1.2" and len(exported["log"]["entries"]) == 5
    first = exported["log"]["entries"][0]
    assert first["request"]["url"] == "https://api.example.test/api/users/42?lang=en"
    assert first["response"]["content"]["text"] == '{"id": 42, "name": "Ada"}'
    imported = run_cli("import", "har", str(tmp_path / "out.har"), "--to", "b", "--recordings", str(tmp_path))
    assert imported.returncode == 0
    exchanges = {}
    for name in ("a", "b"):
        exchanges[name] = [json.loads(p.read_text())["response"]["body"]
                           for p in sorted((tmp_path / name / "exchanges").glob("*.json"))]
    assert exchanges["a"] == exchanges["b"]


def test_a_damaged_exchange_file_is_named_and_nothing_is_written(tmp_path):
    har = write(tmp_path, "chrome.har", CHROME)
    assert run_cli("import", "har", str(har), "--to", "a", "--recordings", str(tmp_path)).returncode == 0
    damaged = sorted((tmp_path / "a" / "exchanges").glob("*.json"))[1]
    damaged.write_text("{ not json")
    name = f"exchanges/{damaged.name}"
    result = run_cli("export", "har", "a", "--recordings", str(tmp_path), "--out", str(tmp_path / "out.har"))
    assert result.returncode == 2 and name in result.stderr and not (tmp_path / "out.har").exists()
    result = run_cli("replay", "a", "--recordings", str(tmp_path), "--port", "0")
    assert result.returncode == 2 and f"a/{name}: unreadable exchange" in result.stderr


def unanswered(url, status, error=None):
    """A request the browser never got an answer to (blocked, cancelled, failed), as Chrome and
    Firefox write it: status 0 or -1, no headers, often an `_error`."""
    item = entry("GET", url, 200)
    item["response"].update({"status": status, "statusText": "", "httpVersion": "", "headers": []})
    if error is not None:
        item["response"]["_error"] = error
    return item


def test_unanswered_entries_are_skipped_and_counted_and_numeric_header_values_are_text(stuntman, tmp_path):
    good = entry("GET", "https://api.example.test/api/ping", 200, headers=[("DNT", 1)],
                 content={"size": 2, "mimeType": "application/json", "text": "{}"},
                 response_headers=[("content-type", "application/json"), ("x-ratelimit-remaining", 59),
                                   ("x-cache-hit", True)])
    har = write(tmp_path, "browser.har", {"log": {"version": "1.2", "entries": [
        good, unanswered("https://ads.example.test/pixel", 0, "net::ERR_BLOCKED_BY_CLIENT"),
        unanswered("https://api.example.test/slow", -1)]}})
    result = run_cli("import", "har", str(har), "--to", "web", "--recordings", str(tmp_path / "rec"))
    assert result.returncode == 0, result.stderr
    assert "imported 1 exchange(s)" in result.stdout
    assert "skipped 2 entries with no response: indexes 1, 2" in result.stdout
    assert "entries[1]: no response (net::ERR_BLOCKED_BY_CLIENT)" in result.stderr
    st = stuntman({}, recordings=tmp_path / "rec", replay=("web",))
    status, headers, body = call(st.port, "GET", "/api/ping")
    assert (status, body) == (200, b"{}")
    assert headers["x-ratelimit-remaining"] == "59" and headers["x-cache-hit"] == "true"


def test_a_har_with_nothing_answered_exits_2_in_one_line_and_writes_no_recording(tmp_path):
    har = write(tmp_path, "blocked.har", {"log": {"version": "1.2", "entries": [
        unanswered("https://ads.example.test/a", 0, "net::ERR_BLOCKED_BY_CLIENT"),
        unanswered("https://ads.example.test/b", -1)]}})
    for extra in ((), ("--skip-bad",)):
        result = run_cli("import", "har", str(har), "--to", "none", "--recordings", str(tmp_path), *extra)
        assert result.returncode == 2, result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "nothing to import" in lines[0] and "indexes 0, 1" in lines[0], lines
        assert not (tmp_path / "none").exists()


def test_skip_bad_with_no_good_entry_exits_2_and_writes_no_recording(tmp_path):
    broken = entry("GET", "https://api.example.test/x", 200)
    del broken["request"]["url"]
    har = write(tmp_path, "bad.har", {"log": {"entries": [broken, unanswered("https://api.example.test/y", 0)]}})
    for extra in ((), ("--skip-bad",)):
        result = run_cli("import", "har", str(har), "--to", "bad", "--recordings", str(tmp_path), *extra)
        assert result.returncode == 2, result.stdout
        assert "entries[0].request.url: Field required" in result.stderr
        assert "imported" not in result.stdout and not (tmp_path / "bad").exists()


def test_an_empty_har_exits_2(tmp_path):
    har = write(tmp_path, "empty.har", {"log": {"version": "1.2", "entries": []}})
    result = run_cli("import", "har", str(har), "--to", "empty", "--recordings", str(tmp_path))
    assert result.returncode == 2 and "no entries" in result.stderr and not (tmp_path / "empty").exists()


def test_import_into_an_existing_recording_asks_to_append_or_overwrite(tmp_path):
    """As `record --to`: an existing recording is neither added to nor replaced unless asked, and a
    failed --overwrite import leaves it as it was."""
    one = write(tmp_path, "one.har", {"log": {"entries": [entry("GET", "https://api.example.test/one", 200)]}})
    two = write(tmp_path, "two.har", {"log": {"entries": [entry("GET", "https://api.example.test/two", 200),
                                                          entry("GET", "https://api.example.test/three", 200)]}})
    args = ("--to", "web", "--recordings", str(tmp_path))

    def held():
        return [(e["seq"], e["url"]) for e in read_index(tmp_path / "web")]

    assert run_cli("import", "har", str(one), *args).returncode == 0
    refused = run_cli("import", "har", str(two), *args)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.splitlines() == ["stuntman: error: recording 'web' already holds 1 exchange(s): "
                                           "pass --append to add to it or --overwrite to replace it"]
    assert held() == [(1, "/one")]
    appended = run_cli("import", "har", str(two), *args, "--append")
    assert appended.returncode == 0 and "(appended to its 1 exchange(s))" in appended.stdout, appended.stderr
    assert held() == [(1, "/one"), (2, "/two"), (3, "/three")]
    broken = write(tmp_path, "broken.har", {"log": {"entries": []}})
    failed = run_cli("import", "har", str(broken), *args, "--overwrite")
    assert failed.returncode == 2 and held() == [(1, "/one"), (2, "/two"), (3, "/three")]
    replaced = run_cli("import", "har", str(one), *args, "--overwrite")
    assert replaced.returncode == 0 and "(replacing it: its 3 exchange(s) removed)" in replaced.stdout
    assert held() == [(1, "/one")] and len(list((tmp_path / "web" / "exchanges").iterdir())) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left
