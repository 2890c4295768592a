import json

from addon.ledger.flow_record import FlowFacts, build_row

COMPLETED = json.dumps({"type": "response.completed", "response": {
    "id": "resp_1", "model": "gpt-5", "usage": {"input_tokens": 10, "output_tokens": 5},
    "output": [{"type": "function_call", "call_id": "call_9", "name": "shell", "arguments": '{"command": ["cargo", "test"]}'}],
}}).encode()  # fmt: skip
META = {"composition": [{"pos": 0, "role": "user", "type": "text", "new": True, "tokens": 3, "sent": 3, "fate": "untouched"}]}


def facts(provider: str, **more) -> FlowFacts:
    return FlowFacts(ts=1.0, provider=provider, path="/v1/responses", headers={"session_id": "s"}, request_body=b"{}", meta=dict(META), **more)


def test_a_chained_apis_response_calls_are_kept_for_the_next_requests_trace():
    row = build_row(facts("openai_responses", websocket=True, streamed=True, response_body=COMPLETED), None)
    assert row.calls == {"call_9": "shell $ cargo test"} and row.composition == META["composition"]
    streamed = build_row(facts("openai_responses", streamed=True, response_body=None), None)
    assert streamed.calls == {}  # a stream's body is not kept: nothing to read


def test_apis_whose_requests_carry_their_calls_keep_none():
    body = json.dumps({"content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}], "usage": {"input_tokens": 1, "output_tokens": 1}}).encode()
    assert build_row(facts("anthropic", response_body=body), None).calls == {}
