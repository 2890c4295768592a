"""`headroom stats`: the savings ledger summed per session, per model and per compressor kind.

Every row is priced again with one table (`--pricing FILE`, default the bundled list prices), so
all money figures in one report use the same prices and say which. Formula (addon/ledger/pricing.py):

    saved = Σ over compressed segments of (tokens before − after) × the rate those tokens would
            have paid at this request's observed cache state (fresh segments: the request's cache
            write rate, or input when it wrote nothing; replayed segments: the cache read rate
            when the request read from cache)
          − the whole cost of every retrieval round (requests that exist only to unfold).

Spend is the sum of billed rows (addon/ledger/ledger_table.py says which rows are billed).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from rich.console import Console
from rich.table import Table

from addon.cache.cache_ttl import choose_ttl
from addon.ledger.flow_record import price_row
from addon.ledger.ledger_table import LedgerRow
from addon.ledger.pricing import PricingTable, segment_saving
from addon.ledger.turn_gaps import client_turns

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SESSIONS_SHOWN = 20


def parse_since(text: str, now: float | None = None) -> float:
    """`24h`, `7d`, `30m`, `2w` ago, or an ISO date/time, as a Unix time."""
    now = time.time() if now is None else now
    if match := _SPAN.match(text.strip().lower()):
        return now - float(match.group(1)) * _SECONDS[match.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"--since {text!r}: give a span such as 24h, 7d, 30m, or a date such as 2025-11-20") from None


@dataclass
class Group:
    """Figures summed over a set of ledger rows."""

    name: str
    requests: int = 0  # client requests
    tokens_before: int = 0
    tokens_after: int = 0
    cost_usd: float = 0.0  # billed rows with a known price
    saved_usd: float = 0.0
    unpriced: int = 0  # billed rows whose model or usage has no price
    unpriced_savings: int = 0  # rows that compressed, but whose saving has no price
    prompt_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    retrieve_rounds: int = 0
    errors: int = 0
    models: set[str] = field(default_factory=set)
    last_ts: float = 0.0

    @property
    def tokens_saved(self) -> int:
        return self.tokens_before - self.tokens_after

    @property
    def cache_hit_ratio(self) -> float | None:
        return self.cache_read_tokens / self.prompt_tokens if self.prompt_tokens else None

    @property
    def retrieve_rate(self) -> float | None:
        return self.retrieve_rounds / self.requests if self.requests else None

    def add(self, row: LedgerRow) -> None:
        self.last_ts = max(self.last_ts, row.ts)
        self.errors += row.errors
        if row.model:
            self.models.add(row.model)
        if row.role == "client":
            self.requests += 1
            self.tokens_before += row.tokens_before
            self.tokens_after += row.tokens_after
        self.retrieve_rounds += int(row.retrieve_round)
        self.saved_usd += row.saved_usd or 0.0
        self.unpriced_savings += row.saved_usd is None
        if row.billed:
            if row.cost_usd is None:
                self.unpriced += 1
            else:
                self.cost_usd += row.cost_usd
            if row.usage is not None:
                self.prompt_tokens += row.usage.prompt_tokens
                self.cache_read_tokens += row.usage.cache_read_tokens
                self.cache_write_tokens += row.usage.cache_write_tokens

    def as_dict(self) -> dict:
        data = asdict(self)
        data["models"] = sorted(self.models)
        data |= {"tokens_saved": self.tokens_saved, "cache_hit_ratio": self.cache_hit_ratio, "retrieve_rate": self.retrieve_rate}
        return data


@dataclass
class KindGroup:
    kind: str
    segments: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    saved_usd: float = 0.0  # gross: retrieval rounds are not attributable to a kind

    def as_dict(self) -> dict:
        return asdict(self) | {"tokens_saved": self.tokens_before - self.tokens_after}


@dataclass
class CacheGroup:
    """One client's prompt-cache figures: what broke prefixes, what the aligner did, and the
    TTL its turn gaps call for, with the reasoning."""

    client: str
    threads: int
    requests: int
    prefix_breaks: dict[str, int]
    fronts_kept: int
    breakpoints: int
    raised_to_1h: int
    ttl: str
    ttl_reason: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    pricing: str
    since: float | None
    total: Group
    sessions: list[Group]
    models: list[Group]
    kinds: list[KindGroup]
    cache: list[CacheGroup] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "pricing": self.pricing,
            "since": self.since,
            "total": self.total.as_dict(),
            "sessions": [g.as_dict() for g in self.sessions],
            "models": [g.as_dict() for g in self.models],
            "kinds": [k.as_dict() for k in self.kinds],
            "cache": [c.as_dict() for c in self.cache],
        }


def summarize(rows: Iterable[LedgerRow], table: PricingTable, since: float | None = None) -> Report:
    """Price every row with `table` and sum the figures per session, model and kind."""
    rows = list(rows)
    total = Group("all")
    sessions: dict[str, Group] = {}
    models: dict[str, Group] = {}
    kinds: dict[str, KindGroup] = {}
    for stored in rows:
        row = replace(stored)
        price_row(row, table)
        total.add(row)
        sessions.setdefault(row.session, Group(row.session)).add(row)
        models.setdefault(row.model or "(unknown)", Group(row.model or "(unknown)")).add(row)
        price = table.price_for(row.model)
        for segment in row.segments if row.role == "client" else []:
            group = kinds.setdefault(segment.kind, KindGroup(segment.kind))
            group.segments += 1
            group.tokens_before += segment.tokens_before
            group.tokens_after += segment.tokens_after
            if price is not None and row.usage is not None:
                group.saved_usd += segment_saving(segment.tokens_before - segment.tokens_after, segment.replayed, row.usage, price)
    return Report(
        table.title,
        since,
        total,
        sorted(sessions.values(), key=lambda g: g.last_ts, reverse=True),
        sorted(models.values(), key=lambda g: g.cost_usd, reverse=True),
        sorted(kinds.values(), key=lambda k: k.tokens_before - k.tokens_after, reverse=True),
        cache_groups(rows),
    )


def cache_groups(rows: list[LedgerRow]) -> list[CacheGroup]:
    """Per client: prefix breaks by cause, the aligner's work, and the TTL choice it would make now."""
    out = []
    for turns in sorted(client_turns(rows).values(), key=lambda t: t.requests, reverse=True):
        choice = choose_ttl(turns.gaps, turns.mean_cached, turns.mean_new)
        out.append(
            CacheGroup(turns.client, len(turns.threads), turns.requests, dict(sorted(turns.prefix_breaks.items())),
                       turns.fronts_kept, turns.breakpoints, turns.raised, choice.ttl, choice.reason)
        )  # fmt: skip
    return out


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _usd(value: float, unpriced: int = 0) -> str:
    return f"${value:,.4f}" + (f" +{unpriced} unpriced" if unpriced else "")


def _group_table(title: str, first: str, groups: list[Group]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in (first, "requests", "tokens before → after", "saved", "spend", "saved $ (net)", "cache hits", "retrieve rate"):
        table.add_column(name, justify="left" if name == first else "right", no_wrap=True)
    for g in groups:
        share = f" (−{100 * g.tokens_saved / g.tokens_before:.0f}%)" if g.tokens_before else ""
        table.add_row(
            g.name, str(g.requests), f"{g.tokens_before:,} → {g.tokens_after:,}", f"{g.tokens_saved:,}{share}",
            _usd(g.cost_usd, g.unpriced), _usd(g.saved_usd, g.unpriced_savings), _pct(g.cache_hit_ratio), _pct(g.retrieve_rate),
        )  # fmt: skip
    return table


def render(report: Report, console: Console) -> None:
    """The report as rich tables."""
    t = report.total
    since = f" since {datetime.fromtimestamp(report.since):%Y-%m-%d %H:%M}" if report.since else ""
    console.print(f"[bold]Headroom savings ledger[/bold]{since}: {t.requests} requests, prices: {report.pricing}")
    if not t.requests and not t.retrieve_rounds:
        console.print("No requests recorded yet. Run a client through the proxy (`headroom wrap …`).")
        return
    console.print(_group_table("Total", "", [t]))
    console.print(_group_table(f"Sessions (latest {SESSIONS_SHOWN})", "session", report.sessions[:SESSIONS_SHOWN]))
    console.print(_group_table("Models", "model", report.models))
    kinds = Table(title="Compressor kinds", title_justify="left")
    for name in ("kind", "segments", "tokens before → after", "saved", "saved $ (gross)"):
        kinds.add_column(name, justify="left" if name == "kind" else "right", no_wrap=True)
    for k in report.kinds:
        saved = k.tokens_before - k.tokens_after
        share = f" (−{100 * saved / k.tokens_before:.0f}%)" if k.tokens_before else ""
        kinds.add_row(k.kind, str(k.segments), f"{k.tokens_before:,} → {k.tokens_after:,}", f"{saved:,}{share}", _usd(k.saved_usd))
    console.print(kinds)
    if report.cache:
        cache = Table(title="Prompt cache per client (the cache aligner)", title_justify="left")
        for name in ("client", "threads", "requests", "prefix breaks", "fronts kept", "breakpoints", "raised to 1h", "TTL", "why"):
            cache.add_column(name, justify="left" if name in ("client", "prefix breaks", "why") else "right", no_wrap=name != "why")
        for c in report.cache:
            breaks = ", ".join(f"{n} {cause}" for cause, n in c.prefix_breaks.items()) or "none"
            cache.add_row(c.client, str(c.threads), str(c.requests), breaks, str(c.fronts_kept), str(c.breakpoints), str(c.raised_to_1h), c.ttl, c.ttl_reason)
        console.print(cache)
    console.print(
        "saved $ (net) = what the compressed tokens would have cost at each request's observed cache state "
        "(fresh: cache-write or input rate; replayed: cache-read rate when the request read from cache) "
        "− the cost of retrieval rounds. Cache hits = cache-read tokens / prompt tokens of billed requests.",
        style="dim",
    )
