"""gRPC replay's modes (strict, spy, record-missing), recorded latency, what cannot be recorded or
replayed, `stubs from-recording` and the commands, end to end with the upstreams and clients of
test_grpc_record.py."""
from __future__ import annotations

import json

import grpc
import pytest

from conftest import GRPC_COMMON as COMMON
from conftest import GRPC_PROTOS as PROTOS
from conftest import until
from stuntman.record.recorder import read_index
from test_grpc_record import PROTO, EchoUpstream, channel_to, get, recorded, shop, shop_calls, written

__all__ = ["shop"]  # (a fixture, used by name)


def record_first_order(stuntman, generated, shop, tmp_path) -> None:
    """GetOrder(o-1) passed through to shop (its first call: "1") into the recording `shop`."""
    pb, pb_grpc = generated
    rec = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, record_to="shop", **PROTO)
    with channel_to(rec) as channel:
        assert get(channel, pb, pb_grpc, "o-1") == "1"
    written(tmp_path / "shop", 1)


# -- the modes ----------------------------------------------------------------------------------

def test_strict_answers_what_was_not_recorded_itself_and_spy_passes_it_on(stuntman, generated, shop, tmp_path):
    pb, pb_grpc = generated
    record_first_order(stuntman, generated, shop, tmp_path)
    # strict, even with a gRPC upstream given: NOT_FOUND naming the recorded call nearest
    strict = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, replay=("shop",), **PROTO)
    with channel_to(strict) as channel:
        assert get(channel, pb, pb_grpc, "o-1") == "1"
        with pytest.raises(grpc.RpcError) as caught:
            pb_grpc.OrdersStub(channel).GetOrder(pb.GetOrderRequest(id="o-9"), timeout=10)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    assert "nearest: shop#1: body: " in caught.value.details()  # type: ignore[attr-defined]
    spy = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, replay=("shop",),
                   replay_mode="spy", **PROTO)
    with channel_to(spy) as channel:
        # the recorded call from the recording; the other from the upstream (its second call: strict sent none)
        assert [get(channel, pb, pb_grpc, id_) for id_ in ("o-1", "o-9", "o-1")] == ["1", "2", "1"]
    assert len(read_index(tmp_path / "shop")) == 1  # spy records nothing


def test_request_fields_given_to_ignore_body_are_not_matched_on(stuntman, generated, shop, tmp_path):
    pb, pb_grpc = generated
    record_first_order(stuntman, generated, shop, tmp_path)
    shop.stop()
    exact = stuntman({}, grpc_port=0, recordings=tmp_path, replay=("shop",), **PROTO)
    ignoring = stuntman({}, grpc_port=0, recordings=tmp_path, replay=("shop",), replay_ignore_body=("$.id",), **PROTO)
    with channel_to(exact) as one, channel_to(ignoring) as other:
        assert [get(one, pb, pb_grpc, "o-99"), get(other, pb, pb_grpc, "o-99")] == ["NOT_FOUND", "1"]


def test_record_missing_passes_what_was_not_recorded_records_it_and_replays_it(stuntman, generated, shop, tmp_path):
    pb, pb_grpc = generated
    record_first_order(stuntman, generated, shop, tmp_path)
    missing = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, replay=("shop",),
                       replay_mode="record-missing", **PROTO)
    with channel_to(missing) as channel:
        assert [get(channel, pb, pb_grpc, id_) for id_ in ("o-1", "o-9")] == ["1", "2"]
        written(tmp_path / "shop", 2)
        shop.stop()  # from here on, o-9 is answered from the recording (once it is reloaded)
        until(lambda: get(channel, pb, pb_grpc, "o-9") == "2", "o-9 replayed from the recording")
        assert get(channel, pb, pb_grpc, "o-1") == "1"
    assert recorded(tmp_path / "shop")[1]["messages"][0]["json"] == {"id": "o-9"}


def test_http_exchanges_and_grpc_calls_share_one_recording_and_replay_together(stuntman, generated, shop, upstream,
                                                                               tmp_path):
    from conftest import call

    pb, pb_grpc = generated
    rec = stuntman({}, upstream=upstream.url, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path,
                   record_to="mixed", **PROTO)
    status, _, body = call(rec.port, "GET", "/items?page=2")
    with channel_to(rec) as channel:
        assert get(channel, pb, pb_grpc, "o-1") == "1"
    written(tmp_path / "mixed", 2)
    assert [(line["seq"], line.get("protocol")) for line in read_index(tmp_path / "mixed")] == [(1, None), (2, "grpc")]
    shop.stop()
    replay = stuntman({}, grpc_port=0, recordings=tmp_path, replay=("mixed",), **PROTO)
    assert call(replay.port, "GET", "/items?page=2")[::2] == (status, body)
    with channel_to(replay) as channel:
        assert get(channel, pb, pb_grpc, "o-1") == "1"
    # a replay: stub answers the HTTP requests it matches, and its recording's calls join the table as gRPC stubs
    stubbed = stuntman({"r.yaml": "request: {pathPrefix: /items}\nreplay: {recording: mixed}\n"}, grpc_port=0,
                       recordings=tmp_path, **PROTO)
    assert call(stubbed.port, "GET", "/items?page=2")[::2] == (status, body)
    with channel_to(stubbed) as channel:
        assert get(channel, pb, pb_grpc, "o-1") == "1"
        assert get(channel, pb, pb_grpc, "o-2") == "NOT_FOUND"  # (not recorded: as any call no stub matches)


def test_recorded_latency_is_replayed_when_asked(stuntman, generated, shop, tmp_path):
    import time

    pb, pb_grpc = generated
    rec = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path, record_to="slow", **PROTO)
    with channel_to(rec) as channel:
        assert [e.kind for e in pb_grpc.OrdersStub(channel).WatchOrder(pb.GetOrderRequest(id="slow"), timeout=10)] \
            == ["placed", "packed", "shipped"]
    written(tmp_path / "slow", 1)
    shop.stop()
    replay = stuntman({}, grpc_port=0, recordings=tmp_path, replay=("slow",), replay_latency="recorded", **PROTO)
    with channel_to(replay) as channel:
        start = time.monotonic()
        times = [time.monotonic() - start
                 for _ in pb_grpc.OrdersStub(channel).WatchOrder(pb.GetOrderRequest(id="slow"), timeout=10)]
    # the upstream waited 300 ms before its first message and 100 ms before each other (lower bounds only)
    assert times[0] >= 0.3 * 0.9 and times[2] >= 0.5 * 0.9


# -- what cannot be recorded, what cannot be replayed ---------------------------------------------

def test_a_call_whose_messages_were_not_all_kept_is_not_recorded(stuntman, tmp_path):
    echo = EchoUpstream()
    try:
        rec = stuntman({}, grpc_port=0, grpc_upstream=echo.target, recordings=tmp_path, record_to="big",
                       max_body_bytes=1000, journal_body_bytes=100, admin_port=0)
        with channel_to(rec) as channel:
            # 1,200 bytes each way, more than is kept of a call (--max-body-bytes), in messages under it
            big = list(channel.stream_stream("/test.Echo/Bidi")(iter([b"a" * 400] * 3), timeout=10))
            small = channel.unary_unary("/test.Echo/Unary")(b"s", timeout=10)
        written(tmp_path / "big", 1)
    finally:
        echo.stop()
    assert big == [b"A" * 400] * 3 and small == b"echo:s"
    [only] = recorded(tmp_path / "big")  # (the calls are written in turn: the small one came after)
    assert only["request"]["method"] == "/test.Echo/Unary"
    from test_grpc_proxy import journal

    entries = {e["request"]["url"]: e for e in journal(rec)}
    assert entries["/test.Echo/Bidi"]["error"] == "record-failed"
    # the journal keeps its own budget of each call's messages (100 bytes), whatever the recording needed
    assert entries["/test.Echo/Bidi"]["grpc"]["messagesTruncated"]
    assert entries["/test.Echo/Bidi"]["grpc"]["messages"] == []
    assert entries["/test.Echo/Unary"]["error"] is None and len(entries["/test.Echo/Unary"]["grpc"]["messages"]) == 2


def test_a_recorded_call_that_cannot_be_replayed_is_named_with_its_file(stuntman, generated, shop, tmp_path):
    pb, pb_grpc = generated
    record_first_order(stuntman, generated, shop, tmp_path)
    [file] = (tmp_path / "shop" / "exchanges").iterdir()
    record = json.loads(file.read_text())
    record["messages"][1]["json"]["colour"] = "red"  # (edited by hand: no such field)
    file.write_text(json.dumps(record))
    with pytest.raises(Exception) as caught:
        stuntman({}, grpc_port=0, recordings=tmp_path, replay=("shop",), **PROTO)
    assert f"shop/exchanges/{file.name}" in str(caught.value) and "colour" in str(caught.value)
    with pytest.raises(Exception) as caught:  # recorded with --proto, replayed without
        stuntman({}, grpc_port=0, recordings=tmp_path, replay=("shop",))
    assert f"shop/exchanges/{file.name}" in str(caught.value) and "--proto" in str(caught.value)


# -- stubs from-recording -------------------------------------------------------------------------

def test_stubs_from_a_recording_are_editable_json_and_answer_as_the_upstream_did(stuntman, generated, shop, tmp_path):
    import yaml

    from conftest import run_cli

    pb, pb_grpc = generated
    rec = stuntman({}, grpc_port=0, grpc_upstream=shop.target, recordings=tmp_path / "rec", record_to="shop",
                   **PROTO)
    with channel_to(rec) as channel:
        originals = shop_calls(channel, pb, pb_grpc)
    written(tmp_path / "rec" / "shop", len(originals))
    shop.stop()
    out = tmp_path / "stubs"
    args = ("stubs", "from-recording", "shop", "--out", str(out), "--recordings", str(tmp_path / "rec"))
    refused = run_cli(*args)  # its messages are JSON: the .proto they were read with is needed
    assert refused.returncode == 2 and "give the same --proto" in refused.stderr and not out.exists()
    result = run_cli(*args, "--proto", str(PROTOS), "--proto-include", str(COMMON))
    assert result.returncode == 0, result.stderr
    text = (out / "shop.yaml").read_text()
    stubs = yaml.safe_load(text)
    assert result.stdout.strip() == f"wrote {len(stubs)} stub(s) to {out / 'shop.yaml'}"
    assert "rawMessages" not in text and "base64" not in text  # messages as a person writes them
    first = stubs[0]
    assert first["request"] == {"grpc": {"service": "shop.v1.Orders", "method": "GetOrder"},
                                "body": {"json": {"id": "o-1"}}}
    assert first["grpc"]["message"]["labels"] == {"call": "1"} and first["newState"] == "answer 2"
    assert first["grpc"]["metadata"] == {"x-upstream": "shop", "x-shard-bin": "AAc="}
    served = stuntman({"shop.yaml": text}, grpc_port=0, **PROTO)
    with channel_to(served) as channel:
        again = shop_calls(channel, pb, pb_grpc)
    for original, replayed in zip(originals, again, strict=True):
        assert replayed == original


# -- the command line ---------------------------------------------------------------------------

def test_record_and_replay_commands_take_a_grpc_upstream_alone(tmp_path):
    import subprocess

    from conftest import ROOT, STUNTMAN, free_port, stop_process, wait_port

    def start(*args: str) -> tuple[subprocess.Popen, int]:
        port = free_port()
        proc = subprocess.Popen([*STUNTMAN, *args, "--recordings", str(tmp_path), "--port", str(free_port()),
                                 "--admin-port", str(free_port()), "--grpc-port", str(port), "--no-watch"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        wait_port(port, proc=proc)
        return proc, port
    echo = EchoUpstream()
    try:
        proc, port = start("record", "--to", "cli", "--grpc-upstream", echo.target)
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                assert channel.unary_unary("/test.Echo/Unary")(b"cli", timeout=10) == b"echo:cli"
            written(tmp_path / "cli", 1)
        finally:
            stop_process(proc)
    finally:
        echo.stop()
    assert f"recording into {tmp_path / 'cli'}" in proc.stdout.read()  # type: ignore[union-attr]
    proc, port = start("replay", "cli")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            assert channel.unary_unary("/test.Echo/Unary")(b"cli", timeout=10) == b"echo:cli"
    finally:
        stop_process(proc)
