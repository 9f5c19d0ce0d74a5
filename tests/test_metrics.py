"""GET /metrics on the admin port: Prometheus text whose values follow the traffic."""
from __future__ import annotations

import re
import urllib.request

from conftest import call, free_port
from test_admin import api

STUBS = {"s.yaml": """
    - name: get-user
      request: {method: GET, path: "/api/users/{id}"}
      response: {json: {ok: true}}
"""}


def scrape(st) -> dict[str, float]:
    with urllib.request.urlopen(st.admin_url + "/metrics", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_metrics_follow_the_traffic(stuntman, upstream):
    st = stuntman(STUBS, admin_port=0, upstream=upstream.url)
    before = scrape(st)
    ok = 'stuntman_requests_total{action="stub",method="GET",route="get-user",status_class="2xx"}'
    assert ok not in before and before["stuntman_unmatched_requests_total"] == 0
    for i in range(3):
        call(st.port, "GET", f"/api/users/{i}")
    call(st.port, "POST", "/elsewhere", body=b"x")
    after = scrape(st)
    assert after[ok] == 3
    assert after['stuntman_requests_total{action="proxy",method="POST",route="",status_class="2xx"}'] == 1
    assert after["stuntman_unmatched_requests_total"] == 1
    assert after['stuntman_request_duration_seconds_count{action="stub"}'] == 3
    assert after['stuntman_request_duration_seconds_bucket{action="stub",le="+Inf"}'] == 3
    assert after['stuntman_request_duration_seconds_sum{action="stub"}'] > 0
    assert after["stuntman_journal_entries"] == 4 and after["stuntman_stubs"] == 1


def test_upstream_errors_and_reloads_are_counted(stuntman):
    st = stuntman(STUBS, admin_port=0, upstream=f"http://127.0.0.1:{free_port()}")
    call(st.port, "GET", "/down")
    call(st.port, "GET", "/down")
    (st.stubs / "s.yaml").write_text("- {request: {path: /x}, response: {status: nope}}\n")
    api(st, "POST", "/__admin/mappings/reload")
    samples = scrape(st)
    assert samples['stuntman_upstream_errors_total{cause="upstream-refused"}'] == 2
    assert samples['stuntman_requests_total{action="error",method="GET",route="",status_class="5xx"}'] == 2
    assert samples['stuntman_config_reloads_total{outcome="error"}'] == 1


def test_metric_names_follow_prometheus_conventions(stuntman):
    st = stuntman(STUBS, admin_port=0)
    call(st.port, "GET", "/api/users/1")
    for name in scrape(st):
        base = name.split("{")[0]
        assert re.fullmatch(r"stuntman_[a-z_]+", base), base
        assert base.endswith(("_total", "_seconds_bucket", "_seconds_count", "_seconds_sum", "_created",
                              "_entries", "_stubs")), base


def test_metrics_can_be_turned_off(stuntman):
    st = stuntman(STUBS, admin_port=0, metrics=False)
    assert api(st, "GET", "/metrics")[0] == 404
