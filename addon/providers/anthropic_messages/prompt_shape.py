"""Anthropic's prompt as its cache sees it: tools, then system, then every content block of
every message; the system prompt is the front the cache aligner may keep."""

from __future__ import annotations

from typing import Any

from addon.cache.prompt_units import PromptUnit, UnitList, unit, without_cache_control
from addon.providers.provider import NoteTarget, chat_note_target
from addon.wire.json_splice import Path


def prompt_units(body: dict, reuse: dict[tuple, list[PromptUnit]] | None = None) -> list[PromptUnit]:
    units = UnitList(reuse)
    units.each("tools", body.get("tools"))
    system = body.get("system")
    if isinstance(system, list):
        units.section(("system",), lambda: [unit(("system", k), block) for k, block in enumerate(system)])
    elif system is not None:
        units.value(("system",), system)
    for i, message in enumerate(body.get("messages") or []):
        units.section(("messages", i), lambda i=i, message=message: _message_units(i, message))
    return units.units


def _message_units(i: int, message: Any) -> list[PromptUnit]:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        role = message.get("role")
        return [unit(("messages", i, "content", k), {"role": role, **b} if isinstance(b, dict) else b) for k, b in enumerate(content)]
    return [unit(("messages", i), without_cache_control(message))]


def front_strings(body: dict) -> list[tuple[Path, str]]:
    """The system prompt's strings (a string, or the text blocks of a list)."""
    system = body.get("system")
    if isinstance(system, str):
        return [(("system",), system)]
    return [
        (("system", k, "text"), block["text"])
        for k, block in enumerate(system if isinstance(system, list) else [])
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
    ]


def last_message_path(body: dict) -> Path | None:
    messages = body.get("messages")
    return ("messages", len(messages) - 1) if isinstance(messages, list) and messages else None


def note_target(body: dict, path: Path) -> NoteTarget | None:
    return chat_note_target(body, path, "text")
