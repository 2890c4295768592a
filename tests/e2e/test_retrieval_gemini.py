"""Gemini: the proxy answers `headroom_retrieve` itself, for the Gemini API's REST shape (httpx,
through real mitmdump), the JSON-array stream, and Gemini CLI's Google-login endpoint."""

from __future__ import annotations

import json
import ssl

import httpx

from tests.e2e.test_retrieval import FAILING, FOLD_MARKER, HIDDEN, check_fold_answer, verbose_pytest
from tests.support.mock_provider import Received, Reply

SIGNATURE = "CiQB0e2Kb+/opaque=="
USAGE = {"promptTokenCount": 100, "candidatesTokenCount": 20, "totalTokenCount": 120}


def gemini_request(session: str | None = None) -> dict:
    request = {
        "contents": [
            {"role": "user", "parts": [{"text": "fix the failing billing test"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "run_shell_command", "args": {"command": "pytest -v"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "run_shell_command", "response": {"output": verbose_pytest()}}}]},
        ],
        "tools": [{"functionDeclarations": [{"name": "run_shell_command", "parameters": {"type": "object"}}]}],
    }
    if session:
        request["session_id"] = session
    return request


def candidate(parts: list[dict]) -> dict:
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}], "usageMetadata": USAGE}


def function_responses(request: dict) -> list[str]:
    contents = request.get("request", request)["contents"]
    out = []
    for content in contents:
        for part in content.get("parts", []):
            response = part.get("functionResponse", {}).get("response", {})
            out += [v for v in response.values() if isinstance(v, str)]
    return out


def gemini_script(wrap: bool = False, array: bool = False):
    def respond(request: Received) -> Reply | None:
        body = request.json.get("request", request.json)
        last = body["contents"][-1]["parts"][0]
        if last.get("functionResponse", {}).get("name") == "headroom_retrieve":
            answer = candidate([{"text": "done: fixed test_refund_rounding"}])
        else:
            marker_id = FOLD_MARKER.search(json.dumps(body)).group(1)
            call = {"functionCall": {"name": "headroom_retrieve", "args": {"id": marker_id}}, "thoughtSignature": SIGNATURE}
            answer = candidate([{"text": "Let me look.", "thought": True}, call])
        answer = {"response": answer, "traceId": "t1"} if wrap else answer
        return Reply(json=[answer] if array else answer)

    return respond


def post(proxy, url: str, body: dict, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(proxy.ca.cert)), timeout=30) as client:
        return client.post(url, json=body, headers=headers)


def check_rounds(mock, wrapped: bool = False) -> None:
    first, follow_up = mock.llm_requests()
    sent = function_responses(first.json)[0]
    assert FAILING in sent and HIDDEN not in sent
    request = first.json.get("request", first.json)
    assert request["tools"][-1]["functionDeclarations"][0]["name"] == "headroom_retrieve"
    model_turn = follow_up.json.get("request", follow_up.json)["contents"][3]
    assert model_turn["parts"][1]["thoughtSignature"] == SIGNATURE  # passed back untouched
    _, a, b = FOLD_MARKER.search(json.dumps(first.json)).groups()
    check_fold_answer(function_responses(follow_up.json)[-1], verbose_pytest(), int(a), int(b))
    assert ("request" in follow_up.json) == wrapped


def test_gemini_generate_content_retrieve_is_answered_by_the_proxy(proxy, mock):
    mock.responder = gemini_script()
    url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-test:generateContent"
    reply = post(proxy, url, gemini_request(), {"x-goog-api-key": "AIza-owner-a"})
    assert reply.status_code == 200
    parts = reply.json()["candidates"][0]["content"]["parts"]
    assert parts == [{"text": "done: fixed test_refund_rounding"}]
    assert reply.json()["usageMetadata"]["promptTokenCount"] == 200
    check_rounds(mock)


def test_gemini_json_array_stream_retrieve_is_answered_by_the_proxy(proxy, mock):
    mock.responder = gemini_script(array=True)
    url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-test:streamGenerateContent"
    reply = post(proxy, url, gemini_request(), {"x-goog-api-key": "AIza-owner-a"})
    [chunk] = reply.json()
    assert chunk["candidates"][0]["content"]["parts"] == [{"text": "done: fixed test_refund_rounding"}]
    check_rounds(mock)


def test_gemini_cli_google_login_endpoint_is_intercepted_and_answered(proxy, mock):
    mock.responder = gemini_script(wrap=True)
    body = {"model": "gemini-2.5-pro", "project": "proj-1", "user_prompt_id": "p1", "request": gemini_request(session="sess-1")}
    reply = post(proxy, "https://cloudcode-pa.googleapis.com/v1internal:generateContent", body, {"authorization": "Bearer ya29.token"})
    assert reply.json()["response"]["candidates"][0]["content"]["parts"] == [{"text": "done: fixed test_refund_rounding"}]
    check_rounds(mock, wrapped=True)


def test_vertex_path_is_recognised(proxy, mock):
    mock.responder = gemini_script()
    url = "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-test:generateContent"
    reply = post(proxy, url, gemini_request(), {"authorization": "Bearer ya29.token"})
    assert reply.json()["candidates"][0]["content"]["parts"] == [{"text": "done: fixed test_refund_rounding"}]
    check_rounds(mock)


def sse_script(wrap: bool = False):
    """The same rounds as `alt=sse` streams: the text word by word, the call in its own chunk."""
    script = gemini_script(wrap=wrap)

    def respond(request: Received) -> Reply | None:
        answer = script(request).json
        inner = answer["response"] if wrap else answer
        parts = inner["candidates"][0]["content"]["parts"]
        chunks = []
        for k, part in enumerate(parts):
            chunk = {"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}]}
            if k == len(parts) - 1:
                chunk["candidates"][0]["finishReason"] = "STOP"
                chunk["usageMetadata"] = USAGE
            chunks.append({"response": chunk, "traceId": "t1"} if wrap else chunk)
        return Reply(events=[(None, c) for c in chunks])

    return respond


def stream_chunks(proxy, url: str, body: dict, headers: dict[str, str]) -> list[dict]:
    chunks = []
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=str(proxy.ca.cert)), timeout=30) as client:
        with client.stream("POST", url, json=body, headers=headers) as reply:
            assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
            for line in reply.iter_lines():
                if line.startswith("data: "):
                    chunks.append(json.loads(line[6:]))
    return chunks


def test_gemini_sse_stream_retrieve_is_answered_within_the_stream(proxy, mock):
    mock.responder = sse_script()
    url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-test:streamGenerateContent?alt=sse"
    chunks = stream_chunks(proxy, url, gemini_request(), {"x-goog-api-key": "AIza-owner-a"})
    parts = [p for c in chunks for p in c["candidates"][0].get("content", {}).get("parts", [])]
    assert not any("functionCall" in p for p in parts)  # the client never sees the tool
    assert "".join(p["text"] for p in parts if not p.get("thought")) == "done: fixed test_refund_rounding"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 40
    check_rounds(mock)


def test_gemini_cli_sse_stream_on_the_google_login_endpoint(proxy, mock):
    mock.responder = sse_script(wrap=True)
    body = {"model": "gemini-2.5-pro", "project": "proj-1", "user_prompt_id": "p1", "request": gemini_request(session="sess-2")}
    url = "https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse"
    chunks = stream_chunks(proxy, url, body, {"authorization": "Bearer ya29.token"})
    parts = [p for c in chunks for p in c["response"]["candidates"][0].get("content", {}).get("parts", [])]
    assert not any("functionCall" in p for p in parts)
    assert "".join(p["text"] for p in parts if not p.get("thought")) == "done: fixed test_refund_rounding"
    check_rounds(mock, wrapped=True)
