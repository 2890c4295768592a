"""The providers' prompt-cache rules that placement depends on, from a table users can update."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

DEFAULT_RULES = Path(__file__).with_name("cache_rules.json")


@dataclass(frozen=True)
class CacheRules:
    """Minimum cacheable lengths per model glob, the breakpoint limit and the lookback."""

    title: str
    min_tokens: tuple[tuple[tuple[str, ...], int], ...]
    max_breakpoints: int = 4
    lookback_blocks: int = 20

    def min_cacheable(self, model: object) -> int:
        name = model.lower() if isinstance(model, str) else ""  # a model that is not a string: the default
        for patterns, tokens in self.min_tokens:
            if any(fnmatchcase(name, p) for p in patterns):
                return tokens
        return 1024


@lru_cache(maxsize=8)
def load_cache_rules(path: str | None = None) -> CacheRules:
    data = json.loads(Path(path or DEFAULT_RULES).read_text(encoding="utf-8"))
    entries = tuple((tuple(e["match"]), int(e["tokens"])) for e in data["min_cacheable_tokens"])
    return CacheRules(data.get("name", str(path)), entries, int(data.get("max_breakpoints", 4)), int(data.get("lookback_blocks", 20)))
