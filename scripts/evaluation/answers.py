"""A provider's whole (non-streamed) answer as the three things the eval compares: the stop reason,
the tool calls (name and parsed arguments, in order) and the text. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from addon.providers.provider import parse_arguments


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    stop: str | None  # in the API's own words (end_turn, tool_calls, STOP, …)
    tool_calls: tuple[ToolCall, ...] = ()
    text: str = ""

    def as_dict(self) -> dict:
        return {"stop": self.stop, "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in self.tool_calls], "text": self.text}


def answer_of(provider: str, document: Any) -> Answer:
    """The answer in a response body of `provider`'s API."""
    if not isinstance(document, dict):
        return Answer(None)
    return {"anthropic": _anthropic, "openai_chat": _chat, "openai_responses": _responses, "gemini": _gemini}[provider](document)


def _call(name: Any, arguments: Any) -> ToolCall:
    return ToolCall(str(name), dict(parse_arguments(arguments)))


def _anthropic(document: dict) -> Answer:
    blocks = [b for b in document.get("content") or [] if isinstance(b, dict)]
    calls = tuple(_call(b.get("name"), b.get("input")) for b in blocks if b.get("type") == "tool_use")
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    return Answer(document.get("stop_reason"), calls, text)


def _chat(document: dict) -> Answer:
    choices = document.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    calls = tuple(
        _call(c.get("function", {}).get("name"), c.get("function", {}).get("arguments"))
        for c in message.get("tool_calls") or []
        if isinstance(c, dict)
    )
    if isinstance(message.get("function_call"), dict):  # the legacy single function call
        calls += (_call(message["function_call"].get("name"), message["function_call"].get("arguments")),)
    content = message.get("content")
    text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
    return Answer(choice.get("finish_reason"), calls, text)


def _responses(document: dict) -> Answer:
    items = [i for i in document.get("output") or [] if isinstance(i, dict)]
    calls = tuple(
        _call(i.get("name") or i.get("type"), i.get("arguments") if "arguments" in i else i.get("input") or i.get("action"))
        for i in items
        if i.get("type") in ("function_call", "custom_tool_call", "local_shell_call")
    )
    text = "".join(
        part.get("text", "")
        for i in items
        if i.get("type") == "message"
        for part in i.get("content") or []
        if isinstance(part, dict) and part.get("type") == "output_text"
    )
    # Responses has no stop reason: a status, why it is incomplete, or that it ended on a call.
    status = document.get("status")
    reason = (document.get("incomplete_details") or {}).get("reason")
    stop = f"{status}:{reason}" if reason else ("tool_call" if calls and status == "completed" else status)
    return Answer(stop, calls, text)


def _gemini(document: dict) -> Answer:
    if "candidates" not in document and isinstance(document.get("response"), dict):
        document = document["response"]  # Gemini CLI's Google-login endpoint wraps answers
    candidates = document.get("candidates") or [{}]
    candidate = candidates[0] if isinstance(candidates[0], dict) else {}
    parts = [p for p in (candidate.get("content") or {}).get("parts") or [] if isinstance(p, dict)]
    calls = tuple(_call(p["functionCall"].get("name"), p["functionCall"].get("args")) for p in parts if isinstance(p.get("functionCall"), dict))
    text = "".join(p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought"))
    return Answer(candidate.get("finishReason"), calls, text)


def canonical(value: Any) -> str:
    """A value's JSON with sorted keys: equal values, equal strings."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
