"""A request body as the provider's prompt cache sees it: an ordered list of units.

Anthropic renders tools, then system, then every content block of every message; OpenAI and
Gemini render tools and then each message or input item. Two requests share a cached prefix up
to their first differing unit, so comparing unit digests tells where (and how early) a
request broke the prefix its conversation had built. `cache_control` is an instruction, not
prompt text, so it is left out of a unit's text: moving a breakpoint breaks nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

CHARS_PER_TOKEN = 4  # estimates only: positions in reports say "≈ tokens"


@dataclass(frozen=True)
class PromptUnit:
    """One unit of the prompt: where it sits in the body, its text, its digest."""

    label: str  # e.g. "system", "tools[2]", "messages[3].content[1]"
    text: str  # may be dropped ("") where only the digest and size are remembered
    digest: str
    chars: int
    path: tuple = ()  # the unit's JSON path in the body

    @property
    def tokens(self) -> int:
        return self.chars // CHARS_PER_TOKEN

    @property
    def section(self) -> tuple:
        return section_of(self.path)


@dataclass(frozen=True)
class PrefixBreak:
    """Where a request stopped extending the previous request's prompt."""

    label: str  # the first unit that differs
    tokens: int  # ≈ tokens of the prompt before it (what is still cached)
    of_tokens: int  # ≈ tokens of the previous prompt (what could have been read)
    old_text: str
    new_text: str
    cut: bool = False  # the prompt ends before the previous one did (compaction, a new branch)


def without_cache_control(value: Any) -> Any:
    """A parsed value as the model sees it: `cache_control` is an instruction, not prompt text."""
    if isinstance(value, dict):
        return {k: without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [without_cache_control(v) for v in value]
    return value


def section_of(path: tuple) -> tuple:
    """The top-level entry a path lies in: ("tools", 2), ("system",), ("messages", 3)… (the
    system prompt is one section, whether a string or a list of blocks)."""
    if path[:1] == ("system",):
        return path[:1]
    return path[:2] if len(path) > 1 and isinstance(path[1], int) else path[:1]


def _label(path: tuple) -> str:
    out = str(path[0])
    for step in path[1:]:
        out += f"[{step}]" if isinstance(step, int) else f".{step}"
    return out


# The front (tools, system prompt, instructions) is rendered to text, to explain a change in it;
# conversation units only get a fingerprint, which costs no re-serialisation of large tool outputs.
_RENDERED = ("tools", "system", "instructions", "systemInstruction")


def unit(path: tuple, value: Any) -> PromptUnit:
    """The unit of one value at `path`: the front rendered to text, the conversation fingerprinted."""
    label = _label(path)
    if path[0] in _RENDERED:
        if isinstance(value, str):
            text = value
        elif isinstance(value, dict) and value.get("type") == "text" and set(value) <= {"type", "text", "cache_control"} and isinstance(value.get("text"), str | None):
            text = value.get("text") or ""  # a plain text block is its text: its lines can be diffed
        else:
            text = json.dumps(without_cache_control(value), ensure_ascii=False, sort_keys=True)
        # in-process identity only (units are never persisted): Python's string hash is enough
        return PromptUnit(label, text, f"{hash((label, text)):x}", len(text), path)
    digest, chars = _fingerprint(value)
    return PromptUnit(label, "", f"{hash((label, digest)):x}", chars, path)


def _fingerprint(value: Any) -> tuple[int, int]:
    """An in-process hash of a parsed value (keys in any order, `cache_control` left out) and
    about how many characters it renders to, without rendering it."""
    if isinstance(value, str):
        return hash(value), len(value) + 2
    if isinstance(value, dict):
        parts, chars = [], 2
        for key, item in value.items():
            if key != "cache_control":
                digest, size = _fingerprint(item)
                parts.append((key, digest))
                chars += len(key) + size + 4
        return hash(("{", tuple(sorted(parts)))), chars
    if isinstance(value, list):
        pairs = [_fingerprint(item) for item in value]
        return hash(("[", tuple(d for d, _ in pairs))), 2 + sum(n + 2 for _, n in pairs)
    return hash((type(value).__name__, value)), len(str(value))


class UnitList:
    """A body's units, collected section by section in the provider's cache order. Sections
    that `reuse` has (known unchanged since the units were last built) are not rendered again.
    Each provider's prompt_shape.py lists its sections."""

    def __init__(self, reuse: dict[tuple, list[PromptUnit]] | None = None) -> None:
        self.units: list[PromptUnit] = []
        self._reuse = reuse or {}

    def section(self, key: tuple, make: Callable[[], list[PromptUnit]]) -> None:
        self.units.extend(self._reuse[key] if key in self._reuse else make())

    def value(self, path: tuple, value: Any) -> None:
        """A section that is one unit (a tool, a system prompt, a message)."""
        self.section(path, lambda: [unit(path, value)])

    def each(self, name: str, items: Any) -> None:
        """One section per item of a top-level list (tools, messages, input, contents)."""
        for i, item in enumerate(items if isinstance(items, list) else []):
            self.value((name, i), item)


def sections(units: list[PromptUnit]) -> dict[tuple, list[PromptUnit]]:
    out: dict[tuple, list[PromptUnit]] = {}
    for unit in units:
        out.setdefault(unit.section, []).append(unit)
    return out


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
        return PrefixBreak(cut.label, tokens, total_tokens(previous), cut.text, "", cut=True)
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
