"""Gemini retrieval rounds: functionCall parts, follow-ups into contents (wrapped or not),
JSON-array responses, the final response's usage."""

from __future__ import annotations

import json

from addon.providers import provider_named
from addon.providers.gemini.retrieval_rounds import answers_retrieve, blocks_retrieval
from addon.retrieval.retrieval_rounds import RetrieveCall

ID = "0123456789abcdef01234567"
GEMINI = provider_named("gemini")
SIGNATURE = "CiQB0e2Kb+/opaque=="
ROUND = {
    "candidates": [{"content": {"role": "model", "parts": [
        {"text": "Let me look.", "thought": True, "thoughtSignature": SIGNATURE},
        {"functionCall": {"name": "headroom_retrieve", "args": {"id": ID, "query": "ERROR"}}},
        {"functionCall": {"name": "read_file", "args": {"absolute_path": "/x"}}},
    ]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 100, "cachedContentTokenCount": 40, "candidatesTokenCount": 10, "thoughtsTokenCount": 5, "totalTokenCount": 115},
}  # fmt: skip


def test_retrieve_calls_in_a_response_a_chunk_array_and_a_wrapped_response() -> None:
    expected = [RetrieveCall("headroom_retrieve#0", ID, "ERROR")]
    assert GEMINI.retrieve_calls(ROUND, "headroom_retrieve") == expected
    chunks = [{"candidates": [{"content": {"role": "model", "parts": [{"text": "a"}]}}]}, ROUND]
    assert GEMINI.retrieve_calls(chunks, "headroom_retrieve") == expected
    assert GEMINI.retrieve_calls([{"response": ROUND, "traceId": "t"}], "headroom_retrieve") == expected


def test_follow_up_appends_the_model_turn_and_the_function_response() -> None:
    body = '{"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "tools": []}'
    out = GEMINI.follow_up_body(body, ROUND, "headroom_retrieve", {"headroom_retrieve#0": "the lines"})
    assert out.startswith('{"contents": [{"role": "user", "parts": [{"text": "hi"}]}')
    contents = json.loads(out)["contents"]
    assert contents[1]["parts"][0]["thoughtSignature"] == SIGNATURE
    assert [p["functionCall"]["name"] for p in contents[1]["parts"] if "functionCall" in p] == ["headroom_retrieve"]
    assert contents[2] == {"role": "user", "parts": [{"functionResponse": {"name": "headroom_retrieve", "response": {"content": "the lines"}}}]}
    assert answers_retrieve(json.loads(out), "headroom_retrieve")


def test_gemini_cli_wrapped_body_gets_its_follow_up_inside_request() -> None:
    body = '{"model": "gemini-2.5-pro", "project": "p", "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "session_id": "s"}}'
    called = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "headroom_retrieve", "id": "fc-9", "args": {"id": ID}}}]}}]}
    out = json.loads(GEMINI.follow_up_body(body, {"response": called}, "headroom_retrieve", {"fc-9": "x"}))
    assert out["request"]["contents"][2]["parts"][0]["functionResponse"]["id"] == "fc-9"
    assert "contents" not in out
    assert answers_retrieve(out, "headroom_retrieve")


def test_final_usage_is_summed_and_leftover_calls_removed() -> None:
    final = GEMINI.final_response([ROUND, ROUND])
    assert final["usageMetadata"] == {"promptTokenCount": 200, "cachedContentTokenCount": 80, "candidatesTokenCount": 20, "thoughtsTokenCount": 10, "totalTokenCount": 230}
    cleaned = GEMINI.without_retrieve_calls(ROUND, "headroom_retrieve", "(limit)")
    assert [p.get("functionCall", {}).get("name") for p in cleaned["candidates"][0]["content"]["parts"]] == [None, "read_file"]


def test_tool_config_that_rules_out_retrieval() -> None:
    assert blocks_retrieval({"toolConfig": {"functionCallingConfig": {"mode": "NONE"}}})
    assert blocks_retrieval({"request": {"toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}}})
    assert not blocks_retrieval({"toolConfig": {"functionCallingConfig": {"mode": "AUTO"}}})


def test_streamed_only_with_alt_sse() -> None:
    assert GEMINI.streamed({}, "/v1beta/models/m:streamGenerateContent", {"alt": "sse"})
    assert not GEMINI.streamed({}, "/v1beta/models/m:streamGenerateContent", {})
    assert not GEMINI.streamed({"stream": True}, "/v1internal:generateContent", {"alt": "sse"})


def test_an_original_image_goes_as_inline_data_beside_the_function_response() -> None:
    """A media answer (GeminiMedia.answer, addon/providers/gemini/media.py): its text in the
    functionResponse, the original as an inlineData part of the same user turn, after every response."""
    body = '{"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}'
    two = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "headroom_retrieve", "args": {"id": ID}}},
        {"functionCall": {"name": "headroom_retrieve", "args": {"id": ID, "query": "x"}}},
    ]}}]}  # fmt: skip
    answers = {"headroom_retrieve#0": GEMINI.media.original_answer("data:image/png;base64,iVBORw0KGgo="), "headroom_retrieve#1": "the lines"}
    out = GEMINI.follow_up_body(body, two, "headroom_retrieve", answers)
    assert out.startswith(body[:-2])
    first, second, image = json.loads(out)["contents"][2]["parts"]
    assert first["functionResponse"]["response"]["content"].startswith("The original image (image/png)")
    assert second == {"functionResponse": {"name": "headroom_retrieve", "response": {"content": "the lines"}}}
    assert image == {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    assert answers_retrieve(json.loads(out), "headroom_retrieve")
