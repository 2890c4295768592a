"""OpenAI Responses' prompt as its cache sees it: tools, instructions, then each input item;
`instructions` is the front the cache aligner may keep."""

from __future__ import annotations

from addon.cache.prompt_units import PromptUnit, UnitList
from addon.providers.provider import NoteTarget, chat_note_target
from addon.wire.json_splice import Path, value_at

_OUTPUTS = ("function_call_output", "custom_tool_call_output")


def prompt_units(body: dict, reuse: dict[tuple, list[PromptUnit]] | None = None) -> list[PromptUnit]:
    units = UnitList(reuse)
    units.each("tools", body.get("tools"))
    if body.get("instructions") is not None:
        units.value(("instructions",), body["instructions"])
    items = body.get("input")
    if isinstance(items, list):
        units.each("input", items)
    elif items is not None:
        units.value(("input",), items)
    return units.units


def front_strings(body: dict) -> list[tuple[Path, str]]:
    return [(("instructions",), body["instructions"])] if isinstance(body.get("instructions"), str) else []


def last_message_path(body: dict) -> Path | None:
    items = body.get("input")
    return ("input", len(items) - 1) if isinstance(items, list) and items else None


def note_target(body: dict, path: Path) -> NoteTarget | None:
    """A tool output item takes a note on its `output` string; a message as in Chat, with
    `input_text` parts."""
    try:
        item = value_at(body, path)
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(item, dict) and item.get("type") in _OUTPUTS:
        return ("suffix", path + ("output",), "") if isinstance(item.get("output"), str) else None
    return chat_note_target(body, path, "input_text")
