"""A provider prompt-cache simulator with real prefix-cache rules (pure, importable).

The prompt a provider sees is a sequence of units in order: each tool definition, the system
prompt, then every content block of every message (Anthropic) or every message (OpenAI chat).
Each unit is rendered to text (without `cache_control`, which is not part of the prompt) and
counted with o200k tokens; a prefix is identified by a hash chain over the rendered texts, so
two prefixes match only when every unit up to that point is identical, not merely as long.

Anthropic (explicit caching): a cache entry exists for the prefix ending at each of the client's
`cache_control` breakpoints (at most 4; a body with none is modelled as agent clients send it,
one breakpoint at the end of the prompt), when that prefix reaches the model's minimum cacheable
length. A request reads the longest live entry that ends at one of its breakpoints or within
the 20 blocks before one; reading refreshes the entry's TTL (5 minutes, or 1 hour for
`{"ttl": "1h"}`). Tokens after the read up to the last cacheable breakpoint are written (5m: 1.25×
input, 1h: 2×, per the price table); the rest is fresh input.

OpenAI (automatic caching), for Chat Completions and Responses alike: every prompt of at least
1,024 tokens is cached at each unit boundary; a request reads the longest live cached prefix,
rounded down to 1,024 + a multiple of 128 tokens, at the table's cached-input price; there is no
write premium. Entries live 5 minutes (refreshed when read). Responses units: tools, the
`instructions`, then each input item.

Gemini (implicit caching, 2.5 models): modelled by the same prefix rule with Gemini's minimum
(2,048 tokens for Pro, GEMINI_MIN_TOKENS) and no rounding; cached tokens at the table's cached
price. Units: tools, the `systemInstruction`, then each content.

Limits: units are compared whole (a provider could also reuse the tokens of a changed unit up
to the first changed token: ignored, so reads are a slight lower bound); the per-message
overhead is a flat 3 tokens; o200k counts stand in for Anthropic's own tokenizer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache

from addon.cache.cache_rules import load_cache_rules
from addon.ledger.pricing import Price, request_cost
from addon.cache.prompt_units import without_cache_control
from addon.ledger.usage import Usage
from compressors.tokens import count_tokens

TTL_5M = 300.0
TTL_1H = 3600.0
MAX_BREAKPOINTS = load_cache_rules().max_breakpoints
LOOKBACK_BLOCKS = load_cache_rules().lookback_blocks  # Anthropic checks earlier block boundaries up to ~20 blocks before a breakpoint
OPENAI_MIN_TOKENS = 1024
OPENAI_BLOCK = 128
GEMINI_MIN_TOKENS = 2048
MESSAGE_OVERHEAD = 3  # role and separators, per message


def min_cacheable(model: str) -> int:
    """The model's minimum cacheable prefix, from the same table the proxy places breakpoints by."""
    return load_cache_rules().min_cacheable(model)


@dataclass(frozen=True)
class Unit:
    """One piece of the prompt in provider order."""

    text: str
    tokens: int
    breakpoint_ttl: float | None = None  # a cache_control breakpoint ends here


@lru_cache(maxsize=65536)
def _tokens(text: str) -> int:
    return count_tokens(text)


def _unit(text: str, header: bool, ttl: float | None = None) -> Unit:
    return Unit(text, _tokens(text) + (MESSAGE_OVERHEAD if header else 0), ttl)


def _render(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(without_cache_control(value), ensure_ascii=False, sort_keys=False)


def _ttl_of(block) -> float | None:
    if not isinstance(block, dict) or not isinstance(block.get("cache_control"), dict):
        return None
    return TTL_1H if block["cache_control"].get("ttl") == "1h" else TTL_5M


def anthropic_units(body: dict) -> list[Unit]:
    """Tools, system, then each content block of each message, in the order Anthropic caches them."""
    units: list[Unit] = []
    for tool in body.get("tools") or []:
        units.append(_unit("tool:" + _render(tool), False, _ttl_of(tool)))
    system = body.get("system")
    if isinstance(system, str):
        units.append(_unit("system:" + system, True))
    elif isinstance(system, list):
        for k, block in enumerate(system):
            units.append(_unit("system:" + _render(block), k == 0, _ttl_of(block)))
    for message in body.get("messages") or []:
        role = message.get("role", "")
        content = message.get("content")
        if isinstance(content, str):
            units.append(_unit(f"{role}:{content}", True))
            continue
        for k, block in enumerate(content or []):
            units.append(_unit(f"{role}:{_render(block)}", k == 0, _ttl_of(block)))
    return units


def openai_units(body: dict) -> list[Unit]:
    """Tools (rendered into the prompt's head), then each message."""
    units = [_unit("tool:" + _render(tool), False) for tool in body.get("tools") or []]
    for message in body.get("messages") or []:
        units.append(_unit(_render(message), True))
    return units


def responses_units(body: dict) -> list[Unit]:
    """Tools, the instructions, then each input item."""
    units = [_unit("tool:" + _render(tool), False) for tool in body.get("tools") or []]
    if body.get("instructions"):
        units.append(_unit("instructions:" + _render(body["instructions"]), True))
    items = body.get("input")
    for item in items if isinstance(items, list) else [items] if items else []:
        units.append(_unit(_render(item), True))
    return units


def gemini_units(body: dict) -> list[Unit]:
    """Tools, the system instruction, then each content."""
    units = [_unit("tool:" + _render(tool), False) for tool in body.get("tools") or []]
    if body.get("systemInstruction"):
        units.append(_unit("system:" + _render(body["systemInstruction"]), True))
    for content in body.get("contents") or []:
        units.append(_unit(_render(content), True))
    return units


def chain(units: list[Unit]) -> list[str]:
    """Prefix identities: hash i names units[0..i] exactly."""
    out, h = [], b""
    for unit in units:
        h = hashlib.sha256(h + unit.text.encode("utf-8", "surrogatepass")).digest()
        out.append(h.hex())
    return out


@dataclass
class Billed:
    """What one request was billed for, and its price."""

    input_tokens: int
    cache_read_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    output_tokens: int
    dollars: float

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens


@dataclass
class CacheSimulator:
    """One provider's cache for one account; feed it requests in time order."""

    provider: str  # "anthropic", "openai" (Chat), "responses" or "gemini"
    model: str
    price: Price
    default_ttl: float = TTL_5M  # the end-of-prompt breakpoint modelled when a body has none
    entries: dict[str, tuple[float, float]] = field(default_factory=dict)  # prefix hash -> (expires, ttl)

    @property
    def min_tokens(self) -> int:
        return min_cacheable(self.model)

    def request(self, body: dict, now: float, output_tokens: int = 0) -> Billed:
        """Bill one request sent at `now` (seconds) and update the cache."""
        if self.provider == "anthropic":
            return self._anthropic(anthropic_units(body), now, output_tokens)
        if self.provider == "gemini":
            return self._openai(gemini_units(body), now, output_tokens, GEMINI_MIN_TOKENS, 1)
        return self._openai(units_for(self.provider, body), now, output_tokens)

    def _alive(self, key: str, now: float) -> bool:
        entry = self.entries.get(key)
        return entry is not None and entry[0] > now

    def _bill(self, fresh: int, read: int, w5: int, w1: int, out: int) -> Billed:
        usage = Usage(fresh, read, w5, w1, out, self.model)
        return Billed(fresh, read, w5, w1, out, request_cost(usage, self.price))

    def _anthropic(self, units: list[Unit], now: float, out: int) -> Billed:
        hashes = chain(units)
        cumulative = _cumulative(units)
        breakpoints = [i for i, u in enumerate(units) if u.breakpoint_ttl is not None]
        ttls = {i: units[i].breakpoint_ttl for i in breakpoints}
        if len(breakpoints) > MAX_BREAKPOINTS:
            raise ValueError(f"{len(breakpoints)} cache_control breakpoints: Anthropic allows {MAX_BREAKPOINTS}")
        if not breakpoints and units:
            breakpoints, ttls = [len(units) - 1], {len(units) - 1: self.default_ttl}
        read_at = -1  # index of the last unit read from the cache
        for b in breakpoints:
            for i in range(b, max(-1, b - LOOKBACK_BLOCKS - 1), -1):
                if i > read_at and self._alive(hashes[i], now):
                    read_at = i
                    break
        read = cumulative[read_at] if read_at >= 0 else 0
        if read_at >= 0:
            _, ttl = self.entries[hashes[read_at]]
            self.entries[hashes[read_at]] = (now + ttl, ttl)
        writes = {TTL_5M: 0, TTL_1H: 0}
        covered = read
        for b in breakpoints:
            if cumulative[b] < self.min_tokens or b <= read_at:
                continue
            ttl = ttls[b] or self.default_ttl
            writes[ttl] += cumulative[b] - covered
            covered = cumulative[b]
            self.entries[hashes[b]] = (now + ttl, ttl)
        total = cumulative[-1] if units else 0
        return self._bill(total - covered, read, writes[TTL_5M], writes[TTL_1H], out)

    def _openai(self, units: list[Unit], now: float, out: int, min_tokens: int = OPENAI_MIN_TOKENS, block: int = OPENAI_BLOCK) -> Billed:
        hashes = chain(units)
        cumulative = _cumulative(units)
        total = cumulative[-1] if units else 0
        matched = -1
        for i in range(len(units) - 1, -1, -1):
            if self._alive(hashes[i], now):
                matched = i
                break
        read = 0
        if matched >= 0 and cumulative[matched] >= min_tokens:
            read = min_tokens + (cumulative[matched] - min_tokens) // block * block
        if total >= min_tokens:
            for key in hashes:  # the whole prompt (reads refresh their prefix too)
                self.entries[key] = (now + self.default_ttl, self.default_ttl)
        return self._bill(total - read, read, 0, 0, out)


def _cumulative(units: list[Unit]) -> list[int]:
    out, total = [], 0
    for unit in units:
        total += unit.tokens
        out.append(total)
    return out


def units_for(provider: str, body: dict) -> list[Unit]:
    builders = {"anthropic": anthropic_units, "responses": responses_units, "gemini": gemini_units}
    return builders.get(provider, openai_units)(body)


def common_prefix_units(a: list[Unit], b: list[Unit]) -> int:
    """How many leading units two prompts share exactly."""
    n = 0
    for x, y in zip(a, b):
        if x.text != y.text:
            break
        n += 1
    return n
