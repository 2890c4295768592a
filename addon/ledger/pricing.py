"""Prices per model family, and what a request cost and saved.

Pure (reads one JSON file). The table (addon/ledger/pricing.json by default; `headroom_pricing` or
`headroom stats --pricing` point at another) names itself and its date, so every money figure
can say which prices it used. Models match by shell glob, first match wins; a model that matches
none has no price and its money figures are unknown, never guessed.

Savings, net of cache effects. Rewrite shortens the prompt by S tokens per segment; what
those tokens would have cost depends on where they sat in the provider's cache on this request:

- a segment compressed on this request (fresh: after the model's last turn) sits in the uncached
  tail: it would have been written to the cache at the write price this request paid
  (the 5m/1h mix of its writes), or billed as plain input when it wrote nothing;
- a segment whose earlier decision was replayed sits in the prefix the provider has seen: it
  would have been read from the cache at the read price when this request read from it, else at
  the uncached rate above.

saved = Σ S × rate (per request), and rounds of the retrieve tool count against it (their whole
cost, see addon/ledger/ledger_table.py). Output tokens are assumed unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from addon.ledger.usage import Usage

DEFAULT_TABLE = Path(__file__).with_name("pricing.json")
PRICE_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


class PricingError(ValueError):
    """A pricing file that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    label: str = ""


@dataclass(frozen=True)
class PricingTable:
    name: str
    as_of: str
    entries: tuple[tuple[tuple[str, ...], Price], ...]
    path: str = ""

    @property
    def title(self) -> str:
        """How money figures name their prices: `name (as of DATE)`."""
        return f"{self.name} (as of {self.as_of})"

    def price_for(self, model: str | None) -> Price | None:
        """The price of `model`, or None when no pattern matches (unknown, never guessed)."""
        if not model:
            return None
        name = model.lower().removeprefix("models/")
        for patterns, price in self.entries:
            if any(fnmatchcase(name, p.lower()) for p in patterns):
                return price
        return None


def load_pricing(path: str | Path | None = None) -> PricingTable:
    """Read a pricing table (the bundled one when `path` is empty)."""
    source = Path(path).expanduser() if path else DEFAULT_TABLE
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except OSError as e:
        raise PricingError(f"cannot read the pricing table {source}: {e.strerror}") from e
    except ValueError as e:
        raise PricingError(f"the pricing table {source} is not valid JSON: {e}") from e
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        raise PricingError(f"the pricing table {source} needs a `models` list (see {DEFAULT_TABLE} for the format)")
    entries = []
    for index, entry in enumerate(document["models"]):
        where = f"{source}: models[{index}]"
        if not isinstance(entry, dict):
            raise PricingError(f"{where} is not an object")
        patterns = entry.get("match")
        patterns = [patterns] if isinstance(patterns, str) else patterns
        if not patterns or not all(isinstance(p, str) and p for p in patterns):
            raise PricingError(f"{where} needs `match`: a model name glob or a list of them")
        values = {}
        for field in PRICE_FIELDS:
            value = entry.get(field)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise PricingError(f"{where} needs `{field}` (USD per million tokens, a number ≥ 0)")
            values[field] = float(value)
        entries.append((tuple(patterns), Price(**values, label=str(entry.get("label") or patterns[0]))))
    name = document.get("name") or source.stem
    return PricingTable(str(name), str(document.get("as_of") or "unknown date"), tuple(entries), str(source))


def request_cost(usage: Usage, price: Price) -> float:
    """USD this usage was billed at `price`."""
    return (
        usage.input_tokens * price.input
        + usage.cache_write_5m_tokens * price.cache_write_5m
        + usage.cache_write_1h_tokens * price.cache_write_1h
        + usage.cache_read_tokens * price.cache_read
        + usage.output_tokens * price.output
    ) / 1_000_000


def uncached_rate(usage: Usage, price: Price) -> float:
    """USD per million for a prompt token in this request's uncached tail."""
    writes = usage.cache_write_tokens
    if writes:
        return (usage.cache_write_5m_tokens * price.cache_write_5m + usage.cache_write_1h_tokens * price.cache_write_1h) / writes
    return price.input


def prefix_rate(usage: Usage, price: Price) -> float:
    """USD per million for a prompt token in the prefix the provider has already seen."""
    return price.cache_read if usage.cache_read_tokens else uncached_rate(usage, price)


def segment_saving(saved_tokens: int, replayed: bool, usage: Usage, price: Price) -> float:
    """USD one compressed segment saved on this request (see the module docstring)."""
    rate = prefix_rate(usage, price) if replayed else uncached_rate(usage, price)
    return saved_tokens * rate / 1_000_000
