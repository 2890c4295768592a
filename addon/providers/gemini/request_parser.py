"""Gemini: POST .../models/{model}:generateContent and :streamGenerateContent (the Gemini API,
Vertex AI), and Gemini CLI's Google-login endpoint, `/v1internal:…`, whose body wraps the same
request: `{"model", "project", "user_prompt_id", "request": {"contents", …, "session_id"}}`."""

from __future__ import annotations

from typing import Any

from addon.providers.provider import DOCUMENT_MIN_CHARS, ParsedRequest, Segment, UnknownShape, last_index, parse_arguments

# A functionResponse's `response` is free-form JSON; only its long string leaves are text
# worth compressing (short ones are values the model may need verbatim).
LEAF_MIN_CHARS = 200


def root(body: Any) -> tuple:
    """Where the Gemini request sits in a body: () or, for Gemini CLI's wrapper, ("request",)."""
    if isinstance(body, dict) and "contents" not in body and isinstance(body.get("request"), dict):
        return ("request",)
    return ()


def request_of(body: Any) -> Any:
    """The Gemini request in a body (the body itself, or what Gemini CLI wraps)."""
    return body["request"] if root(body) else body


def parse(body: Any) -> ParsedRequest:
    """Segments and query of a decoded JSON body; UnknownShape for shapes this API does not have."""
    base = root(body)
    request = request_of(body)
    contents = request.get("contents") if isinstance(request, dict) else None
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
                calls.setdefault(str(call.get("name")), []).append(parse_arguments(call.get("args")))
            elif isinstance(part.get("functionResponse"), dict):
                response = part["functionResponse"]
                name = str(response.get("name"))
                pending = calls.get(name, [])
                args = pending.pop(0) if pending else {}
                for path, text in _string_leaves(response.get("response"), base + ("contents", i, "parts", j, "functionResponse", "response")):
                    if len(text) >= LEAF_MIN_CHARS:
                        segments.append(Segment(path, text, "tool_output", fresh, name, args))
            elif content.get("role") != "model" and isinstance(part.get("text"), str):
                texts.append(part["text"])
                if len(part["text"]) >= DOCUMENT_MIN_CHARS:
                    segments.append(Segment(base + ("contents", i, "parts", j, "text"), part["text"], "document", fresh))
        if texts:
            query = "\n".join(texts)
    return ParsedRequest(segments, query, boundary < 0)


def _string_leaves(value: Any, path: tuple) -> list[tuple[tuple, str]]:
    """Every string in a JSON value with its path, in document order (no recursion: a
    functionResponse may nest deeper than Python's stack)."""
    out: list[tuple[tuple, str]] = []
    stack: list[tuple[tuple, Any]] = [(path, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            out.append((where, node))
        elif isinstance(node, dict):
            stack.extend((where + (k,), v) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((where + (k,), v) for k, v in reversed(list(enumerate(node))))
    return out


def opening(body: dict) -> tuple[Any, Any]:
    """The system instruction and the first content."""
    request = request_of(body)
    contents = request.get("contents") or [{}]
    return request.get("systemInstruction") or request.get("system_instruction"), contents[0] if isinstance(contents, list) else None


def session_id(body: dict) -> str | None:
    """Gemini CLI's session id, which its wrapped requests carry."""
    value = request_of(body).get("session_id") if isinstance(request_of(body), dict) else None
    return value if isinstance(value, str) and value else None
