"""What one unit of a prompt is, read off its JSON whatever the API: its role, its type, the
tool calls it makes or answers, and the text the model reads in it.

A unit is what addon/cache/prompt_units.py cuts a body into: a tool definition, the system
prompt, an Anthropic content block, or a whole OpenAI/Gemini message or input item. The shapes
of the four APIs do not collide, so one reader serves them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from addon.providers.provider import parse_arguments

FRONT = {"tools": "tools", "system": "system", "instructions": "system", "systemInstruction": "system"}
# Keys whose strings the model does not read as text: ids, signatures, opaque or binary payloads.
_NOT_TEXT = {
    "id", "tool_use_id", "tool_call_id", "call_id", "signature", "thoughtSignature", "encrypted_content",
    "data", "type", "role", "cache_control", "mime_type", "mimeType", "media_type", "status", "detail",
}  # fmt: skip
_IMAGE_TYPES = {"image", "image_url", "input_image", "inlineData", "inline_data", "fileData", "file_data"}


@dataclass
class UnitFacts:
    """One unit as provenance sees it."""

    role: str  # tools | system | user | assistant | tool
    type: str  # tool | system | text | tool_call | tool_result | image | thinking | document | …
    calls: list[tuple[str, str, dict]] = field(default_factory=list)  # (call id, tool name, arguments) it makes
    answers: list[tuple[str, str]] = field(default_factory=list)  # (call id, tool name) it answers
    text: str = ""  # what the model reads, for token counts and repeats
    name: str = ""  # a tool definition's name(s)


def describe(section: str, value: Any, message_role: str | None = None) -> UnitFacts:
    """The facts of the unit `value` found under the top-level key `section`; a content block
    (Anthropic's units) takes the role of its message."""
    if section in FRONT:
        return UnitFacts(FRONT[section], FRONT[section], text=model_text(value), name=_tool_names(value) if section == "tools" else "")
    if not isinstance(value, dict):
        return UnitFacts("user", "text", text=model_text(value))
    facts = UnitFacts(_role({"role": message_role, **value} if message_role and "role" not in value else value), _type(value))
    _read_calls(value, facts)
    facts.text = model_text(value)
    if facts.answers:
        facts.role, facts.type = "tool", "tool_result"
    elif facts.calls:
        facts.role, facts.type = "assistant", "tool_call"
    return facts


def model_text(value: Any) -> str:
    """The strings the model reads in a value, joined (ids, signatures and base64 left out)."""
    if isinstance(value, str):
        return "" if value.startswith("data:") else value
    parts: list[str] = []
    _collect(value, parts)
    return "\n".join(parts)


def _collect(value: Any, parts: list[str]) -> None:
    if isinstance(value, str):
        if not value.startswith("data:"):
            parts.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in ("input", "args", "arguments") and isinstance(item, dict):
                parts.append(json.dumps(item, ensure_ascii=False))  # a tool call's arguments, as sent
            elif key not in _NOT_TEXT:
                _collect(item, parts)
    elif isinstance(value, list):
        for item in value:
            _collect(item, parts)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parts.append(str(value))


def _role(value: dict) -> str:
    role = value.get("role")
    if role == "model":  # Gemini
        return "assistant"
    if isinstance(role, str):
        return role
    kind = str(value.get("type") or "")
    if kind.endswith("_output"):  # Responses: function_call_output, custom_tool_call_output…
        return "tool"
    if kind.endswith("_call") or kind == "reasoning":
        return "assistant"
    return "user"


def _type(value: dict) -> str:
    kind = value.get("type")
    if kind in ("message", None):  # a chat message, a Responses message or a Gemini content
        return _content_type(value.get("content", value.get("parts")))
    if kind in _IMAGE_TYPES:
        return "image"
    if kind in ("thinking", "redacted_thinking", "reasoning"):
        return "thinking"
    return str(kind)


def _content_type(content: Any) -> str:
    if not isinstance(content, list):
        return "text"
    kinds = set()
    for part in content:
        if isinstance(part, dict):
            kind = part.get("type") or next((k for k in part if k in _IMAGE_TYPES or k in ("text", "thought")), "")
            kinds.add("image" if kind in _IMAGE_TYPES else "thinking" if kind == "thought" or part.get("thought") else "text")
    return "image" if kinds == {"image"} else "text"


def _read_calls(value: dict, facts: UnitFacts) -> None:
    """Tool calls and tool answers in every API's shape."""
    kind = value.get("type")
    if kind in ("tool_use", "server_tool_use"):  # Anthropic
        facts.calls.append((str(value.get("id")), str(value.get("name")), dict(parse_arguments(value.get("input")))))
    elif kind == "tool_result" or (isinstance(kind, str) and kind.endswith("_tool_result")):
        facts.answers.append((str(value.get("tool_use_id")), ""))
    elif kind in ("function_call", "custom_tool_call"):  # Responses
        args = value.get("arguments") if kind == "function_call" else {"input": value.get("input")}
        facts.calls.append((str(value.get("call_id")), str(value.get("name")), dict(parse_arguments(args))))
    elif kind == "local_shell_call":
        facts.calls.append((str(value.get("call_id")), "local_shell", {"action": value.get("action")}))
    elif isinstance(kind, str) and kind.endswith("_call_output"):
        facts.answers.append((str(value.get("call_id")), ""))
    if value.get("role") == "tool" or value.get("role") == "function":  # Chat
        facts.answers.append((str(value.get("tool_call_id") or value.get("name")), str(value.get("name") or "")))
    for call in value.get("tool_calls") or [] if isinstance(value.get("tool_calls"), list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            facts.calls.append((str(call.get("id")), str(function.get("name")), dict(parse_arguments(function.get("arguments")))))
    for part in value.get("parts") or [] if isinstance(value.get("parts"), list) else []:  # Gemini
        if not isinstance(part, dict):
            continue
        if isinstance(call := part.get("functionCall"), dict):
            facts.calls.append((str(call.get("id") or call.get("name")), str(call.get("name")), dict(parse_arguments(call.get("args")))))
        if isinstance(answer := part.get("functionResponse"), dict):
            facts.answers.append((str(answer.get("id") or answer.get("name")), str(answer.get("name") or "")))


def _tool_names(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    if isinstance(value.get("name"), str):
        return value["name"]
    function = value.get("function")
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return function["name"]
    declarations = value.get("functionDeclarations") or value.get("function_declarations")
    if isinstance(declarations, list):
        return ", ".join(str(d.get("name")) for d in declarations if isinstance(d, dict))
    return str(value.get("type") or "")
