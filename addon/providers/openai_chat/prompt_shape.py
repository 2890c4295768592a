"""OpenAI Chat's prompt as its cache sees it: tools, then each message; the leading system or
developer messages are the front the cache aligner may keep."""

from __future__ import annotations

from addon.cache.prompt_units import PromptUnit, UnitList
from addon.providers.provider import NoteTarget, chat_note_target
from addon.wire.json_splice import Path


def prompt_units(body: dict, reuse: dict[tuple, list[PromptUnit]] | None = None) -> list[PromptUnit]:
    units = UnitList(reuse)
    units.each("tools", body.get("tools"))
    units.each("messages", body.get("messages"))
    return units.units


def front_strings(body: dict) -> list[tuple[Path, str]]:
    """The strings of the leading system / developer messages."""
    out: list[tuple[Path, str]] = []
    for i, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict) or message.get("role") not in ("system", "developer"):
            break
        content = message.get("content")
        if isinstance(content, str):
            out.append((("messages", i, "content"), content))
        for k, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append((("messages", i, "content", k, "text"), part["text"]))
    return out


def last_message_path(body: dict) -> Path | None:
    messages = body.get("messages")
    return ("messages", len(messages) - 1) if isinstance(messages, list) and messages else None


def note_target(body: dict, path: Path) -> NoteTarget | None:
    return chat_note_target(body, path, "text")
