"""Provider shapes of retrieval rounds: calls, follow-up bodies, merged responses."""

from __future__ import annotations

import json

from addon.providers import provider_named
from addon.retrieval.retrieval_rounds import RetrieveCall

ID = "0123456789abcdef01234567"
ANTHROPIC = {
    "content": [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "t1", "name": "headroom_retrieve", "input": {"id": ID, "query": "ERROR"}},
        {"type": "tool_use", "id": "t2", "name": "Read", "input": {"file_path": "x.py"}},
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 100, "output_tokens": 10, "cache_read_input_tokens": 50},
}
CHAT = {
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "headroom_retrieve", "arguments": json.dumps({"id": ID})}},
        {"id": "c2", "type": "function", "function": {"name": "shell", "arguments": "{}"}},
    ]}}],
    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
}  # fmt: skip


def test_retrieve_calls() -> None:
    assert provider_named("anthropic").retrieve_calls(ANTHROPIC, "headroom_retrieve") == [RetrieveCall("t1", ID, "ERROR")]
    assert provider_named("openai_chat").retrieve_calls(CHAT, "headroom_retrieve") == [RetrieveCall("c1", ID, None)]
    assert provider_named("anthropic").retrieve_calls(ANTHROPIC, "headroom_retrieve_2") == []


def test_follow_up_extends_the_forwarded_body_and_drops_client_tool_calls() -> None:
    body = '{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}'
    out = provider_named("anthropic").follow_up_body(body, ANTHROPIC, "headroom_retrieve", {"t1": "the original"})
    assert out.startswith('{"model": "m", "messages": [{"role": "user", "content": "hi"}')
    messages = json.loads(out)["messages"]
    assert [b.get("name") for b in messages[1]["content"] if b["type"] == "tool_use"] == ["headroom_retrieve"]
    assert messages[2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "the original"}]}
    chat = json.loads(provider_named("openai_chat").follow_up_body('{"messages": []}', CHAT, "headroom_retrieve", {"c1": "orig"}))
    assert [c["id"] for c in chat["messages"][0]["tool_calls"]] == ["c1"]
    assert chat["messages"][1] == {"role": "tool", "tool_call_id": "c1", "content": "orig"}


def test_usage_is_summed_over_rounds_and_leftover_calls_removed() -> None:
    final = provider_named("anthropic").final_response([ANTHROPIC, ANTHROPIC])
    assert final["usage"] == {"input_tokens": 200, "output_tokens": 20, "cache_read_input_tokens": 100}
    cleaned = provider_named("anthropic").without_retrieve_calls(ANTHROPIC, "headroom_retrieve", "(limit)")
    assert [b.get("name") for b in cleaned["content"]] == [None, "Read"] and cleaned["stop_reason"] == "tool_use"
    only = {**ANTHROPIC, "content": ANTHROPIC["content"][:2]}
    cleaned = provider_named("anthropic").without_retrieve_calls(only, "headroom_retrieve", "(limit)")
    assert cleaned["content"][-1] == {"type": "text", "text": "(limit)"} and cleaned["stop_reason"] == "end_turn"
    chat = provider_named("openai_chat").without_retrieve_calls(CHAT, "headroom_retrieve", "(limit)")
    assert [c["id"] for c in chat["choices"][0]["message"]["tool_calls"]] == ["c2"]
