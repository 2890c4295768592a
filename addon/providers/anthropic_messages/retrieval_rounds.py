"""Anthropic's side of a retrieval round: the retrieve tool, its calls in a response, the
follow-up body, the final response."""

from __future__ import annotations

import json

from addon.retrieval.retrieval_rounds import RetrieveCall, call_of, with_summed_usage
from addon.retrieval.retrieval_rounds import answers_retrieve as answered_retrieve
from addon.retrieval.retrieve_tool import DESCRIPTION, SCHEMA
from addon.wire.json_splice import Append, splice

USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def tool_definition(name: str) -> str:
    value = {"name": name, "description": DESCRIPTION, "input_schema": SCHEMA}
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def tool_names(tools: object) -> set[str]:
    return {str(tool.get("name")) for tool in tools if isinstance(tool, dict)} if isinstance(tools, list) else set()


def _is_call(block: object, tool_name: str) -> bool:
    return isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") == tool_name


def retrieve_calls(response: dict, tool_name: str) -> list[RetrieveCall]:
    return [
        call_of(str(block.get("id")), block.get("input") if isinstance(block.get("input"), dict) else {})
        for block in response.get("content") or []
        if _is_call(block, tool_name)
    ]


def follow_up_body(body: str, response: dict, tool_name: str, answers: dict[str, str]) -> str:
    kept = [
        b for b in response.get("content") or []
        if not (isinstance(b, dict) and b.get("type") == "tool_use" and b.get("name") != tool_name)
    ]  # fmt: skip
    assistant = {"role": "assistant", "content": kept}
    results = [{"type": "tool_result", "tool_use_id": call_id, "content": text} for call_id, text in answers.items()]
    for message in (assistant, {"role": "user", "content": results}):
        body = splice(body, [Append(("messages",), json.dumps(message, ensure_ascii=False))])
    return body


def without_retrieve_calls(response: dict, tool_name: str, note: str) -> dict:
    response = json.loads(json.dumps(response))
    content = [b for b in response.get("content") or [] if not _is_call(b, tool_name)]
    if not any(b.get("type") == "tool_use" for b in content):
        content.append({"type": "text", "text": note})
        response["stop_reason"] = "end_turn"
    response["content"] = content
    return response


def final_response(rounds: list[dict]) -> dict:
    return with_summed_usage(rounds, USAGE_FIELDS)


def call_names(assistant: dict) -> list[object]:
    """The tools an assistant message called."""
    blocks = assistant.get("content") if isinstance(assistant.get("content"), list) else []
    return [b.get("name") for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"]


def answers_retrieve(body: dict, tool_prefix: str) -> bool:
    """Whether the body's last assistant turn called the retrieve tool and was answered."""
    return answered_retrieve(body, tool_prefix, call_names)
