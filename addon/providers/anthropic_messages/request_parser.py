"""Anthropic Messages API: POST /v1/messages (also with ?beta=true)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from addon.providers.provider import (
    DOCUMENT_MIN_CHARS,
    ParsedRequest,
    Segment,
    UnknownShape,
    is_agent_tool_output,
    last_index,
    parse_arguments,
    shell_command_in,
)


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
        content = message.get("content")
        role = message.get("role")
        if role == "assistant":
            last_command = shell_command_in(content if isinstance(content, str) else _joined_text(content))
            for block in content if isinstance(content, list) else []:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    calls[str(block.get("id"))] = (str(block.get("name")), parse_arguments(block.get("input")))
            continue
        if role != "user":
            continue
        if isinstance(content, str) and is_agent_tool_output(content):
            segments.append(Segment(("messages", i, "content"), content, "tool_output", fresh, "bash", last_command))
            continue
        if isinstance(content, str):
            query = content
            if len(content) >= DOCUMENT_MIN_CHARS:
                segments.append(Segment(("messages", i, "content"), content, "document", fresh))
            continue
        texts: list[str] = []
        for j, block in enumerate(content if isinstance(content, list) else []):
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "tool_result":
                name, args = calls.get(str(block.get("tool_use_id")), (None, {}))
                segments.extend(_tool_result_segments(block, ("messages", i, "content", j), fresh, name, args))
            elif kind == "text" and isinstance(block.get("text"), str) and is_agent_tool_output(block["text"]):
                path = ("messages", i, "content", j, "text")
                segments.append(Segment(path, block["text"], "tool_output", fresh, "bash", last_command))
            elif kind == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
                if len(block["text"]) >= DOCUMENT_MIN_CHARS:
                    segments.append(Segment(("messages", i, "content", j, "text"), block["text"], "document", fresh))
        if texts:
            query = "\n".join(texts)
    return ParsedRequest(segments, query, boundary < 0)


def _joined_text(content: object) -> str:
    blocks = content if isinstance(content, list) else []
    return "\n".join(b["text"] for b in blocks if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str))


def _tool_result_segments(block: dict, path, fresh: bool, name, args) -> list[Segment]:
    error = bool(block.get("is_error"))
    call_id = str(block["tool_use_id"]) if block.get("tool_use_id") else None
    content = block.get("content")
    if isinstance(content, str):
        return [Segment(path + ("content",), content, "tool_output", fresh, name, args, error, call_id)]
    out = []
    for k, part in enumerate(content if isinstance(content, list) else []):
        # Only text parts: images, documents and search results pass as they are.
        if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
            out.append(Segment(path + ("content", k, "text"), part["text"], "tool_output", fresh, name, args, error, call_id))
    return out


def opening(body: dict) -> tuple[Any, Any]:
    """The system prompt and the first user message."""
    first = next((m.get("content") for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"), None)
    return body.get("system"), first
