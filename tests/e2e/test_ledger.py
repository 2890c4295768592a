"""The ledger end to end: real mitmdump, the mock provider and the official SDKs, streamed and not."""

from __future__ import annotations

import json
import os
import ssl
import time

import anthropic
import httpx
import openai

from addon.ledger.ledger_table import LedgerRow, ledger_path, read_rows
from tests.e2e.test_retrieval import anthropic_messages, verbose_pytest
from tests.support.bodies import anthropic_tool_turn, noisy_log, openai_tool_turn
from tests.support.mock_provider import Reply, anthropic_reply, anthropic_retrieving_model, text_reply

MODEL = "claude-sonnet-4-5-20250929"

CACHED_USAGE = {
    "input_tokens": 50,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 1000,
    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    "output_tokens": 20,
}


def rows_when(proxy, count: int, timeout: float = 15.0) -> list[LedgerRow]:
    deadline = time.monotonic() + timeout
    while True:
        rows = read_rows(ledger_path(proxy.home))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def cached_anthropic(request):
    if not request.path.split("?")[0].endswith("/v1/messages"):
        return None
    reply = anthropic_reply([{"type": "text", "text": "the card was declined"}], "end_turn", bool(request.json.get("stream")), model="claude-sonnet-4-5-20250929")
    if reply.json is not None:
        reply.json["usage"] = CACHED_USAGE
    else:
        start = reply.events[0][1]
        start["message"]["usage"] = {**CACHED_USAGE, "output_tokens": 1}
    return reply


def test_anthropic_rows_carry_usage_compression_and_money(make_proxy, mock, monkeypatch):
    proxy = make_proxy()
    mock.responder = cached_anthropic
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
        client.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=anthropic_tool_turn(noisy_log()))
        with client.messages.stream(model="claude-sonnet-4-5", max_tokens=16, messages=anthropic_tool_turn(noisy_log())) as stream:
            assert stream.get_final_text() == "the card was declined"
    plain, streamed = rows_when(proxy, 2)
    for row in (plain, streamed):
        assert row.provider == "anthropic" and row.model == "claude-sonnet-4-5-20250929" and row.role == "client" and row.billed
        usage = row.usage
        assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_5m_tokens, usage.cache_write_1h_tokens, usage.output_tokens) == (50, 1000, 100, 200, 20)
        assert row.segments and row.segments[0].kind == "log" and row.tokens_before > 3 * row.tokens_after > 0
        assert row.pricing.startswith("headroom-list-prices") and row.cost_usd > 0 and row.saved_usd > 0
        assert row.latency_ms > 0 and row.status == 200
    assert not plain.streamed and streamed.streamed
    assert plain.session == streamed.session  # the same conversation opening
    # the same segment, the second time replayed from the memo: priced at the cache-read rate
    assert streamed.segments[0].replayed and streamed.saved_usd < plain.saved_usd


def usage_chunks(request):
    """OpenAI Chat, with the final usage chunk when the client asked for it."""
    if not request.path.endswith("/chat/completions"):
        return None
    body = request.json
    usage = {"prompt_tokens": 900, "completion_tokens": 30, "total_tokens": 930, "prompt_tokens_details": {"cached_tokens": 600}}
    chunk = lambda delta, finish: {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1-2025-04-14", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # noqa: E731
    if not body.get("stream"):
        message = {"role": "assistant", "content": "declined"}
        return Reply(json={"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4.1-2025-04-14", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": usage})
    events = [(None, chunk({"role": "assistant", "content": "declined"}, None)), (None, chunk({}, "stop"))]
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append((None, {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1-2025-04-14", "choices": [], "usage": usage}))
    return Reply(events=events + [(None, "[DONE]")])


def test_openai_chat_streamed_and_not(make_proxy, mock, monkeypatch):
    proxy = make_proxy()
    mock.responder = usage_chunks
    with proxy.client_env(monkeypatch):
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        client.chat.completions.create(model="gpt-4.1", messages=openai_tool_turn(noisy_log()))
        chunks = list(client.chat.completions.create(model="gpt-4.1", messages=openai_tool_turn(noisy_log()), stream=True, stream_options={"include_usage": True}))
        assert chunks[-1].usage.prompt_tokens == 900
        list(client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}], stream=True))
    plain, streamed, without_usage = rows_when(proxy, 3)
    for row in (plain, streamed):
        assert row.provider == "openai_chat" and row.model == "gpt-4.1-2025-04-14"
        assert (row.usage.input_tokens, row.usage.cache_read_tokens, row.usage.output_tokens) == (300, 600, 30)
        assert row.segments and row.cost_usd > 0
    # gpt-4.1: 300 × $2 + 600 × $0.50 + 30 × $8 per million
    assert abs(plain.cost_usd - (300 * 2 + 600 * 0.5 + 30 * 8) / 1e6) < 1e-12
    assert without_usage.usage is None and without_usage.cost_usd is None and without_usage.saved_usd == 0.0


def test_streamed_bytes_reach_the_client_unchanged(make_proxy, mock, monkeypatch):
    proxy = make_proxy()
    reply = cached_anthropic(type("R", (), {"path": "/v1/messages", "json": {"stream": True}})())
    sent = b"".join(((f"event: {n}\n" if n else "") + f"data: {json.dumps(d)}\n\n").encode() for n, d in reply.events)
    mock.responder = lambda request: reply
    body = {"model": "claude-sonnet-4-5", "max_tokens": 16, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    received = []
    with httpx.Client(proxy=proxy.url, verify=str(proxy.ca.bundle)) as client:
        for _ in range(3):  # one kept-alive connection: each body must end exactly where it should
            with client.stream("POST", "https://api.anthropic.com/v1/messages", json=body, headers={"x-api-key": "k", "x-claude-code-session-id": "s-1"}) as response:
                received.append(b"".join(response.iter_raw()))
    assert received == [sent] * 3
    rows = rows_when(proxy, 3)
    assert len(rows) == 3 and all(r.streamed and r.usage.cache_read_tokens == 1000 and r.session.startswith("claude-code:") for r in rows)


def priced_responses(request):
    """Responses over WebSocket: the mock's streamed events, with a priced model and cache figures."""
    if request.method != "WS":
        return None
    reply = text_reply("openai_responses", "declined", True)
    final = reply.events[-1][1]["response"]
    final["model"] = "gpt-5-2025-08-07"
    final["usage"] = {"input_tokens": 5000, "input_tokens_details": {"cached_tokens": 4000}, "output_tokens": 30, "total_tokens": 5030}
    return reply


def test_responses_over_websocket_get_a_row_per_request(make_proxy, mock, monkeypatch):
    """Codex's transport: each `response.create` message is a request, its `response.completed` the usage."""
    from websockets.sync.client import connect

    proxy = make_proxy()
    mock.responder = priced_responses
    turn = [
        {"role": "user", "content": [{"type": "input_text", "text": "why did the payment fail?"}]},
        {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": json.dumps({"command": ["cat", "app.log"]})},
        {"type": "function_call_output", "call_id": "call_1", "output": noisy_log()},
    ]
    later = turn + [{"role": "assistant", "content": [{"type": "output_text", "text": "declined"}]}, {"role": "user", "content": [{"type": "input_text", "text": "and now?"}]}]
    with proxy.client_env(monkeypatch):
        verify = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
        headers = {"authorization": "Bearer sk-test", "session_id": "codex-session-1"}
        with connect("wss://chatgpt.com/backend-api/codex/responses", ssl=verify, additional_headers=headers) as ws:
            for items in (turn, later):  # one connection, one response at a time, as Codex does
                ws.send(json.dumps({"type": "response.create", "model": "gpt-5", "input": items}))
                while json.loads(ws.recv(timeout=10))["type"] != "response.completed":
                    pass
    first, second = rows_when(proxy, 2)
    for row in (first, second):
        assert (row.provider, row.model, row.role, row.billed, row.streamed) == ("openai_responses", "gpt-5-2025-08-07", "client", True, True)
        assert (row.usage.input_tokens, row.usage.cache_read_tokens, row.usage.output_tokens) == (1000, 4000, 30)
        assert row.cost_usd > 0 and row.session == first.session and first.session.startswith("codex:")
        assert 0 < row.ttfb_ms <= row.latency_ms
    assert first.segments[0].kind == "log" and first.saved_usd > 0 and not first.segments[0].replayed
    assert second.segments[0].replayed  # the log re-sent as history: the earlier decision replayed


def retrieving_anthropic(streamed: bool):
    """The model asks for a folded original once, then answers (a priced model)."""

    return anthropic_retrieving_model("toolu_r1", "fixed", streamed, query="0137", first_text="Let me look.", model=MODEL)


def test_retrieval_rounds_are_rows_billed_once(make_proxy, mock, monkeypatch):
    """addon/ledger/ledger_table.py: a non-streamed client row carries its rounds' usage (they are not billed
    again); a streamed one answered by the loopback responder is not billed, its follow-ups are."""
    proxy = make_proxy()
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-owner-a", max_retries=0)
        mock.responder = retrieving_anthropic(streamed=False)
        message = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=anthropic_messages(verbose_pytest()))
        assert message.content[-1].text == "fixed"
        plain = rows_when(proxy, 2)
        mock.responder = retrieving_anthropic(streamed=True)
        other = verbose_pytest().replace("billing", "shipping")  # a fresh fold, so the stream makes a round too
        with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=anthropic_messages(other)) as stream:
            assert stream.get_final_text().endswith("fixed")
    rows = rows_when(proxy, 5)
    assert len(rows) == 5
    by_role = lambda rs, role: [r for r in rs if r.role == role]  # noqa: E731
    # non-streamed: the follow-up's usage is already summed into the client row
    [client_row], [round_row] = by_role(plain, "client"), by_role(plain, "follow_up")
    assert client_row.billed and client_row.retrieval_rounds == 1 and client_row.usage.input_tokens == 200
    assert client_row.segments and client_row.saved_usd is not None
    assert round_row.retrieve_round and not round_row.billed and not round_row.streamed
    assert round_row.cost_usd > 0 and round_row.saved_usd == -round_row.cost_usd
    # streamed: the client row shows a spliced usage; each upstream round is a billed follow-up
    streamed = [r for r in rows if r not in plain]
    [client_row] = by_role(streamed, "client")
    first_round, answer_round = sorted(by_role(streamed, "follow_up"), key=lambda r: r.retrieve_round)
    assert not client_row.billed and client_row.segments
    assert first_round.billed and first_round.streamed and not first_round.retrieve_round and first_round.saved_usd == 0.0
    assert answer_round.billed and answer_round.streamed and answer_round.retrieve_round and answer_round.saved_usd == -answer_round.cost_usd
    assert len({r.session for r in streamed}) == 1
