"""A request body as the provider's prompt cache sees it: an ordered list of units.

Anthropic renders tools, then system, then every content block of every message; OpenAI and
Gemini render tools and then each message or input item. Two requests share a cached prefix up
to their first differing unit, so comparing unit digests tells where (and how early) a
request broke the prefix its conversation had built. `cache_control` is an instruction, not
prompt text, so it is left out of a unit's text: moving a breakpoint breaks nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN = 4  # estimates only: positions in reports say "≈ tokens"


@dataclass(frozen=True)
class PromptUnit:
    """One unit of the prompt: where it sits in the body, its text, its digest."""

    label: str  # e.g. "system", "tools[2]", "messages[3].content[1]"
    text: str  # may be dropped ("") where only the digest and size are remembered
    digest: str
    chars: int

    @property
    def tokens(self) -> int:
        return self.chars // CHARS_PER_TOKEN


@dataclass(frozen=True)
class PrefixBreak:
    """Where a request stopped extending the previous request's prompt."""

    label: str  # the first unit that differs
    tokens: int  # ≈ tokens of the prompt before it (what is still cached)
    of_tokens: int  # ≈ tokens of the previous prompt (what could have been read)
    old_text: str
    new_text: str


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _unit(label: str, value: Any) -> PromptUnit:
    text = value if isinstance(value, str) else json.dumps(_strip(value), ensure_ascii=False, sort_keys=True)
    return PromptUnit(label, text, hashlib.sha256(f"{label}\x00{text}".encode("utf-8", "surrogatepass")).hexdigest()[:32], len(text))


def prompt_units(provider: str, body: dict) -> list[PromptUnit]:
    """The units of a request body in the order the provider caches them."""
    units = [_unit(f"tools[{i}]", tool) for i, tool in enumerate(body.get("tools") or [])]
    if provider == "anthropic":
        system = body.get("system")
        if isinstance(system, list):
            units += [_unit(f"system[{k}]", block) for k, block in enumerate(system)]
        elif system is not None:
            units.append(_unit("system", system))
        for i, message in enumerate(body.get("messages") or []):
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):
                units += [_unit(f"messages[{i}].content[{k}]", {"role": message.get("role"), **b} if isinstance(b, dict) else b) for k, b in enumerate(content)]
            else:
                units.append(_unit(f"messages[{i}]", _strip(message)))
        return units
    if provider == "openai_responses":
        if body.get("instructions") is not None:
            units.append(_unit("instructions", body["instructions"]))
        items = body.get("input")
        items = items if isinstance(items, list) else [items] if items is not None else []
        return units + [_unit(f"input[{i}]", item) for i, item in enumerate(items)]
    if provider == "gemini":
        system = body.get("systemInstruction") or body.get("system_instruction")
        if system is not None:
            units.append(_unit("systemInstruction", system))
        return units + [_unit(f"contents[{i}]", c) for i, c in enumerate(body.get("contents") or [])]
    return units + [_unit(f"messages[{i}]", m) for i, m in enumerate(body.get("messages") or [])]


def estimate(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN


def prefix_break(previous: list[PromptUnit], current: list[PromptUnit]) -> PrefixBreak | None:
    """Where `current` stops extending `previous`, or None when it extends it whole."""
    tokens = 0
    for old, new in zip(previous, current):
        if old.digest != new.digest:
            # where inside the unit the bytes part (when its old text was kept)
            within = len(_common_prefix(old.text, new.text)) // CHARS_PER_TOKEN if old.text else 0
            return PrefixBreak(new.label, tokens + within, total_tokens(previous), old.text, new.text)
        tokens += old.tokens
    if len(current) < len(previous):  # the conversation was cut (compaction, a new branch)
        cut = previous[len(current)]
        return PrefixBreak(cut.label, tokens, total_tokens(previous), cut.text, "")
    return None


def total_tokens(units: list[PromptUnit]) -> int:
    return sum(u.tokens for u in units)


def _common_prefix(a: str, b: str) -> str:
    limit, n, step = min(len(a), len(b)), 0, 4096
    while n < limit and a[n : n + step] == b[n : n + step]:
        n += step
    n = min(n, limit)
    while n < limit and a[n] == b[n]:
        n += 1
    return a[:n]
