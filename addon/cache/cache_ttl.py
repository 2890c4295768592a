"""Which Anthropic cache TTL is cheaper for a session: 5 minutes or 1 hour.

A 5-minute entry costs 1.25x input to write and a 1-hour entry 2x; both are read at 0.1x, and a
read refreshes the entry. So the choice turns on the gaps between a session's turns: when a
main thread waits past 5 minutes (a sub-agent working, a person reading), a 5-minute cache has
expired and the whole prefix is written again, which a 1-hour entry would have served at 0.1x.

Expected cost of one turn, in input-token prices, for a prefix of P cached tokens and N new:
    cost(ttl) = mean over the observed gaps g of [ (g <= ttl ? P * read : P * write(ttl)) + N * write(ttl) ]
1 hour wins when its cost is lower by a margin; with too few gaps known it stays 5 minutes (the
providers' default, and what clients send).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TTL_5M, TTL_1H = "5m", "1h"
SECONDS = {TTL_5M: 300.0, TTL_1H: 3600.0}
MIN_GAPS = 3  # fewer observed gaps than this: no evidence, keep the default
MARGIN = 0.03  # 1 hour must be at least 3% cheaper to be worth a change
# Anthropic's multipliers of the input price, used when the model's prices are unknown.
WRITE_5M, WRITE_1H, READ = 1.25, 2.0, 0.1


@dataclass(frozen=True)
class TtlChoice:
    """The TTL to use, both costs per turn (input-token prices) and the reasoning in words."""

    ttl: str
    cost_5m: float
    cost_1h: float
    gaps: int
    long_gaps: int  # gaps over 5 minutes
    reason: str


def choose_ttl(
    gaps: Sequence[float],
    prefix_tokens: float,
    new_tokens: float,
    write_5m: float = WRITE_5M,
    write_1h: float = WRITE_1H,
    read: float = READ,
) -> TtlChoice:
    """The cheaper TTL for turns separated by `gaps` seconds (see the module docstring)."""
    long_gaps = sum(1 for g in gaps if g > SECONDS[TTL_5M])
    if len(gaps) < MIN_GAPS:
        return TtlChoice(TTL_5M, 0.0, 0.0, len(gaps), long_gaps, f"{len(gaps)} turn gap(s) known, fewer than {MIN_GAPS}: the default 5m")

    def cost(ttl: str, write: float) -> float:
        per_gap = [(prefix_tokens * read if g <= SECONDS[ttl] else prefix_tokens * write) + new_tokens * write for g in gaps]
        return sum(per_gap) / len(per_gap)

    c5, c1 = cost(TTL_5M, write_5m), cost(TTL_1H, write_1h)
    ttl = TTL_1H if c1 < c5 * (1 - MARGIN) else TTL_5M
    reason = (
        f"{long_gaps} of {len(gaps)} gaps > 5 min; ≈{prefix_tokens:,.0f} cached + {new_tokens:,.0f} new tokens a turn: "
        f"5m costs {c5:,.0f}, 1h {c1:,.0f} input-token units a turn → {ttl}"
    )
    return TtlChoice(ttl, c5, c1, len(gaps), long_gaps, reason)
