"""A deterministic answer mode for the mock provider that depends on the body (for `headroom eval`).

Set `mock.responder = needle_responder()`. The model "reads" the last tool output of a request:
- a needle (`NEEDLE-<word>`) found there → a call of the client's tool `report_needle` with the
  needle as its argument (stop reason: a tool call);
- no needle, the request asks for retrieval (its text holds RETRIEVE_IF_FOLDED) and a retrieve
  marker is there → a call of `headroom_retrieve` on that marker's id;
- otherwise → the text "no needle in the tool output" (stop reason: end of turn).

So a compression that keeps the needle keeps the answer and one that folds it flips it. Usage
grows with the body (input = bytes / 4) so the two sides of an A/B cost different amounts.
Kept apart from mock_provider.py: the mock's default answers do not change.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.mock_provider import Received, Reply, _api_of, _chat_completion, anthropic_reply, responses_reply, text_reply

NEEDLE = re.compile(r"NEEDLE-\w+")
MARKER = re.compile(r"retrieve id=([0-9a-f]{24}(?::\d+-\d+)?)")
RETRIEVE_IF_FOLDED = "RETRIEVE_IF_FOLDED"
TOOL = "report_needle"
NO_NEEDLE = "no needle in the tool output"
OUTPUT_TOKENS = 20


def needle_responder():
    """The responder: see the module docstring."""

    def respond(request: Received) -> Reply | None:
        api = _api_of(request.path)
        if api is None or request.method != "POST":
            return None
        body = request.json
        stream = bool(body.get("stream")) or "streamGenerateContent" in request.path
        call = _decide(api, body)
        reply = _reply(api, call, stream)
        if reply.json is not None:
            _set_usage(api, reply.json, len(request.body) // 4)
        return reply

    return respond


def last_tool_output(api: str, body: dict) -> str:
    """The text of the request's last tool output, in any of the four APIs."""
    texts: list[str] = []
    if api in ("anthropic", "openai_chat"):
        for message in body.get("messages", []):
            content = message.get("content")
            if message.get("role") == "tool" and isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                for block in content:
                    if isinstance(block, dict) and block.get("type") == "tool_result":
                        inner = block.get("content")
                        texts.append(inner if isinstance(inner, str) else json.dumps(inner))
    elif api == "openai_responses":
        items = body.get("input") if isinstance(body.get("input"), list) else []
        texts += [str(i.get("output")) for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]
    else:
        request = body.get("request", body)
        for content in request.get("contents", []):
            texts += [json.dumps(p["functionResponse"]) for p in content.get("parts", []) if "functionResponse" in p]
    return texts[-1] if texts else ""


def _decide(api: str, body: dict) -> tuple[str, dict] | None:
    """(tool, arguments) to call, or None to answer with text."""
    output = last_tool_output(api, body)
    if found := NEEDLE.search(output):
        return TOOL, {"needle": found.group(0)}
    marker = MARKER.search(output)
    if marker and RETRIEVE_IF_FOLDED in json.dumps(body):
        return "headroom_retrieve", {"id": marker.group(1)}
    return None


def _reply(api: str, call: tuple[str, dict] | None, stream: bool) -> Reply:
    if call is None:
        return text_reply(api, NO_NEEDLE, stream)
    name, arguments = call
    if api == "anthropic":
        return anthropic_reply([{"type": "tool_use", "id": "toolu_needle", "name": name, "input": arguments}], "tool_use", stream)
    if api == "openai_chat":
        tool_call = {"id": "call_needle", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
        return Reply(json=_chat_completion({"role": "assistant", "content": None, "tool_calls": [tool_call]}, "tool_calls"))
    if api == "openai_responses":
        item = {"type": "function_call", "id": "fc_needle", "call_id": "call_needle", "name": name, "arguments": json.dumps(arguments), "status": "completed"}
        response = {"id": "resp_needle", "object": "response", "status": "completed", "model": "gpt-test", "output": [item],
                    "usage": {"input_tokens": 100, "output_tokens": OUTPUT_TOKENS, "total_tokens": 120, "input_tokens_details": {"cached_tokens": 0}}}  # fmt: skip
        return responses_reply(response, stream)
    candidate = {"content": {"role": "model", "parts": [{"functionCall": {"name": name, "args": arguments}}]}, "finishReason": "STOP", "index": 0}
    document = {"candidates": [candidate], "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": OUTPUT_TOKENS}}
    return Reply(events=[(None, document)]) if stream else Reply(json=document)


def _set_usage(api: str, document: Any, input_tokens: int) -> None:
    """Usage that grows with the body, in the API's own fields (whole JSON answers only)."""
    if api == "anthropic":
        document["usage"] = {"input_tokens": input_tokens, "output_tokens": OUTPUT_TOKENS, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    elif api == "openai_chat":
        document["usage"] = {"prompt_tokens": input_tokens, "completion_tokens": OUTPUT_TOKENS, "total_tokens": input_tokens + OUTPUT_TOKENS}
    elif api == "openai_responses":
        document["usage"] = {"input_tokens": input_tokens, "output_tokens": OUTPUT_TOKENS, "total_tokens": input_tokens + OUTPUT_TOKENS, "input_tokens_details": {"cached_tokens": 0}}
    else:
        document["usageMetadata"] = {"promptTokenCount": input_tokens, "candidatesTokenCount": OUTPUT_TOKENS, "totalTokenCount": input_tokens + OUTPUT_TOKENS}
