"""Gaps between the turns of each conversation thread, from the ledger: the evidence for the
cache TTL choice (addon/cache/cache_ttl.py), read by the proxy at start and by `headroom stats`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from addon.ledger.ledger_table import LedgerRow


@dataclass
class ClientTurns:
    """One client's threads in the ledger: gaps between turns, and prompt sizes."""

    client: str
    threads: set[str] = field(default_factory=set)
    requests: int = 0
    gaps: list[float] = field(default_factory=list)
    cached_tokens: int = 0  # cache reads, summed over requests with usage
    new_tokens: int = 0  # cache writes and uncached input
    with_usage: int = 0
    prefix_breaks: dict[str, int] = field(default_factory=dict)  # by cause
    fronts_kept: int = 0  # requests whose changed front values were moved to the end
    breakpoints: int = 0
    raised: int = 0

    @property
    def mean_cached(self) -> float:
        return self.cached_tokens / self.with_usage if self.with_usage else 0.0

    @property
    def mean_new(self) -> float:
        return self.new_tokens / self.with_usage if self.with_usage else 0.0


def client_turns(rows: Iterable[LedgerRow]) -> dict[str, ClientTurns]:
    """Per client: the turn gaps of every thread (client requests only, in time order)."""
    out: dict[str, ClientTurns] = {}
    last_seen: dict[str, float] = {}
    for row in sorted((r for r in rows if r.role == "client" and r.thread), key=lambda r: r.ts):
        turns = out.setdefault(row.client or "(unknown)", ClientTurns(row.client or "(unknown)"))
        turns.threads.add(row.thread or "")
        turns.requests += 1
        if (previous := last_seen.get(row.thread or "")) is not None:
            turns.gaps.append(row.ts - previous)
        last_seen[row.thread or ""] = row.ts
        if row.usage is not None:
            turns.with_usage += 1
            turns.cached_tokens += row.usage.cache_read_tokens
            turns.new_tokens += row.usage.input_tokens + row.usage.cache_write_tokens
        brk = row.cache.get("prefix_break")
        if isinstance(brk, dict):
            cause = str(brk.get("cause", "edit"))
            turns.prefix_breaks[cause] = turns.prefix_breaks.get(cause, 0) + 1
        turns.fronts_kept += bool(row.cache.get("moved"))
        turns.breakpoints += int(row.cache.get("breakpoints") or 0)
        turns.raised += int(row.cache.get("upgraded") or 0)
    return out
