"""A bug or a failing template never leaves a client hanging: 500 with the cause, then close."""
from __future__ import annotations

from conftest import parse_responses, raw_exchange, run_cli, write_stubs
from stuntman.exchange import Exchange
from stuntman.respond.stub import StubResponder

STUB = {"s.yaml": "- {name: hello, request: {path: /hello}, response: {body: hi}}"}


def test_a_stub_failing_to_render_answers_500_naming_the_stub(stuntman, monkeypatch):
    st = stuntman(STUB)

    def broken(self, ex, state):
        raise RuntimeError("template blew up")

    monkeypatch.setattr(StubResponder, "respond", broken)
    data = raw_exchange(st.port, b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
    [(status, headers, body)] = parse_responses(data)
    assert status == 500 and headers["connection"] == "close"
    assert b"stub hello failed to render" in body and b"template blew up" in body


def test_an_internal_error_in_a_parser_callback_answers_500_and_closes(stuntman, monkeypatch):
    st = stuntman(STUB)

    def broken(self, target):
        raise ValueError("bug")

    monkeypatch.setattr(Exchange, "set_target", broken)
    data = raw_exchange(st.port, b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
    [(status, _, body)] = parse_responses(data)
    assert status == 500 and b"internal error" in body


def test_a_faker_provider_that_needs_arguments_is_a_load_error(tmp_path):
    stubs = write_stubs(tmp_path / "s", {"f.yaml": """
        - request: {path: /f}
          response:
            body: "{{faker.format}}"
    """})
    result = run_cli("validate", str(stubs))
    assert result.returncode == 1
    assert "f.yaml:4: [0].response.body: faker provider 'format' cannot be called without arguments" in result.stdout


def test_a_failure_to_record_an_exchange_still_answers_the_client(stuntman, monkeypatch, tmp_path):
    """Recording writes the exchange before the client hears back. A bug while building the
    record used to leave the client waiting for ever; it is logged, the journal says
    `record-failed`, and the response goes out."""
    import json

    from conftest import Upstream, call
    from stuntman.record.recorder import Recorder

    def broken(self, *args, **kwargs):
        raise RuntimeError("recorder bug")

    monkeypatch.setattr(Recorder, "exchange", broken)
    up = Upstream()
    try:
        st = stuntman({}, upstream=up.url, recordings=tmp_path, record_to="r", admin_port=0)
        status, _, body = call(st.port, "GET", "/items?page=1")
        assert status == 200 and body
        _, _, journal = call(st.server.admin_port, "GET", "/__admin/requests")
        [entry] = json.loads(journal)["requests"]
        assert entry["error"] == "record-failed", entry
    finally:
        up.stop()
