"""OpenAI Chat's side of a retrieval round: the retrieve tool, its calls in a response, the
follow-up body, the final response."""

from __future__ import annotations

import json

from addon.retrieval.retrieval_rounds import RetrieveCall, call_of, with_summed_usage
from addon.retrieval.retrieval_rounds import answers_retrieve as answered_retrieve
from addon.retrieval.retrieve_tool import DESCRIPTION, SCHEMA
from addon.wire.json_splice import Append, splice

USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


def tool_definition(name: str) -> str:
    value = {"type": "function", "function": {"name": name, "description": DESCRIPTION, "parameters": SCHEMA}}
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def tool_names(tools: object) -> set[str]:
    names: set[str] = set()
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict):
            names.add(str(tool["function"].get("name")) if isinstance(tool.get("function"), dict) else str(tool.get("name")))
    return names


def _message(response: dict) -> dict:
    choices = response.get("choices") or [{}]
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    return message if isinstance(message, dict) else {}


def _name(call: object) -> object:
    return (call.get("function") or {}).get("name") if isinstance(call, dict) else None


def retrieve_calls(response: dict, tool_name: str) -> list[RetrieveCall]:
    calls = []
    for call in _message(response).get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and function.get("name") == tool_name:
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except ValueError:
                arguments = {}
            calls.append(call_of(str(call.get("id")), arguments if isinstance(arguments, dict) else {}))
    return calls


def follow_up_body(body: str, response: dict, tool_name: str, answers: dict[str, str]) -> str:
    message = dict(_message(response))
    message["tool_calls"] = [c for c in message.get("tool_calls") or [] if isinstance(c, dict) and _name(c) == tool_name]
    message = {k: v for k, v in message.items() if k in ("role", "content", "tool_calls")}
    message["role"] = "assistant"
    for item in (message, *({"role": "tool", "tool_call_id": i, "content": t} for i, t in answers.items())):
        body = splice(body, [Append(("messages",), json.dumps(item, ensure_ascii=False))])
    return body


def without_retrieve_calls(response: dict, tool_name: str, note: str) -> dict:
    response = json.loads(json.dumps(response))
    message = _message(response)
    calls = [c for c in message.get("tool_calls") or [] if _name(c) != tool_name]
    if calls:
        message["tool_calls"] = calls
    else:
        message.pop("tool_calls", None)
        message["content"] = ((message.get("content") or "") + "\n" + note).strip()
        response["choices"][0]["finish_reason"] = "stop"
    return response


def final_response(rounds: list[dict]) -> dict:
    return with_summed_usage(rounds, USAGE_FIELDS)


def call_names(assistant: dict) -> list[object]:
    """The tools an assistant message called."""
    return [_name(c) for c in assistant.get("tool_calls") or [] if isinstance(c, dict)]


def answers_retrieve(body: dict, tool_prefix: str) -> bool:
    """Whether the body's last assistant turn called the retrieve tool and was answered."""
    return answered_retrieve(body, tool_prefix, call_names)
