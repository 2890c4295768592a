"""How one proxied request becomes a ledger row: usage, session key, compression figures, money.

Pure of mitmproxy: the addon copies what it needs off the flow into `FlowFacts` on the event
loop, and `build_row` runs on the ledger's writer thread.

Session key (a stable conversation key, hashed; the first rule that applies wins):
1. the client's own session id header: `x-claude-code-session-id` (Claude Code), `session_id` (Codex);
2. the body's `metadata.user_id` (Anthropic; Claude Code's names its session) or `prompt_cache_key` (OpenAI);
3. else the conversation's opening: the system prompt (or `instructions` / `systemInstruction`)
   and the first user message, first 2,000 characters of each as JSON, without their dynamic
   values (dates, times, ids: `dynamic_fields.skeleton`). Every turn of an agent loop re-sends
   both, so its requests share the key.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from addon.cache.dynamic_fields import skeleton
from addon.ledger.ledger_table import LedgerRow, SegmentFigures
from addon.ledger.pricing import PricingTable, request_cost, segment_saving
from addon.cache.prompt_units import without_cache_control
from addon.retrieval.retrieve_tool import TOOL_NAME
from addon.ledger.usage import Usage, parse_usage, parse_usage_bytes

SESSION_HEADERS = {"x-claude-code-session-id": "claude-code", "session_id": "codex"}
OPENING_CHARS = 2000
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


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _opening(provider: str, body: dict) -> tuple[Any, Any]:
    """The system prompt and the first user message of a request body."""
    if provider == "anthropic":
        first = next((m.get("content") for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"), None)
        return body.get("system"), first
    if provider == "openai_chat":
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        system = next((m.get("content") for m in messages if m.get("role") in ("system", "developer")), None)
        return system, next((m.get("content") for m in messages if m.get("role") == "user"), None)
    if provider == "openai_responses":
        items = body.get("input")
        if isinstance(items, list):
            items = next((i.get("content") for i in items if isinstance(i, dict) and i.get("role") == "user"), None)
        return body.get("instructions"), items
    contents = body.get("contents") or [{}]
    return body.get("systemInstruction") or body.get("system_instruction"), contents[0] if isinstance(contents, list) else None


def session_key(provider: str, headers: dict[str, str], body: dict | None) -> str:
    """The conversation this request belongs to (see the module docstring for the rule)."""
    for name, client in SESSION_HEADERS.items():
        if value := headers.get(name):
            return f"{client}:{_digest(value)}"
    body = body or {}
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
        return f"user:{_digest(metadata['user_id'])}"
    if isinstance(body.get("prompt_cache_key"), str) and body["prompt_cache_key"]:
        return f"cache-key:{_digest(body['prompt_cache_key'])}"
    system, first = _opening(provider, body)
    return f"prompt:{_digest(provider, _opening_text(system), _opening_text(first))}"


def _opening_text(value: Any) -> str:
    """The first OPENING_CHARS of a prompt part without its dynamic values and snapshot lines
    (`dynamic_fields.skeleton`): a clock in the system prompt, or a breakpoint the client moves,
    must not make every turn a conversation of its own."""
    if isinstance(value, str):
        text = value
    else:  # structured: lines as lines, so snapshot lines are recognised
        text = json.dumps(without_cache_control(value), sort_keys=True, ensure_ascii=False).replace("\\n", "\n")
    head = text[: 2 * OPENING_CHARS]
    if len(text) > len(head) and "\n" in head:
        head = head.rsplit("\n", 1)[0]  # whole lines only: a value cut in two would not be recognised
    return skeleton(head)[:OPENING_CHARS]


def answers_retrieve(provider: str, body: dict | None) -> bool:
    """Whether a follow-up body ends with the answer to a retrieve call (a retrieval round)."""
    messages = [m for m in (body or {}).get("messages") or [] if isinstance(m, dict)]
    assistant = next((m for m in reversed(messages) if m.get("role") == "assistant"), None)
    if assistant is None or messages[-1] is assistant:
        return False
    if provider == "anthropic":
        blocks = assistant.get("content") if isinstance(assistant.get("content"), list) else []
        names = [b.get("name") for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"]
    else:
        names = [(c.get("function") or {}).get("name") for c in assistant.get("tool_calls") or [] if isinstance(c, dict)]
    return any(isinstance(n, str) and n.startswith(TOOL_NAME) for n in names)


def websocket_usage(provider: str, message: bytes) -> Usage | None:
    """The usage of a `response.completed` (or `.incomplete`/`.failed`) event sent as a WebSocket message."""
    try:
        event = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        return None
    return parse_usage(provider, event.get("response")) if isinstance(event, dict) else None


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
    try:
        body = json.loads(facts.request_body) if facts.request_body else None
    except (ValueError, UnicodeDecodeError):
        body = None
    body = body if isinstance(body, dict) else None
    if facts.websocket:
        usage = websocket_usage(facts.provider, facts.response_body or b"")
    else:
        usage = facts.streamed_usage if facts.streamed else parse_usage_bytes(facts.provider, facts.response_body or b"")
    model = model_of(facts, body, usage)
    meta = facts.meta
    errors = [str(e) for e in meta.get("errors") or []] + ([str(meta["error"])] if meta.get("error") else [])
    row = LedgerRow(
        ts=facts.ts,
        provider=facts.provider,
        model=model,
        session=session_key(facts.provider, facts.headers, body),
        streamed=facts.streamed,
        status=facts.status,
        usage=usage,
        segments=segments_of(meta),
        retrieval_rounds=facts.retrieval_rounds,
        errors=len(errors),
        error=errors[0][:500] if errors else None,
        latency_ms=facts.latency_ms,
        ttfb_ms=facts.ttfb_ms,
    )
    cache = meta.get("cache")
    if isinstance(cache, dict) and cache:
        row.cache = {k: v for k, v in cache.items() if k not in ("thread", "client")}
        row.thread, row.client = cache.get("thread"), cache.get("client") or None
    if facts.follow_up:
        # Non-streamed follow-ups are always retrieval rounds, already summed into their
        # client's response; streamed ones are the loopback responder's rounds, billed here.
        row.role, row.billed = "follow_up", facts.streamed
        row.retrieve_round = answers_retrieve(facts.provider, body)
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
