"""OpenAI Responses API: POST .../responses (api.openai.com and Codex on chatgpt.com)."""

from __future__ import annotations

from typing import Any

from addon.providers.provider import UnknownShape, DOCUMENT_MIN_CHARS, ParsedRequest, Segment, last_index, parse_arguments

_MODEL_ITEMS = {"function_call", "custom_tool_call", "reasoning", "local_shell_call", "web_search_call"}
_OUTPUT_ITEMS = {"function_call_output", "custom_tool_call_output", "local_shell_call_output"}


def _type(item: dict) -> str | None:
    """An item's type, where it is a string (anything else: an item of no type we know)."""
    kind = item.get("type")
    return kind if isinstance(kind, str) else None


def is_model_item(item: Any) -> bool:
    """An item of the model's turn (an assistant message, or a call or reasoning it made)."""
    return isinstance(item, dict) and (item.get("role") == "assistant" or _type(item) in _MODEL_ITEMS)


def parse(body: Any) -> ParsedRequest:
    """Segments and query of a decoded JSON body; UnknownShape for shapes this API does not have."""
    items = body.get("input") if isinstance(body, dict) else None
    if isinstance(items, str):
        return ParsedRequest([], items, True)
    if not isinstance(items, list):
        raise UnknownShape("no input list")
    boundary = last_index(items, is_model_item)
    calls: dict[str, tuple[str, Any]] = {}
    segments: list[Segment] = []
    query = ""
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        fresh = i > boundary
        kind = _type(item)
        if kind in ("function_call", "custom_tool_call"):
            raw = item.get("arguments") if kind == "function_call" else item.get("input")
            calls[str(item.get("call_id"))] = (str(item.get("name")), parse_arguments(raw))
        elif kind in _OUTPUT_ITEMS:
            name, args = calls.get(str(item.get("call_id")), (None, {}))
            segments.extend(_output_segments(item, i, fresh, name, args))
        elif item.get("role") == "user" and kind in (None, "message"):
            texts = _user_texts(item, i)
            if texts:
                query = "\n".join(t for _, t in texts)
            segments.extend(
                Segment(path, text, "document", fresh) for path, text in texts if len(text) >= DOCUMENT_MIN_CHARS
            )
    return ParsedRequest(segments, query, boundary < 0)


def _output_segments(item: dict, i: int, fresh: bool, name, args) -> list[Segment]:
    call_id = str(item["call_id"]) if item.get("call_id") else None
    output = item.get("output")
    if isinstance(output, str):
        return [Segment(("input", i, "output"), output, "tool_output", fresh, name, args, call_id=call_id)]
    out = []
    for k, part in enumerate(output if isinstance(output, list) else []):
        if isinstance(part, dict) and part.get("type") in ("input_text", "output_text", "text"):
            if isinstance(part.get("text"), str):
                out.append(Segment(("input", i, "output", k, "text"), part["text"], "tool_output", fresh, name, args, call_id=call_id))
    return out


def _user_texts(item: dict, i: int) -> list[tuple[tuple, str]]:
    content = item.get("content")
    if isinstance(content, str):
        return [(("input", i, "content"), content)]
    out = []
    for k, part in enumerate(content if isinstance(content, list) else []):
        if isinstance(part, dict) and part.get("type") == "input_text" and isinstance(part.get("text"), str):
            out.append((("input", i, "content", k, "text"), part["text"]))
    return out


def opening(body: dict) -> tuple[Any, Any]:
    """The instructions and the first user message (or the input string)."""
    items = body.get("input")
    if isinstance(items, list):
        items = next((i.get("content") for i in items if isinstance(i, dict) and i.get("role") == "user"), None)
    return body.get("instructions"), items
