"""The official SDKs, with their default base URLs, through a real mitmdump running Headroom."""

from __future__ import annotations

import json
import os
import ssl

import anthropic
import httpx
import openai
import pytest

from tests.support.bodies import anthropic_tool_turn, noisy_log, openai_tool_turn

NEEDLE = "ERROR payment-service: card declined for order 48213"


def test_anthropic_non_streaming_body_is_compressed_and_answer_intact(proxy, mock, monkeypatch):
    output = noisy_log()
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
        message = client.messages.create(model="claude-test", max_tokens=64, messages=anthropic_tool_turn(output))
    assert message.content[0].text.startswith("mock received")
    [seen] = mock.llm_requests()
    body = seen.json
    sent = body["messages"][2]["content"][0]["content"]
    assert len(seen.body) < len(json.dumps(anthropic_tool_turn(output))) / 3
    assert NEEDLE in sent and "repeated 299 more times" in sent
    assert body["messages"][:2] == anthropic_tool_turn(output)[:2]
    assert message.content[0].text == f"mock received {len(seen.body)} bytes"


def test_anthropic_streaming_events_arrive_intact_and_in_order(proxy, mock, monkeypatch):
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0)
        with client.messages.stream(model="claude-test", max_tokens=64, messages=anthropic_tool_turn(noisy_log())) as stream:
            kinds = [event.type for event in stream]
            text = stream.get_final_text()
    [seen] = mock.llm_requests()
    assert text == f"mock received {len(seen.body)} bytes"
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 1
    assert NEEDLE in seen.json["messages"][2]["content"][0]["content"]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_chat_completions(proxy, mock, monkeypatch, stream):
    with proxy.client_env(monkeypatch):
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        response = client.chat.completions.create(model="gpt-test", messages=openai_tool_turn(noisy_log()), stream=stream)
        text = "".join(c.choices[0].delta.content or "" for c in response) if stream else response.choices[0].message.content
    [seen] = mock.llm_requests()
    assert text == f"mock received {len(seen.body)} bytes"
    tool_text = seen.json["messages"][3]["content"]
    assert NEEDLE in tool_text and len(tool_text) < len(noisy_log()) / 3


def test_openai_responses_streaming(proxy, mock, monkeypatch):
    items = [
        {"role": "user", "content": "why did the payment fail?"},
        {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": json.dumps({"command": ["cat", "app.log"]})},
        {"type": "function_call_output", "call_id": "call_1", "output": noisy_log()},
    ]
    with proxy.client_env(monkeypatch):
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        events = list(client.responses.create(model="gpt-test", input=items, stream=True))
    [seen] = mock.llm_requests()
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == f"mock received {len(seen.body)} bytes"
    assert NEEDLE in seen.json["input"][2]["output"] and len(seen.json["input"][2]["output"]) < len(noisy_log()) / 3


@pytest.mark.parametrize("method", ["generateContent", "streamGenerateContent?alt=sse"])
def test_gemini(proxy, mock, monkeypatch, method):
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "why did the payment fail?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "read_log", "args": {"path": "app.log"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "read_log", "response": {"output": noisy_log()}}}]},
        ]
    }
    with proxy.client_env(monkeypatch), httpx.Client() as client:
        url = f"https://generativelanguage.googleapis.com/v1beta/models/gemini-test:{method}"
        response = client.post(url, json=body, headers={"x-goog-api-key": "test"})
    assert response.status_code == 200
    [seen] = mock.llm_requests()
    output = seen.json["contents"][2]["parts"][0]["functionResponse"]["response"]["output"]
    assert NEEDLE in output and len(output) < len(noisy_log()) / 3
    if "sse" in method:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.text.count("data: ") == len("mock received 0 bytes".split())


def test_user_added_openai_compatible_host_is_compressed(proxy, mock, monkeypatch):
    with proxy.client_env(monkeypatch):
        client = openai.OpenAI(api_key="sk-test", base_url="https://api.deepseek.com/v1", max_retries=0)
        client.chat.completions.create(model="deepseek-chat", messages=openai_tool_turn(noisy_log()))
    [seen] = mock.llm_requests()
    assert len(seen.json["messages"][3]["content"]) < len(noisy_log()) / 3


def test_non_llm_host_is_tunnelled_not_intercepted(proxy, other_server, monkeypatch, upstream_tls):
    """The client sees the real server's certificate: trusting only the upstream CA works,
    and the body arrives byte for byte."""
    other_server.received.clear()
    body = json.dumps({"messages": anthropic_tool_turn(noisy_log())}).encode()
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(upstream_tls.ca_cert))) as client:
        response = client.post("https://untouched.example.org/v1/messages", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert other_server.received[-1].raw == body


def test_llm_host_is_intercepted_with_the_headroom_ca(proxy, mock, upstream_tls):
    """Counter-check for the test above: an intercepted host is served with Headroom's CA."""
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(upstream_tls.ca_cert))) as client:
        with pytest.raises(httpx.ConnectError):
            client.post("https://api.anthropic.com/v1/messages", json={})


def test_openai_responses_over_websocket(proxy, mock, monkeypatch):
    """Codex speaks the Responses API over a WebSocket first: its `response.create` messages
    are rewritten like HTTP bodies, and the server's events come back untouched."""
    from websockets.sync.client import connect

    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "why did the payment fail?"}]},
        {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": json.dumps({"command": ["cat", "app.log"]})},
        {"type": "function_call_output", "call_id": "call_1", "output": noisy_log()},
    ]
    message = json.dumps({"type": "response.create", "model": "gpt-test", "input": items})
    with proxy.client_env(monkeypatch):
        verify = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
        with connect("wss://api.openai.com/v1/responses", ssl=verify, additional_headers={"authorization": "Bearer sk-test"}) as ws:
            ws.send(message)
            events = []
            while not events or events[-1]["type"] != "response.completed":
                events.append(json.loads(ws.recv(timeout=10)))
    [seen] = mock.llm_requests()
    assert seen.method == "WS"
    sent = seen.json["input"][2]["output"]
    assert NEEDLE in sent and len(sent) < len(noisy_log()) / 3
    assert seen.json["input"][:2] == items[:2]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == f"mock received {len(seen.body)} bytes"


def test_openai_requests_get_one_prompt_cache_key_per_conversation(proxy, mock, monkeypatch):
    first = [{"role": "user", "content": "summarise the build"}]
    later = first + [{"role": "assistant", "content": "It failed."}, {"role": "user", "content": "why?"}]
    other = [{"role": "user", "content": "a different conversation"}]
    with proxy.client_env(monkeypatch):
        client = openai.OpenAI(api_key="sk-test", max_retries=0)
        for messages in (first, later, other):
            client.chat.completions.create(model="gpt-test", messages=messages)
        client.chat.completions.create(model="gpt-test", messages=first, prompt_cache_key="mine")
        compatible = openai.OpenAI(api_key="sk-test", base_url="https://api.deepseek.com/v1", max_retries=0)
        compatible.chat.completions.create(model="deepseek-chat", messages=first)
    keys = [r.json.get("prompt_cache_key") for r in mock.llm_requests()]
    assert keys[0] == keys[1] and keys[0].startswith("headroom-")  # stable across turns
    assert keys[2] != keys[0]  # another conversation
    assert keys[3] == "mine"  # the client's own key is left alone
    assert keys[4] is None  # only OpenAI's own API gets one
