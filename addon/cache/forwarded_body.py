"""The parsed body as it goes out after a rewrite's edits, without parsing what was sent."""

from __future__ import annotations

import json
from typing import Any

from addon.wire.json_splice import AddMember, Append, Edit, Path, Replacement, ReplaceElement


def with_edits(body: dict, edits: list[Edit]) -> dict:
    """The parsed body as it goes out after `edits`: the top level and the containers on the
    way to each edit are copied, everything else is shared with `body` (no deep copy)."""
    out = dict(body)
    copied: set[Path] = {()}

    def container(path: Path) -> Any:
        node = out
        for depth, step in enumerate(path):
            child = node[step]
            if path[: depth + 1] not in copied:
                child = dict(child) if isinstance(child, dict) else list(child)
                node[step] = child
                copied.add(path[: depth + 1])
            node = child
        return node

    # An element replaced by several shifts the indices after it: those go last, the highest
    # index first, so every edit's path still names the body as it came.
    elements = sorted((e for e in edits if isinstance(e, ReplaceElement)), key=lambda e: -int(e.path[-1]))
    for edit in [e for e in edits if not isinstance(e, ReplaceElement)] + elements:
        if isinstance(edit, Replacement):
            container(edit.path[:-1])[edit.path[-1]] = edit.text
        elif isinstance(edit, Append):
            container(edit.path).append(json.loads(edit.literal))
        elif isinstance(edit, ReplaceElement):
            index = int(edit.path[-1])
            container(edit.path[:-1])[index : index + 1] = [json.loads(literal) for literal in edit.literals]
        else:
            container(edit.path)[edit.key] = json.loads(edit.literal)
    return out


def instruction_only(edit: Edit) -> bool:
    """Edits of `cache_control` (placing or raising breakpoints) change no prompt text."""
    if isinstance(edit, AddMember):
        return edit.key == "cache_control" or (edit.key == "ttl" and edit.path[-1:] == ("cache_control",))
    return isinstance(edit, Replacement) and edit.path[-2:] == ("cache_control", "ttl")
