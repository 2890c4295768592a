"""OpenAI Responses: the proxy answers `headroom_retrieve` itself (the official SDK, through
real mitmdump); the client sees one response and never the tool."""

from __future__ import annotations

import json

import openai

from tests.e2e.test_retrieval import FAILING, FOLD_MARKER, HIDDEN, check_fold_answer, verbose_pytest
from tests.support.mock_provider import Received, Reply, _response_object, responses_reply

CALL_ID = "call_r1"


def responses_input() -> list[dict]:
    return [
        {"role": "user", "content": "fix the failing billing test"},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": json.dumps({"command": "pytest -v"})},
        {"type": "function_call_output", "call_id": "c1", "output": verbose_pytest()},
    ]


def outputs(request: Received) -> list[str]:
    items = request.json.get("input") or []
    return [i["output"] for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]


def retrieve_call(marker_id: str) -> dict:
    arguments = json.dumps({"id": marker_id})
    return {"type": "function_call", "id": "fc_r1", "call_id": CALL_ID, "name": "headroom_retrieve", "arguments": arguments, "status": "completed"}


def responses_script(request: Received) -> Reply | None:
    """First call: ask for the fold named by a marker; on the follow-up: answer."""
    items = request.json["input"]
    if items[-1].get("type") == "function_call_output" and items[-1].get("call_id") == CALL_ID:
        return Reply(json={**_response_object("done: fixed test_refund_rounding"), "id": "resp_2"})
    marker_id = FOLD_MARKER.search(json.dumps(request.json)).group(1)
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAopaque=="}
    return Reply(json={**_response_object(""), "id": "resp_1", "output": [reasoning, retrieve_call(marker_id)]})


def test_responses_non_streaming_retrieve_is_answered_by_the_proxy(proxy, mock, monkeypatch):
    mock.responder = responses_script
    with proxy.client_env(monkeypatch):
        client = openai.OpenAI(api_key="sk-owner-a", max_retries=0)
        response = client.responses.create(model="gpt-test", input=responses_input(), store=False)
    assert response.output_text == "done: fixed test_refund_rounding"
    assert [item.type for item in response.output] == ["message"]
    assert response.id == "resp_2" and response.usage.input_tokens == 200 and response.usage.output_tokens == 40
    first, follow_up = mock.llm_requests()
    sent = outputs(first)[0]
    assert FAILING in sent and HIDDEN not in sent
    assert first.json["tools"][-1]["name"] == "headroom_retrieve"
    # the follow-up extends the forwarded input: reasoning passed on untouched, unstored ids dropped
    assert follow_up.raw.startswith(first.raw[: first.raw.rindex(b"]", 0, first.raw.index(b'"tools"'))])
    appended = follow_up.json["input"][3:]
    assert appended[0] == {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAopaque=="}
    assert appended[1]["name"] == "headroom_retrieve" and "id" not in appended[1]
    _, a, b = FOLD_MARKER.search(json.dumps(first.json)).groups()
    check_fold_answer(outputs(follow_up)[-1], verbose_pytest(), int(a), int(b))


def streamed_script(request: Received) -> Reply | None:
    reply = responses_script(request)
    return responses_reply(reply.json, stream=True)


def test_responses_streamed_retrieve_is_answered_within_the_stream(proxy, mock, monkeypatch):
    mock.responder = streamed_script
    with proxy.client_env(monkeypatch):
        client = openai.OpenAI(api_key="sk-owner-a", max_retries=0)
        with client.responses.stream(model="gpt-test", input=responses_input(), store=False) as stream:
            events = list(stream)
            final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" not in kinds  # the retrieve call never reached the client
    assert kinds.count("response.created") == 1 and kinds[-1] == "response.completed"
    numbers = [e.sequence_number for e in events]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert final.output_text == "done: fixed test_refund_rounding" and final.id == "resp_2"
    assert final.usage.output_tokens == 40 and final.usage.input_tokens == 100
    first, follow_up = mock.llm_requests()
    assert follow_up.raw.startswith(first.raw[: first.raw.rindex(b"]", 0, first.raw.index(b'"tools"'))])
    _, a, b = FOLD_MARKER.search(json.dumps(first.json)).groups()
    check_fold_answer(outputs(follow_up)[-1], verbose_pytest(), int(a), int(b))
