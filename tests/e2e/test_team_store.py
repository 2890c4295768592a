"""A team on one Redis: two real proxies, one conversation alternating between them."""

from __future__ import annotations

import json
import time

import anthropic
import pytest

from tests.e2e.test_faults import HIDDEN, sent_result, turns
from tests.e2e.test_prefix_stability import messages_prefix
from tests.e2e.test_retrieval import MARKER
from tests.support.mock_provider import Received, Reply, anthropic_reply, anthropic_retrieving_model
from tests.support.redis_server import redis_server_binary, start_redis_server

pytestmark = pytest.mark.skipif(redis_server_binary() is None, reason="redis-server not installed")


def test_a_conversation_alternating_between_two_proxies_keeps_its_prefix(make_proxy, mock, monkeypatch, tmp_path):
    """Ten turns, odd ones through proxy A and even ones through B (each with its own home, salt
    and memo on disk): every forwarded body extends the previous one byte for byte, and a
    retrieve through B finds an original that A stored."""
    redis = start_redis_server(tmp_path / "redis")
    try:
        proxies = [make_proxy(f"headroom_redis_url={redis.url}"), make_proxy(f"headroom_redis_url={redis.url}")]
        forwarded: list[Received] = []
        for turn in range(1, 11):
            proxy = proxies[turn % 2]
            with proxy.client_env(monkeypatch):
                anthropic.Anthropic(api_key="sk-ant-team", max_retries=0).messages.create(model="claude-test", max_tokens=16, messages=turns(turn))
            forwarded.append(mock.llm_requests()[-1])
        for previous, current in zip(forwarded, forwarded[1:]):
            assert current.raw.startswith(messages_prefix(previous.raw)), "a forwarded message changed between proxies"
        assert MARKER.search(sent_result(forwarded[-1], 2))  # folded on the first turn, still as then

        marker = MARKER.search(sent_result(forwarded[0], 2)).group(1)  # stored by proxy A (turn 1)

        mock.responder = anthropic_retrieving_model("toolu_team", "done", False, marker=marker, query="0137")
        with proxies[0].client_env(monkeypatch):  # turn 1 went through proxies[1]: this is the other one
            message = anthropic.Anthropic(api_key="sk-ant-team", max_retries=0).messages.create(model="claude-test", max_tokens=16, messages=turns(10))
        assert message.content[0].text == "done"
        follow_up = mock.llm_requests()[-1]
        assert HIDDEN in json.dumps(follow_up.json["messages"][-1])
    finally:
        redis.stop()


def test_redis_stopped_and_started_mid_conversation_between_two_proxies(make_proxy, mock, monkeypatch, tmp_path):
    """Redis goes away after turn 4 and comes back (empty, as after a crash) after turn 6, while
    the conversation alternates between two proxies: every turn is answered, nothing is folded
    without a kept original, and once Redis is back the proxies agree again."""
    redis = start_redis_server(tmp_path / "redis")
    try:
        proxies = [make_proxy(f"headroom_redis_url={redis.url}"), make_proxy(f"headroom_redis_url={redis.url}")]
        forwarded: list[Received] = []
        for turn in range(1, 13):
            if turn == 5:
                redis.stop()
            if turn == 7:
                redis.start_again()
                time.sleep(5.2)  # each backend waits out its cooldown (5 s) before it tries Redis again
            with proxies[turn % 2].client_env(monkeypatch):
                anthropic.Anthropic(api_key="sk-ant-team", max_retries=0).messages.create(model="claude-test", max_tokens=16, messages=turns(turn))
            forwarded.append(mock.llm_requests()[-1])
        extends = [current.raw.startswith(messages_prefix(previous.raw)) for previous, current in zip(forwarded, forwarded[1:])]
        print("turn-to-turn prefix kept:", extends)
        assert all(extends[:3]), "before the outage the proxies agree"
        assert all(extends[-3:]), "after Redis is back the proxies agree again"
        for request in forwarded[4:6]:  # during the outage: no new fold (its original could not be kept)
            assert not MARKER.search(sent_result(request, len(request.json["messages"]) - 1))
        # every marker of the last request answers, through either proxy (re-sent originals are stored again)
        last = forwarded[-1]
        markers = sorted({m.group(1) for m in MARKER.finditer(json.dumps(last.json))})
        assert markers

        def respond(request: Received) -> Reply | None:
            content = request.json["messages"][-1]["content"]
            if isinstance(content, list) and str(content[0].get("tool_use_id", "")).startswith("toolu_get"):
                return anthropic_reply([{"type": "text", "text": "done"}], "end_turn", False)
            calls = [{"type": "tool_use", "id": f"toolu_get{i}", "name": "headroom_retrieve", "input": {"id": m}} for i, m in enumerate(markers)]
            return anthropic_reply(calls, "tool_use", False)

        mock.responder = respond
        for proxy in proxies:
            with proxy.client_env(monkeypatch):
                anthropic.Anthropic(api_key="sk-ant-team", max_retries=0).messages.create(model="claude-test", max_tokens=16, messages=turns(12))
            answers = [b["content"] for b in mock.llm_requests()[-1].json["messages"][-1]["content"]]
            assert len(answers) == len(markers) and not any("cannot be fetched" in str(a) or "unknown" in str(a).lower() for a in answers), answers
    finally:
        redis.stop()
