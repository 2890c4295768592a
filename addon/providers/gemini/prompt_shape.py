"""Gemini's prompt as its cache sees it: tools, the system instruction, then each content."""

from __future__ import annotations

from addon.cache.prompt_units import PromptUnit, UnitList
from addon.providers.gemini.request_parser import request_of, root
from addon.providers.provider import NoteTarget
from addon.wire.json_splice import Path, value_at


def prompt_units(body: dict, reuse: dict[tuple, list[PromptUnit]] | None = None) -> list[PromptUnit]:
    body = request_of(body)  # Gemini CLI's wrapper: the model and project are not prompt
    units = UnitList(reuse)
    units.each("tools", body.get("tools"))
    system = body.get("systemInstruction") or body.get("system_instruction")
    if system is not None:
        units.value(("systemInstruction",), system)
    units.each("contents", body.get("contents"))
    return units.units


def front_strings(body: dict) -> list[tuple[Path, str]]:
    """The system instruction's text parts: the front the cache aligner may keep."""
    base = root(body)
    system = request_of(body).get("systemInstruction")
    parts = system.get("parts") if isinstance(system, dict) else None
    return [
        (base + ("systemInstruction", "parts", k, "text"), part["text"])
        for k, part in enumerate(parts if isinstance(parts, list) else [])
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]


def last_message_path(body: dict) -> Path | None:
    contents = request_of(body).get("contents")
    return root(body) + ("contents", len(contents) - 1) if isinstance(contents, list) and contents else None


def note_target(body: dict, path: Path) -> NoteTarget | None:
    """A user content takes a note as a new text part."""
    try:
        content = value_at(body, path)
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(content, dict) and content.get("role", "user") == "user" and isinstance(content.get("parts"), list):
        return ("append", path + ("parts",), "")
    return None
