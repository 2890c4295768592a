"""OpenAI Responses retrieval rounds: calls, follow-up bodies (appended, unstored, chained), the final response."""

from __future__ import annotations

import json

from addon.providers import provider_named
from addon.providers.openai_responses.retrieval_rounds import answers_retrieve
from addon.retrieval.retrieval_rounds import RetrieveCall

ID = "0123456789abcdef01234567"
RESPONSES = provider_named("openai_responses")
ROUND = {
    "id": "resp_1",
    "object": "response",
    "output": [
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA+opaque/=="},
        {"type": "function_call", "id": "fc_1", "call_id": "call_r", "name": "headroom_retrieve", "arguments": json.dumps({"id": ID, "lines": "10-20"}), "status": "completed"},
        {"type": "function_call", "id": "fc_2", "call_id": "call_c", "name": "shell", "arguments": "{}", "status": "completed"},
    ],
    "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 10, "total_tokens": 110},
}
BODY = '{"model": "gpt-5", "store": false, "input": [{"role": "user", "content": "hi"}], "tools": []}'


def test_retrieve_calls_read_function_call_items_of_the_tool() -> None:
    assert RESPONSES.retrieve_calls(ROUND, "headroom_retrieve") == [RetrieveCall("call_r", ID, None, "10-20")]
    assert RESPONSES.retrieve_calls(ROUND, "headroom_retrieve_2") == []


def test_unstored_follow_up_appends_items_without_ids_and_keeps_the_forwarded_prefix() -> None:
    out = RESPONSES.follow_up_body(BODY, ROUND, "headroom_retrieve", {"call_r": "the lines"})
    assert out.startswith(BODY[: BODY.index("}]") + 1])  # the forwarded input's bytes, then ours
    items = json.loads(out)["input"]
    assert items[1] == {"type": "reasoning", "summary": [], "encrypted_content": "gAAAA+opaque/=="}
    assert [i.get("name") for i in items[1:] if i.get("type") == "function_call"] == ["headroom_retrieve"]
    assert "id" not in items[2]
    assert items[-1] == {"type": "function_call_output", "call_id": "call_r", "output": "the lines"}
    assert answers_retrieve(json.loads(out), "headroom_retrieve")
    assert not answers_retrieve(json.loads(BODY), "headroom_retrieve")


def test_stored_follow_up_keeps_ids_and_a_string_input_becomes_a_message() -> None:
    body = '{"model": "gpt-5", "input": "what failed?"}'
    out = json.loads(RESPONSES.follow_up_body(body, ROUND, "headroom_retrieve", {"call_r": "x"}))
    assert out["input"][0] == {"role": "user", "content": "what failed?"}
    assert out["input"][2]["id"] == "fc_1"


def test_a_chaining_client_gets_a_chained_follow_up() -> None:
    body = '{"model": "gpt-5", "previous_response_id": "resp_0", "input": [{"role": "user", "content": "go"}]}'
    out = json.loads(RESPONSES.follow_up_body(body, ROUND, "headroom_retrieve", {"call_r": "x"}))
    assert out["previous_response_id"] == "resp_1"
    assert out["input"] == [{"type": "function_call_output", "call_id": "call_r", "output": "x"}]


def test_final_response_sums_usage_and_leftover_calls_are_removed() -> None:
    last = {**ROUND, "id": "resp_2", "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]}]}
    final = RESPONSES.final_response([ROUND, last])
    assert final["id"] == "resp_2"
    assert final["usage"] == {"input_tokens": 200, "input_tokens_details": {"cached_tokens": 120}, "output_tokens": 20, "total_tokens": 220}
    cleaned = RESPONSES.without_retrieve_calls(ROUND, "headroom_retrieve", "(limit)")
    assert [i.get("call_id") for i in cleaned["output"]] == [None, "call_c"]
    only = {**ROUND, "output": ROUND["output"][:2]}
    cleaned = RESPONSES.without_retrieve_calls(only, "headroom_retrieve", "(limit)")
    assert cleaned["output"][-1]["content"][0]["text"] == "(limit)"
