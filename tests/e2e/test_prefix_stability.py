"""Cache safety: a growing conversation's forwarded bodies extend each other byte for byte,
across a proxy restart, and compression never stalls other flows."""

from __future__ import annotations

import json
import threading
import time

import anthropic

from tests.support.bodies import anthropic_tool_turn, growing_anthropic_conversation, noisy_log, without_placed_breakpoints
from tests.support.mock_provider import Received, Reply, text_reply


def messages_prefix(raw: bytes) -> bytes:
    """The forwarded bytes up to the end of the last message (the `]` of messages excluded),
    without the breakpoints Headroom placed (the tail one moves each turn, as a client's does)."""
    raw = without_placed_breakpoints(raw)
    text = raw.decode()
    start = text.index('"messages":') + len('"messages":')
    while text[start] in " \n":
        start += 1
    _, end = json.JSONDecoder().raw_decode(text, start)
    return raw[: len(text[: end - 1].encode())]


def test_ten_turn_conversation_keeps_its_forwarded_prefix_across_a_restart(make_proxy, mock, monkeypatch):
    proxy = make_proxy()
    forwarded: list[Received] = []
    requests = growing_anthropic_conversation(10)
    for turn, messages in enumerate(requests):
        if turn == 5:
            proxy.restart()  # decisions must come back from the store, not memory
        with proxy.client_env(monkeypatch):
            client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
            client.messages.create(model="claude-test", max_tokens=16, messages=messages)
        forwarded.append(mock.llm_requests()[-1])
    for previous, current in zip(forwarded, forwarded[1:]):
        prefix = messages_prefix(previous.raw)
        assert without_placed_breakpoints(current.raw).startswith(prefix), "a forwarded message changed between turns"
    # and it was compressed all along, not trivially stable
    last_sent = forwarded[-1].json["messages"]
    for original, sent in zip(requests[-1], last_sent):
        if original["role"] == "user" and isinstance(original["content"], list):
            assert len(sent["content"][0]["content"]) < len(original["content"][0]["content"]) / 3
            assert "card declined" in sent["content"][0]["content"]


def test_compression_runs_off_the_event_loop(make_proxy, mock, monkeypatch):
    """While one request's compression takes 1.5 s, another flow's SSE events keep flowing."""
    proxy = make_proxy("reroute_slow_compress_ms=1500")

    def respond(request: Received) -> Reply | None:
        if request.json.get("metadata", {}).get("user_id") == "streamer":
            reply = text_reply("anthropic", " ".join(f"w{i}" for i in range(30)), stream=True)
            reply.event_delay_s = 0.1
            return reply
        return None

    mock.responder = respond
    arrivals: list[float] = []

    def stream() -> None:
        client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
        with client.messages.stream(
            model="claude-test", max_tokens=16, metadata={"user_id": "streamer"}, messages=[{"role": "user", "content": "hi"}]
        ) as s:
            for _ in s:
                arrivals.append(time.monotonic())

    with proxy.client_env(monkeypatch):
        streamer = threading.Thread(target=stream)
        streamer.start()
        time.sleep(0.5)
        client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
        started = time.monotonic()
        client.messages.create(model="claude-test", max_tokens=16, messages=anthropic_tool_turn(noisy_log()))
        slow_took = time.monotonic() - started
        streamer.join(30)
    assert slow_took >= 1.5  # the slow compressor really ran
    during = [t for t in arrivals if started < t < started + slow_took]
    assert len(during) >= 5, "the stream stalled while another request was being compressed"
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert max(gaps) < 1.0
