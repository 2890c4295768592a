"""How one proxied request becomes a ledger row: usage, session key, compression figures, money.

Pure of mitmproxy: the addon copies what it needs off the flow into `FlowFacts` on the event
loop, and `build_row` runs on the ledger's writer thread.

The session column is the conversation's key (addon/cache/conversation.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from addon.cache.conversation import SESSION_HEADERS, session_key
from addon.ledger.ledger_table import LedgerRow, SegmentFigures
from addon.ledger.pricing import PricingTable, request_cost, segment_saving
from addon.provenance.composition import response_calls
from addon.retrieval.retrieve_tool import TOOL_NAME
from addon.ledger.usage import Usage, parse_usage_bytes
from addon.providers import Provider, provider_named

_GEMINI_MODEL = re.compile(r"/models/([^/:?]+)")


@dataclass
class FlowFacts:
    """What the ledger needs from one flow, copied off it on the event loop."""

    ts: float
    provider: str
    path: str
    headers: dict[str, str]  # the session headers only
    request_body: bytes
    status: int | None = None
    response_body: bytes | None = None  # non-streamed responses
    streamed: bool = False
    streamed_usage: Usage | None = None  # from the tap, for streamed responses
    websocket: bool = False  # a Responses request sent as a WebSocket message; response_body is its `response.completed`
    meta: dict[str, Any] = field(default_factory=dict)  # flow.metadata["headroom"]
    follow_up: bool = False  # a request the proxy made itself (retrieval)
    streamed_retrieval: bool = False  # a client request answered by the loopback responder
    retrieval_rounds: int = 0
    latency_ms: float | None = None
    ttfb_ms: float | None = None


def websocket_usage(provider: Provider, message: bytes) -> Usage | None:
    """The usage of a `response.completed` (or `.incomplete`/`.failed`) event sent as a WebSocket message."""
    try:
        event = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        return None
    return provider.usage_of(event.get("response")) if isinstance(event, dict) else None


def calls_of(facts: FlowFacts) -> dict[str, str]:
    """The tool calls of a whole response (non-streamed, or a WebSocket `response.completed`)."""
    if not facts.response_body or (facts.streamed and not facts.websocket):
        return {}  # a stream over HTTP: its events were tapped, not kept
    try:
        return response_calls(json.loads(facts.response_body))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}


def request_document(raw: bytes | None) -> dict | None:
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested too deep
        return None
    return body if isinstance(body, dict) else None


def model_of(facts: FlowFacts, body: dict | None, usage: Usage | None) -> str | None:
    """The model that answered, else the one asked for (Gemini names it in the path)."""
    if usage is not None and usage.model:
        return usage.model
    if body and isinstance(body.get("model"), str):
        return body["model"]
    match = _GEMINI_MODEL.search(facts.path)
    return match.group(1) if match else None


def segments_of(meta: dict[str, Any]) -> list[SegmentFigures]:
    """The compressed segments of a rewrite report that have exact counts."""
    out = []
    for entry in meta.get("rewritten") or []:
        before, after = entry.get("tokens_before"), entry.get("tokens_after")
        if isinstance(before, int) and isinstance(after, int):
            out.append(SegmentFigures(str(entry.get("kind")), before, after, bool(entry.get("memo"))))
    return out


def build_row(facts: FlowFacts, table: PricingTable | None) -> LedgerRow:
    """The ledger row of one flow (runs on the writer thread: parses bodies, prices usage)."""
    provider = provider_named(facts.provider)
    if facts.websocket:
        usage = websocket_usage(provider, facts.response_body or b"")
    else:
        usage = facts.streamed_usage if facts.streamed else parse_usage_bytes(provider, facts.response_body or b"")
    # The request body (up to megabytes) is parsed only when something needs it: parsing holds
    # the GIL, and the event loop waits meanwhile (scripts/bench_load.py's stalls).
    needs_body = facts.follow_up or usage is None or not usage.model or not any(facts.headers.get(n) for n in SESSION_HEADERS)
    body = request_document(facts.request_body) if needs_body else None
    model = model_of(facts, body, usage)
    meta = facts.meta
    errors = [str(e) for e in meta.get("errors") or []] + ([str(meta["error"])] if meta.get("error") else [])
    row = LedgerRow(
        ts=facts.ts,
        provider=facts.provider,
        model=model,
        session=session_key(provider, facts.headers, body),
        streamed=facts.streamed,
        status=facts.status,
        usage=usage,
        segments=segments_of(meta),
        retrieval_rounds=facts.retrieval_rounds,
        errors=len(errors),
        error=errors[0][:500] if errors else None,
        latency_ms=facts.latency_ms,
        ttfb_ms=facts.ttfb_ms,
        composition=meta.get("composition") if isinstance(meta.get("composition"), list) else None,
    )
    if provider.chains_requests and row.composition is not None:
        # the next request may carry only these calls' outputs: where they come from is learnt here
        row.calls = calls_of(facts)
    cache = meta.get("cache")
    if isinstance(cache, dict) and cache:
        row.cache = {k: v for k, v in cache.items() if k not in ("thread", "client")}
        row.thread, row.client = cache.get("thread"), cache.get("client") or None
    if facts.follow_up:
        # Non-streamed follow-ups are always retrieval rounds, already summed into their
        # client's response; streamed ones are the loopback responder's rounds, billed here.
        row.role, row.billed = "follow_up", facts.streamed
        row.retrieve_round = provider.answers_retrieve(body or {}, TOOL_NAME)
    else:
        row.billed = not facts.streamed_retrieval
    price_row(row, table)
    return row


def price_row(row: LedgerRow, table: PricingTable | None) -> None:
    """Fill in cost_usd, saved_usd and pricing (None where the price or usage is unknown)."""
    row.pricing = row.cost_usd = row.saved_usd = None
    if not row.segments and not row.retrieve_round:
        row.saved_usd = 0.0  # nothing compressed: nothing saved, whatever the price
    price = table.price_for(row.model) if table else None
    if table is None or price is None or row.usage is None:
        return
    row.pricing = table.title
    row.cost_usd = request_cost(row.usage, price)
    if row.retrieve_round:
        row.saved_usd = -row.cost_usd  # a round exists only because something was folded
    elif row.role == "client":
        row.saved_usd = sum(segment_saving(s.tokens_before - s.tokens_after, s.replayed, row.usage, price) for s in row.segments)
