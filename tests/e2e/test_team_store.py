"""A team on one Redis: two real proxies, one conversation alternating between them."""

from __future__ import annotations

import json

import anthropic
import pytest

from tests.e2e.test_faults import HIDDEN, sent_result, turns
from tests.e2e.test_prefix_stability import messages_prefix
from tests.e2e.test_retrieval import MARKER
from tests.support.mock_provider import Received, Reply, anthropic_reply
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

        def respond(request: Received) -> Reply | None:
            last = request.json["messages"][-1]["content"]
            if isinstance(last, list) and last[0].get("tool_use_id") == "toolu_team":
                return anthropic_reply([{"type": "text", "text": "done"}], "end_turn", False)
            call = {"type": "tool_use", "id": "toolu_team", "name": "headroom_retrieve", "input": {"id": marker, "query": "0137"}}
            return anthropic_reply([call], "tool_use", False)

        mock.responder = respond
        with proxies[0].client_env(monkeypatch):  # turn 1 went through proxies[1]: this is the other one
            message = anthropic.Anthropic(api_key="sk-ant-team", max_retries=0).messages.create(model="claude-test", max_tokens=16, messages=turns(10))
        assert message.content[0].text == "done"
        follow_up = mock.llm_requests()[-1]
        assert HIDDEN in json.dumps(follow_up.json["messages"][-1])
    finally:
        redis.stop()
