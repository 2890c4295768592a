"""Anthropic `cache_control` breakpoints: placed where the client placed none, and the TTL of
the client's own raised to 1 hour when that is cheaper.

Anthropic caches a prefix only up to a breakpoint, and on a later request looks for a cached
prefix at its breakpoints and up to ~20 content blocks before each. A request without any
breakpoint (and without top-level automatic caching) is cached not at all. Placement, at most
four, each only where the prefix before it reaches the model's minimum cacheable length:

1. the end of the static front: the last system block when `system` is a list of blocks,
   else the last tool (a string `system` is never turned into blocks: `system` is not touched);
2. the last block of the conversation, which the next turn reads;
3. and 4. blocks about 15 and 30 blocks before it (the lookback less a margin), so a turn that added more than 20 blocks
   (parallel tool calls) still finds the previous turn's entry within a lookback.

A breakpoint is an instruction, not prompt text: adding one changes no cached byte. Thinking
blocks and empty text blocks cannot carry one. When entries of both TTLs are used, 1-hour ones
must precede 5-minute ones; every breakpoint placed here gets the same TTL, so that holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from addon.wire.json_splice import AddMember, Edit, Path, Replacement, value_at

LOOKBACK_MARGIN = 5  # breakpoints are spaced this many blocks inside the provider's lookback
CHARS_PER_TOKEN = 4
_UNMARKABLE = {"thinking", "redacted_thinking"}


@dataclass(frozen=True)
class Placement:
    """Breakpoint edits for one request, and what they are for (for the report)."""

    edits: list[Edit]
    added: int = 0  # breakpoints placed
    upgraded: int = 0  # client breakpoints raised to 1 hour


def client_breakpoints(body: dict) -> list[Path]:
    """Paths of the objects carrying a `cache_control` the client set (top level included)."""
    found: list[Path] = [()] if isinstance(body.get("cache_control"), dict) else []
    tools = body.get("tools")
    for k, tool in enumerate(tools if isinstance(tools, list) else []):
        if isinstance(tool, dict) and isinstance(tool.get("cache_control"), dict):
            found.append(("tools", k))
    system = body.get("system")
    for k, block in enumerate(system if isinstance(system, list) else []):
        if isinstance(block, dict) and isinstance(block.get("cache_control"), dict):
            found.append(("system", k))
    messages = body.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        for k, block in enumerate(content if isinstance(content, list) else []):
            if isinstance(block, dict) and isinstance(block.get("cache_control"), dict):
                found.append(("messages", i, "content", k))
    return found


def _markable(block: Any) -> bool:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str) or block.get("type") in _UNMARKABLE:
        return False
    return not (block.get("type") == "text" and not block.get("text"))


def control_literal(ttl: str) -> str:
    return '{"type":"ephemeral","ttl":"1h"}' if ttl == "1h" else '{"type":"ephemeral"}'


def place(
    body: dict,
    ttl: str,
    min_tokens: int,
    max_breakpoints: int = 4,
    deltas: dict[Path, int] | None = None,
    sizes: dict[Path, int] | None = None,
    lookback: int = 20,
) -> Placement:
    """Breakpoints for a body that has none (see the module docstring); none if it has some.
    `deltas` corrects the size of message blocks that compression shortened (chars, by block
    path); `sizes` are known sizes of blocks (by path), so they are not rendered again."""
    deltas = deltas or {}
    known = sizes or {}

    def _size(value: Any, path: Path = ()) -> int:
        if path in known:
            return known[path]
        return len(value) if isinstance(value, str) else len(json.dumps(value, ensure_ascii=False))

    if client_breakpoints(body):
        return Placement([])
    chars = 0
    front: tuple[Path, int] | None = None
    tools = body.get("tools")
    for k, tool in enumerate(tools if isinstance(tools, list) else []):
        chars += _size(tool, ("tools", k))
        if isinstance(tool, dict):
            front = (("tools", k), chars)
    system = body.get("system")
    if isinstance(system, list):
        for k, block in enumerate(system):
            chars += _size(block, ("system", k))
            if _markable(block):
                front = (("system", k), chars)
    elif system is not None:
        chars += _size(system, ("system",))
    blocks: list[tuple[Path | None, int]] = []  # every message block in order, with the prefix size after it
    messages = body.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            chars += _size(content or "", ("messages", i))
            blocks.append((None, chars))
            continue
        for k, block in enumerate(content):
            chars += _size(block, ("messages", i, "content", k)) + deltas.get(("messages", i, "content", k), 0)
            blocks.append((("messages", i, "content", k) if _markable(block) else None, chars))
    chosen: list[tuple[Path, int]] = []
    target = len(blocks) - 1
    while target >= 0 and len(chosen) < max_breakpoints - (1 if front else 0):
        at = next((j for j in range(target, -1, -1) if blocks[j][0] is not None), None)
        if at is None:
            break
        chosen.append((blocks[at][0], blocks[at][1]))  # type: ignore[arg-type]
        target = at - (lookback - LOOKBACK_MARGIN)
    if front is not None:
        chosen.append(front)
    edits: list[Edit] = [
        AddMember(path, "cache_control", control_literal(ttl)) for path, size in chosen if size // CHARS_PER_TOKEN >= min_tokens
    ]
    return Placement(edits, added=len(edits))


def raise_to_1h(body: dict) -> Placement:
    """Raise the client's 5-minute breakpoints to 1 hour, unless it set any TTL itself."""
    paths = client_breakpoints(body)
    controls = [value_at(body, path)["cache_control"] for path in paths]
    if not paths or any("ttl" in control and control.get("ttl") not in ("5m",) for control in controls):
        return Placement([])
    edits: list[Edit] = []
    for path, control in zip(paths, controls):
        if control.get("ttl") == "5m":
            edits.append(Replacement(path + ("cache_control", "ttl"), "1h"))
        else:
            edits.append(AddMember(path + ("cache_control",), "ttl", '"1h"'))
    return Placement(edits, upgraded=len(edits))
