"""OpenAI Chat Completions (and the many OpenAI-compatible hosts): POST .../chat/completions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from addon.providers.provider import is_agent_tool_output, shell_command_in, UnknownShape, DOCUMENT_MIN_CHARS, ParsedRequest, Segment, last_index, parse_arguments


def parse(body: Any) -> ParsedRequest:
    """Segments and query of a decoded JSON body; UnknownShape for shapes this API does not have."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        raise UnknownShape("no messages list")
    boundary = last_index(messages, lambda m: isinstance(m, dict) and m.get("role") == "assistant")
    calls: dict[str, tuple[str, Any]] = {}
    segments: list[Segment] = []
    query = ""
    last_command: Mapping[str, Any] = {}
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        fresh = i > boundary
        role = message.get("role")
        if role == "assistant":
            content = message.get("content")
            last_command = shell_command_in(content if isinstance(content, str) else None)
            tool_calls = message.get("tool_calls")
            for call in tool_calls if isinstance(tool_calls, list) else []:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict):
                    calls[str(call.get("id"))] = (str(function.get("name")), parse_arguments(function.get("arguments")))
            continue
        if role in ("tool", "function"):
            name, args = calls.get(str(message.get("tool_call_id")), (message.get("name"), {}))
            segments.extend(_text_parts(message, i, "tool_output", fresh, name, args, min_chars=0))
        elif role == "user" and isinstance(message.get("content"), str) and is_agent_tool_output(message["content"]):
            segments.append(Segment(("messages", i, "content"), message["content"], "tool_output", fresh, "bash", last_command))
        elif role == "user":
            texts = [s.text for s in _text_parts(message, i, "document", fresh, None, {}, min_chars=0)]
            if texts:
                query = "\n".join(texts)
            segments.extend(_text_parts(message, i, "document", fresh, None, {}, min_chars=DOCUMENT_MIN_CHARS))
    return ParsedRequest(segments, query, boundary < 0)


def _text_parts(message: dict, i: int, source: str, fresh: bool, name, args, min_chars: int, call_id: str | None = None) -> list[Segment]:
    content = message.get("content")
    if isinstance(content, str):
        if len(content) < min_chars:
            return []
        return [Segment(("messages", i, "content"), content, source, fresh, name, args, call_id=call_id)]
    out = []
    for k, part in enumerate(content if isinstance(content, list) else []):
        if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
            if len(part["text"]) >= min_chars:
                out.append(Segment(("messages", i, "content", k, "text"), part["text"], source, fresh, name, args, call_id=call_id))
    return out


def opening(body: dict) -> tuple[Any, Any]:
    """The first system (or developer) message and the first user message."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    system = next((m.get("content") for m in messages if m.get("role") in ("system", "developer")), None)
    return system, next((m.get("content") for m in messages if m.get("role") == "user"), None)
