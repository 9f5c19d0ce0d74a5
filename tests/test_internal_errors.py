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
