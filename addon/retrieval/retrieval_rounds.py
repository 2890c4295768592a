"""The provider shapes of a retrieval round: find the model's retrieve calls in a response,
build the follow-up request, and merge the rounds into the one response the client sees.

Pure functions over JSON; the addon (addon/retrieval/answer_retrieval.py) does the I/O. Follow-ups are
built by appending to the forwarded body's bytes, so the provider sees the same prefix.

Mixed turns (a retrieve call beside the client's own tool calls): the proxy answers the
retrieve call in a follow-up whose assistant turn carries only the retrieve calls; the model,
now holding the original, answers again and re-issues whatever client tool calls it still
needs. The client sees only the final round.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from addon.wire.json_splice import Append, splice

MAX_ROUNDS = 5
_USAGE_FIELDS = {
    "anthropic": ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"),
    "openai_chat": ("prompt_tokens", "completion_tokens", "total_tokens"),
}


@dataclass(frozen=True)
class RetrieveCall:
    call_id: str
    original_id: str
    query: str | None


def supported(provider: str) -> bool:
    """Whether non-streaming retrieval rounds are implemented for this provider."""
    return provider in _USAGE_FIELDS


def retrieve_calls(provider: str, response: dict, tool_name: str) -> list[RetrieveCall]:
    """The retrieve tool calls in a response."""
    calls = []
    if provider == "anthropic":
        for block in response.get("content") or []:
            if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") == tool_name:
                arguments = block.get("input") if isinstance(block.get("input"), dict) else {}
                calls.append(_call(str(block.get("id")), arguments))
    elif provider == "openai_chat":
        for call in _message(response).get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and function.get("name") == tool_name:
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                except ValueError:
                    arguments = {}
                calls.append(_call(str(call.get("id")), arguments if isinstance(arguments, dict) else {}))
    return calls


def _call(call_id: str, arguments: dict) -> RetrieveCall:
    query = arguments.get("query")
    return RetrieveCall(call_id, str(arguments.get("id", "")), query if isinstance(query, str) and query else None)


def _message(response: dict) -> dict:
    choices = response.get("choices") or [{}]
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    return message if isinstance(message, dict) else {}


def follow_up_body(provider: str, body: str, response: dict, tool_name: str, answers: dict[str, str]) -> str:
    """The forwarded body plus the assistant turn (retrieve calls only) and the tool results."""
    if provider == "anthropic":
        kept = [
            b for b in response.get("content") or []
            if not (isinstance(b, dict) and b.get("type") == "tool_use" and b.get("name") != tool_name)
        ]  # fmt: skip
        assistant = {"role": "assistant", "content": kept}
        results = [{"type": "tool_result", "tool_use_id": call_id, "content": text} for call_id, text in answers.items()]
        new_messages = [assistant, {"role": "user", "content": results}]
    else:
        message = dict(_message(response))
        message["tool_calls"] = [
            c for c in message.get("tool_calls") or [] if isinstance(c, dict) and (c.get("function") or {}).get("name") == tool_name
        ]
        message = {k: v for k, v in message.items() if k in ("role", "content", "tool_calls")}
        message["role"] = "assistant"
        new_messages = [message, *({"role": "tool", "tool_call_id": i, "content": t} for i, t in answers.items())]
    out = body
    for message in new_messages:
        out = splice(out, [Append(("messages",), json.dumps(message, ensure_ascii=False))])
    return out


def sum_usage(provider: str, responses: list[dict]) -> dict:
    """Usage of all rounds added up, on the last response's usage object."""
    usage = dict(responses[-1].get("usage") or {})
    for name in _USAGE_FIELDS[provider]:
        values = [r.get("usage", {}).get(name) for r in responses]
        if any(isinstance(v, int) for v in values):
            usage[name] = sum(v for v in values if isinstance(v, int))
    return usage


def without_retrieve_calls(provider: str, response: dict, tool_name: str, note: str) -> dict:
    """The response with any retrieve calls removed (the round limit was reached): the client
    must never see a tool it does not know."""
    response = json.loads(json.dumps(response))
    if provider == "anthropic":
        content = [b for b in response.get("content") or [] if not (b.get("type") == "tool_use" and b.get("name") == tool_name)]
        if not any(b.get("type") == "tool_use" for b in content):
            content.append({"type": "text", "text": note})
            response["stop_reason"] = "end_turn"
        response["content"] = content
    else:
        message = _message(response)
        calls = [c for c in message.get("tool_calls") or [] if (c.get("function") or {}).get("name") != tool_name]
        if calls:
            message["tool_calls"] = calls
        else:
            message.pop("tool_calls", None)
            message["content"] = ((message.get("content") or "") + "\n" + note).strip()
            response["choices"][0]["finish_reason"] = "stop"
    return response


def final_response(provider: str, rounds: list[dict]) -> dict:
    """What the client gets: the last round, with usage summed over all rounds."""
    final: dict[str, Any] = json.loads(json.dumps(rounds[-1]))
    final["usage"] = sum_usage(provider, rounds)
    return final
