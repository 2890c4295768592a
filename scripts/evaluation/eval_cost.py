"""What the eval costs: an estimate before each request, the billed usage after, and the budget.

Prices come from the project's pricing table (addon/ledger/pricing.py). The estimate is an upper
bound on purpose: the body's tokens counted with o200k (compressors/tokens.py) plus a margin for
tokenizers that count more (Claude's), all billed at the dearest input rate the request could
pay (a cache write where the body marks breakpoints), plus the full output cap.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from addon.ledger.pricing import Price, PricingTable, request_cost
from addon.ledger.usage import Usage
from compressors.tokens import count_tokens
from scripts.evaluation.resend_requests import ResendRequest

TOKENIZER_MARGIN = 1.25  # o200k counts up to ~20% fewer tokens than Claude's tokenizer on code and logs


@dataclass(frozen=True)
class Estimate:
    input_tokens: int  # of the body, counted with o200k
    usd: float | None  # None: the pricing table has no price for the model


def estimate(request: ResendRequest, table: PricingTable) -> Estimate:
    """The most one request should cost: its input tokens (with a margin) plus its output cap."""
    text = request.body.decode("utf-8", errors="replace")
    tokens = count_tokens(text)
    price = table.price_for(request.model)
    if price is None:
        return Estimate(tokens, None)
    rate = _dearest_input(price) if "cache_control" in text else price.input
    usd = (tokens * TOKENIZER_MARGIN * rate + request.output_cap * price.output) / 1_000_000
    return Estimate(tokens, usd)


def _dearest_input(price: Price) -> float:
    return max(price.input, price.cache_write_5m, price.cache_write_1h)


def billed(usage: Usage | None, model: str | None, table: PricingTable) -> float | None:
    """USD an answer's usage was billed at (the answer's own model first), None when unknown."""
    if usage is None:
        return None
    price = table.price_for(usage.model) or table.price_for(model)
    return request_cost(usage, price) if price is not None else None


class Budget:
    """A spending limit: a pair reserves its estimate before it is sent and settles to what it
    was billed after, so what is spent plus what is in flight never passes the limit."""

    def __init__(self, limit_usd: float | None) -> None:
        self.limit = limit_usd  # None: no limit (a dry run)
        self.spent = 0.0
        self.reserved = 0.0
        self._lock = threading.Lock()

    def reserve(self, usd: float) -> bool:
        """Hold `usd` for a request about to go out; False when it would pass the limit."""
        with self._lock:
            if self.limit is not None and self.spent + self.reserved + usd > self.limit:
                return False
            self.reserved += usd
            return True

    def settle(self, reserved_usd: float, billed_usd: float) -> None:
        """Replace a reservation with what the answers were billed."""
        with self._lock:
            self.reserved = max(0.0, self.reserved - reserved_usd)
            self.spent += billed_usd
