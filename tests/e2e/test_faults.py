"""Faults through real mitmdump: the proxy killed and restarted, the Redis store stopped and
started again, a slow provider, a client that leaves mid-stream."""

from __future__ import annotations

import json
import os
import signal
import ssl
import threading
import time

import anthropic
import httpx
import pytest

from tests.e2e.test_prefix_stability import messages_prefix
from tests.e2e.test_retrieval import MARKER, anthropic_messages, streamed_retrieving_model, verbose_pytest
from tests.support.mock_provider import Received, Reply, anthropic_reply
from tests.support.redis_server import redis_server_binary, start_redis_server

HIDDEN = "tests/test_billing.py::test_invoice_total_0137 PASSED"


def turns(n: int) -> list[dict]:
    """A conversation of n pytest runs, each output different (all but the last already answered)."""
    messages: list[dict] = [{"role": "user", "content": "fix the failing billing test"}]
    for k in range(n):
        messages.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"toolu_{k}", "name": "Bash", "input": {"command": f"pytest -v -k run{k}"}}]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{k}", "content": verbose_pytest().replace("3.21s", f"{k}.21s")}]})
    return messages


def send(proxy, monkeypatch, messages: list[dict]) -> None:
    with proxy.client_env(monkeypatch):
        anthropic.Anthropic(api_key="sk-ant-faults", max_retries=0).messages.create(model="claude-test", max_tokens=16, messages=messages)


def sent_result(request: Received, index: int) -> str:
    return request.json["messages"][index]["content"][0]["content"]


def test_sigkill_and_restart_lose_nothing(make_proxy, mock, monkeypatch):
    """Killed with SIGKILL mid-conversation: after a restart the earlier turn goes out with the
    same bytes (the memo is on disk) and its original is still retrievable (so is the store)."""
    proxy = make_proxy()
    send(proxy, monkeypatch, turns(1))
    first = mock.llm_requests()[-1]
    assert MARKER.search(sent_result(first, 2))
    os.kill(proxy.process.pid, signal.SIGKILL)
    proxy.process.wait(timeout=10)
    proxy.start()

    def respond(request: Received) -> Reply | None:
        last = request.json["messages"][-1]["content"]
        if isinstance(last, list) and last[0].get("tool_use_id") == "toolu_r":
            return anthropic_reply([{"type": "text", "text": "done"}], "end_turn", False)
        marker = MARKER.search(sent_result(request, 2)).group(1)  # the turn from before the kill
        return anthropic_reply([{"type": "tool_use", "id": "toolu_r", "name": "headroom_retrieve", "input": {"id": marker, "query": "0137"}}], "tool_use", False)

    mock.responder = respond
    send(proxy, monkeypatch, turns(2))
    second, follow_up = mock.llm_requests()[-2:]
    assert second.raw.startswith(messages_prefix(first.raw))  # the same bytes after the restart
    assert HIDDEN in follow_up.json["messages"][-1]["content"][0]["content"]


@pytest.mark.skipif(redis_server_binary() is None, reason="redis-server not installed")
def test_redis_outage_keeps_sent_bytes_and_recovers_without_a_restart(make_proxy, mock, monkeypatch, tmp_path):
    redis = start_redis_server(tmp_path / "redis")
    try:
        proxy = make_proxy(f"headroom_redis_url={redis.url}")
        send(proxy, monkeypatch, turns(1))
        first = mock.llm_requests()[-1]
        assert MARKER.search(sent_result(first, 2))
        redis.stop()
        send(proxy, monkeypatch, turns(2))
        during = mock.llm_requests()[-1]
        assert during.raw.startswith(messages_prefix(first.raw))  # folded before: the same bytes
        assert not MARKER.search(sent_result(during, 4))  # no fold without a store to keep its original
        redis.start_again()
        time.sleep(5.2)  # the backend waits out its cooldown (5 s) before it tries a failed server again
        send(proxy, monkeypatch, turns(3))
        after = mock.llm_requests()[-1]
        assert after.raw.startswith(messages_prefix(during.raw))
        assert MARKER.search(sent_result(after, 6))  # folds again, without a restart
    finally:
        redis.stop()


def test_a_slow_provider_does_not_hold_up_other_flows(proxy, mock):
    """A request whose first byte takes 3 s leaves another client's request unaffected."""

    def respond(request: Received) -> Reply | None:
        slow = "slow" in json.dumps(request.json["messages"][0])
        return Reply(json=anthropic_reply([{"type": "text", "text": "ok"}], "end_turn", False).json, delay_s=3.0 if slow else 0.0)

    mock.responder = respond
    verify = ssl.create_default_context(cafile=str(proxy.ca.cert))
    headers = {"x-api-key": "sk-ant-faults", "anthropic-version": "2023-06-01"}

    def post(text: str) -> float:
        started = time.monotonic()
        with httpx.Client(proxy=proxy.url, verify=verify, timeout=30) as client:
            body = {"model": "claude-test", "max_tokens": 8, "messages": [{"role": "user", "content": text}]}
            assert client.post("https://api.anthropic.com/v1/messages", json=body, headers=headers).status_code == 200
        return time.monotonic() - started

    slow = threading.Thread(target=post, args=("slow please",))
    slow.start()
    time.sleep(0.3)
    assert post("quick") < 1.5
    slow.join()


def test_a_client_leaving_mid_stream_leaves_the_proxy_serving(proxy, mock, monkeypatch):
    """The client drops a streamed retrieval after its first event; the next stream is whole."""
    script = streamed_retrieving_model("toolu_d1", "Looking.", "found it")

    def respond(request: Received) -> Reply | None:
        reply = script(request)
        reply.event_delay_s = 0.05
        return reply

    mock.responder = respond
    verify = ssl.create_default_context(cafile=str(proxy.ca.cert))
    headers = {"x-api-key": "sk-ant-faults", "anthropic-version": "2023-06-01"}
    body = {"model": "claude-test", "max_tokens": 64, "stream": True, "messages": anthropic_messages(verbose_pytest())}
    with httpx.Client(proxy=proxy.url, verify=verify, timeout=30) as client:
        with client.stream("POST", "https://api.anthropic.com/v1/messages", json=body, headers=headers) as response:
            next(response.iter_raw())  # the first bytes, then gone
    with proxy.client_env(monkeypatch):
        client = anthropic.Anthropic(api_key="sk-ant-faults", max_retries=0)
        with client.messages.stream(model="claude-test", max_tokens=64, messages=anthropic_messages(verbose_pytest())) as stream:
            final = stream.get_final_message()
    assert [b.text for b in final.content] == ["Looking.", "found it"]
