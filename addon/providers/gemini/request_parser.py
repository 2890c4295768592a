"""Gemini: POST .../models/{model}:generateContent and :streamGenerateContent."""

from __future__ import annotations

from typing import Any

from addon.providers.provider import UnknownShape, DOCUMENT_MIN_CHARS, ParsedRequest, Segment, last_index

# A functionResponse's `response` is free-form JSON; only its long string leaves are text
# worth compressing (short ones are values the model may need verbatim).
LEAF_MIN_CHARS = 200


def parse(body: Any) -> ParsedRequest:
    """Segments and query of a decoded JSON body; UnknownShape for shapes this API does not have."""
    contents = body.get("contents") if isinstance(body, dict) else None
    if not isinstance(contents, list):
        raise UnknownShape("no contents list")
    boundary = last_index(contents, lambda c: isinstance(c, dict) and c.get("role") == "model")
    calls: dict[str, list[Any]] = {}
    segments: list[Segment] = []
    query = ""
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            continue
        fresh = i > boundary
        parts = content.get("parts") if isinstance(content.get("parts"), list) else []
        texts: list[str] = []
        for j, part in enumerate(parts):
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("functionCall"), dict):
                call = part["functionCall"]
                calls.setdefault(str(call.get("name")), []).append(call.get("args") or {})
            elif isinstance(part.get("functionResponse"), dict):
                response = part["functionResponse"]
                name = str(response.get("name"))
                pending = calls.get(name, [])
                args = pending.pop(0) if pending else {}
                for path, text in _string_leaves(response.get("response"), ("contents", i, "parts", j, "functionResponse", "response")):
                    if len(text) >= LEAF_MIN_CHARS:
                        segments.append(Segment(path, text, "tool_output", fresh, name, args))
            elif content.get("role") != "model" and isinstance(part.get("text"), str):
                texts.append(part["text"])
                if len(part["text"]) >= DOCUMENT_MIN_CHARS:
                    segments.append(Segment(("contents", i, "parts", j, "text"), part["text"], "document", fresh))
        if texts:
            query = "\n".join(texts)
    return ParsedRequest(segments, query, boundary < 0)


def _string_leaves(value: Any, path: tuple) -> list[tuple[tuple, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _string_leaves(v, path + (k,))]
    if isinstance(value, list):
        return [leaf for k, v in enumerate(value) for leaf in _string_leaves(v, path + (k,))]
    return []


def opening(body: dict) -> tuple[Any, Any]:
    """The system instruction and the first content."""
    contents = body.get("contents") or [{}]
    return body.get("systemInstruction") or body.get("system_instruction"), contents[0] if isinstance(contents, list) else None
