"""The notes that tell the model a kept system prompt's new values, and how they go into a message.

A note goes at the end of the request when the front is forwarded as first sent; it is replayed
on the same message in every later request, which is recognised across restarts by its digest
(its breakpoints, which clients move, left out).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from addon.cache.prompt_units import without_cache_control
from addon.compression.decision_memo import content_key
from addon.wire.json_splice import Append, Edit, Path, value_at

if TYPE_CHECKING:
    from addon.providers.provider import NoteTarget

NOTE_HEAD = "[headroom: the system prompt above is forwarded as first sent in this conversation, to keep it cached; these of its lines have changed since and now read:]"
NOTE_BACK = "[headroom: the system prompt above is current again.]"


def add_note(target: NoteTarget, note: str, edits: list[Edit], suffixes: list[tuple[Path, str]]) -> None:
    how, path, part = target
    if how == "append":
        value = {"type": part, "text": note} if part else {"text": note}  # Gemini parts have no type
        edits.append(Append(path, json.dumps(value, ensure_ascii=False)))
    else:
        suffixes.append((path, "\n\n" + note))


def note_text(found: list) -> str:
    lines = [line.rstrip("\n") for change in found for line in change.new_lines if line.strip()]
    return "\n".join([NOTE_HEAD, *lines]) if lines else NOTE_BACK


def message_digest(body: dict, path: Path) -> str:
    """A message's identity across restarts; its breakpoints (which clients move) left out."""
    return content_key(json.dumps(without_cache_control(value_at(body, path)), sort_keys=True, ensure_ascii=False))
