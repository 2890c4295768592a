"""The Ledger addon with the real Compression addon before it: ledger lines on flows, WebSocket rows.

Each scenario runs in one real event loop (asyncio.run), as mitmproxy's hooks do; rows go through
the real writer thread into SQLite under tmp_path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow
from mitmproxy.websocket import WebSocketMessage
from wsproto.frame_protocol import Opcode

from addon.cache.conversation import session_key
from addon.providers import provider_named
from addon.ledger.ledger_table import LedgerRow, ledger_path, read_rows
from addon.ledger.ledger import Ledger
from addon.ledger.ledger_line import ledger_line
from addon.assembly import HeadroomAddons
from addon.compression.compression import Compression
from compressors.tokens import count_tokens
from tests.support.bodies import anthropic_tool_turn, noisy_log

LOG = noisy_log(300)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))  # option defaults are read when the addons load
    return tmp_path


@contextlib.asynccontextmanager
async def proxy(home: Path) -> AsyncIterator[tuple[Compression, Ledger]]:
    addons = HeadroomAddons()
    rewrite, ledger = addons.compression, addons.ledger
    with taddons.context(addons.hosts, addons.storage, addons.cache, rewrite, ledger) as tctx:
        tctx.configure(rewrite, headroom_home=str(home), headroom_workers=1)  # the ledger opens here too
        ledger.configure({"headroom_pricing"})  # mitmproxy configures every option at start: the bundled prices
        try:
            yield rewrite, ledger
        finally:
            await asyncio.gather(*rewrite._background)
            await ledger.done()  # waits for rows still waiting on counts, then closes the writer
            rewrite.done()
            addons.storage.done()
    await asyncio.sleep(0.05)  # the ledger lines, handed back to the loop by the writer thread


def rows(home: Path) -> list[LedgerRow]:
    return read_rows(ledger_path(home))


def test_http_rows_put_their_ledger_line_on_the_flow(home: Path) -> None:
    async def scenario() -> tuple[http.HTTPFlow, http.HTTPFlow]:
        async with proxy(home) as (rewrite, ledger):
            flows = []
            for output in (LOG, "short output"):
                body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": anthropic_tool_turn(output)}).encode()
                flow = tflow.tflow(req=http.Request.make("POST", "https://api.anthropic.com/v1/messages", body, {"content-type": "application/json"}))
                await rewrite.request(flow)
                usage = {"input_tokens": 300, "cache_read_input_tokens": 1000, "output_tokens": 20}
                flow.response = tflow.tresp(content=json.dumps({"model": "claude-sonnet-4-5-20250929", "usage": usage}).encode())
                ledger.responseheaders(flow)
                ledger.response(flow)
                flows.append(flow)
        return flows[0], flows[1]

    compressed, plain = asyncio.run(scenario())
    first, second = rows(home)
    assert first.segments and first.tokens_before == count_tokens(LOG) and not second.segments
    summary, line = compressed.comment.split("\n")
    assert summary.startswith(f"headroom: {count_tokens(LOG):,} → ") and line == ledger_line(first)
    assert compressed.metadata["headroom_ledger"] == line and line.startswith("ledger: in 300 · cache read 1,000 · out 20 · $")
    assert "saved $" in line and line.endswith(f"({first.pricing})")
    # a request that was not rewritten keeps its comment as it was; the line is still on the flow
    assert "ledger:" not in plain.comment and plain.metadata["headroom_ledger"] == ledger_line(second)


def ws_message(from_client: bool, document: dict | str, ts: float) -> WebSocketMessage:
    content = document.encode() if isinstance(document, str) else json.dumps(document).encode()
    return WebSocketMessage(Opcode.TEXT, from_client, content, ts)


def completed(model: str, usage: dict) -> dict:
    return {"type": "response.completed", "response": {"id": "resp_1", "object": "response", "model": model, "output": [], "usage": usage}}


def test_responses_over_a_websocket_get_one_row_per_request(home: Path) -> None:
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "why did the payment fail?"}]},
        {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": json.dumps({"command": ["cat", "app.log"]})},
        {"type": "function_call_output", "call_id": "c1", "output": LOG},
    ]
    usage = {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 400}, "output_tokens": 50}

    async def scenario() -> http.HTTPFlow:
        async with proxy(home) as (rewrite, ledger):
            handshake = http.Request.make("GET", "https://api.openai.com/v1/responses", b"", {"session_id": "sess-1"})
            flow = tflow.tflow(req=handshake, resp=True, ws=True)
            flow.websocket.messages = []

            async def arrive(message: WebSocketMessage) -> None:  # the hooks in mitmproxy's order
                flow.websocket.messages.append(message)
                await rewrite.websocket_message(flow)
                ledger.websocket_message(flow)

            await arrive(ws_message(True, {"type": "response.create", "model": "gpt-5", "input": items}, 100.0))
            await arrive(ws_message(False, {"type": "response.created", "response": {"model": "gpt-5"}}, 100.5))
            await arrive(ws_message(False, {"type": "response.output_text.delta", "delta": '"type": "response.completed"'}, 100.7))
            await arrive(ws_message(False, completed("gpt-5-2025-08-07", usage), 102.0))
            # a message the rewriter cannot read leaves the flow's report as it was: not this request's
            await arrive(ws_message(True, '{"type": "response.create", "input": [', 110.0))
            await arrive(ws_message(False, {"type": "error", "error": {"message": "bad request"}}, 110.2))
            await arrive(ws_message(True, {"type": "response.create", "model": "gpt-5", "input": items[:1]}, 120.0))
            flow.websocket.close_reason = "going away"
            ledger.websocket_end(flow)
            return flow

    flow = asyncio.run(scenario())
    first, broken, unanswered = rows(home)
    assert (first.provider, first.model, first.streamed, first.status, first.role, first.billed) == ("openai_responses", "gpt-5-2025-08-07", True, 101, "client", True)
    assert (first.usage.input_tokens, first.usage.cache_read_tokens, first.usage.output_tokens) == (600, 400, 50)
    assert [s.kind for s in first.segments] == ["log"] and first.tokens_before == count_tokens(LOG) > 3 * first.tokens_after
    assert first.cost_usd > 0 and first.saved_usd > 0
    assert first.session == session_key(provider_named("openai_responses"), {"session_id": "sess-1"}, None) == unanswered.session
    assert first.ttfb_ms == pytest.approx(500) and first.latency_ms == pytest.approx(2000)
    assert broken.segments == [] and broken.usage is None and broken.error.startswith("websocket error event: ") and "bad request" in broken.error
    assert unanswered.usage is None and unanswered.error == "websocket ended before the response did (going away)"
    # one line per request, in the order their rows were built (the first waited for its counts)
    assert sorted(flow.metadata["headroom_ledger"].split("\n")) == sorted(ledger_line(r) for r in (first, broken, unanswered))
    assert "ledger:" not in flow.comment  # a connection carries many requests: their lines live in the metadata


def test_counts_that_arrive_after_the_next_message_still_reach_their_row(home: Path) -> None:
    """A fast answer and a fast client: request 2 goes out before request 1's tokens are counted.
    Request 1's counted report is on the flow only until request 2's replaces it (the same
    counting thread, right after); rewrite.py announces it, and the ledger takes it then."""
    items = [{"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{}"}, {"type": "function_call_output", "call_id": "c1", "output": LOG}]
    usage = {"input_tokens": 1000, "output_tokens": 50}

    async def scenario() -> None:
        async with proxy(home) as (rewrite, ledger):
            flow = tflow.tflow(req=http.Request.make("GET", "https://api.openai.com/v1/responses", b""), resp=True, ws=True)
            flow.websocket.messages = []

            async def arrive(message: WebSocketMessage) -> None:
                flow.websocket.messages.append(message)
                await rewrite.websocket_message(flow)
                ledger.websocket_message(flow)

            release = threading.Event()
            rewrite.count_executor.submit(release.wait, 10)  # counting waits until both requests went out
            later = items + [{"role": "user", "content": [{"type": "input_text", "text": "and now?"}]}]
            for n, body in enumerate((items, later)):
                await arrive(ws_message(True, {"type": "response.create", "model": "gpt-5", "input": body}, 100.0 + n))
                await arrive(ws_message(False, completed("gpt-5", usage), 100.5 + n))
            assert not rows(home) and flow.metadata["headroom"]["rewritten"][0]["memo"]  # request 2's report, uncounted
            release.set()

    asyncio.run(scenario())
    first, second = rows(home)
    assert first.tokens_before == second.tokens_before == count_tokens(LOG) and not first.segments[0].replayed and second.segments[0].replayed
