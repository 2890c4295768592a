"""Requests over a WebSocket (the Responses API, as Codex sends it), paired with the server
message that ends each: one ledger row per `response.create`.

A client `response.create` message is one request; the server's `response.completed` (or
`.incomplete`/`.failed`/`error`) message ends it and carries its usage. A connection serves one
response at a time, so requests and their ends pair up in order. A request's rewrite report can
get its exact token counts after later messages went by: it is matched by content.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from mitmproxy import http

from addon.cache.conversation import SESSION_HEADERS
from addon.flow_state import FlowState
from addon.ledger.flow_record import FlowFacts
from addon.providers import Provider

# The server message that ends a Responses request on a WebSocket. Servers put `type` first; a
# `response.completed` message can be large, so only its head and tail are searched, unparsed.
_WS_END = re.compile(rb'"type"\s*:\s*"(response\.completed|response\.incomplete|response\.failed|error)"')
WS_END_PEEK = 256

Record = Callable[[http.HTTPFlow, FlowFacts, Callable[[], dict] | None], object]  # the Ledger's _record
Submit = Callable[[FlowFacts, http.HTTPFlow], None]


def counted(meta: dict) -> bool:
    """Whether every rewritten segment of a report has its exact token counts (and its
    composition is in)."""
    return not meta.get("composing") and all(entry.get("tokens_before") is not None for entry in meta.get("rewritten") or [])


def _uncounted(meta: dict) -> dict:
    return {**meta, "tokens_before": None, "tokens_after": None, "composing": None, "composition": None, "rewritten": [
        {**e, "tokens_before": None, "tokens_after": None} for e in meta.get("rewritten") or [] if isinstance(e, dict)
    ]}  # fmt: skip


def same_report(a: dict, b: dict) -> bool:
    """Whether two rewrite reports (`flow.metadata["headroom"]`) describe the same rewrite: the
    later one may only have its exact token counts and composition filled in
    (addon/compression/compression.py counts them after the request went out). A rewrite's `ms` tells reports of one WebSocket flow apart."""
    return a is b or ("ms" in a and "ms" in b and _uncounted(a) == _uncounted(b))


def websocket_end(content: bytes) -> str | None:
    """The type of a server message that ends a Responses request (`response.completed`, …), else None."""
    match = _WS_END.search(content[:WS_END_PEEK]) or _WS_END.search(content[-WS_END_PEEK:])
    return match.group(1).decode() if match else None


@dataclass
class PendingWs:
    """A Responses request sent over a WebSocket, waiting for the message that ends it."""

    facts: FlowFacts
    report: dict | None  # the rewrite report of its message; replaced by its counted version when that appears
    sent: float  # the message's timestamp


class WebSocketRequests:
    """The Ledger's bookkeeping of requests in flight on each WebSocket connection."""

    def __init__(self, record: Record, submit: Submit) -> None:
        self.record, self.submit = record, submit
        self.pending: dict[str, deque[PendingWs]] = {}  # per WebSocket flow, oldest first
        self.reports: dict[str, dict] = {}  # per WebSocket flow: the report its last request went out with
        self.uncounted: dict[str, list[PendingWs]] = {}  # per WebSocket flow: requests whose counts are to come

    def waits_for(self, flow: http.HTTPFlow) -> bool:
        """Whether a request on this connection awaits the message that ends it."""
        return flow.id in self.pending

    def message(self, flow: http.HTTPFlow, provider: Provider) -> None:
        """The connection's newest message: a request, or a server message that may end one."""
        message = flow.websocket.messages[-1]
        if not message.from_client:
            self._server_message(flow, message.content, message.timestamp, provider)
        elif b'"response.create"' in message.content[:4096]:
            self._request(flow, message.content, message.timestamp, provider, follow_up=message.injected)

    def update(self, flows) -> None:
        """Flows changed. The Compression addon announces a report's exact counts this way: take
        them for the WebSocket request they belong to before a later message's report replaces them."""
        if self.uncounted:
            for flow in flows:
                self.take_counts(flow)

    def take_counts(self, flow: http.HTTPFlow) -> None:
        current = FlowState(flow).report
        if not isinstance(current, dict) or not counted(current):
            return
        for pending in self.uncounted.get(flow.id) or ():
            if pending.report is not None and same_report(current, pending.report):
                pending.report = current
                self.forget(flow.id, pending)
                return

    def forget(self, flow_id: str, pending: PendingWs) -> None:
        waiting = self.uncounted.get(flow_id) or []
        if pending in waiting:
            waiting.remove(pending)
        if not waiting:
            self.uncounted.pop(flow_id, None)

    def end(self, flow: http.HTTPFlow) -> None:
        """The connection closed: requests still waiting are recorded with the reason."""
        self.reports.pop(flow.id, None)
        why = flow.websocket.close_reason if flow.websocket and flow.websocket.close_reason else "closed"
        for pending in self.pending.pop(flow.id, None) or ():
            pending.facts.meta = {**pending.facts.meta, "error": f"websocket ended before the response did ({why})"}
            self.submit(pending.facts, flow)
            self.forget(flow.id, pending)

    def _request(self, flow: http.HTTPFlow, content: bytes, ts: float, provider: Provider, follow_up: bool = False) -> None:
        # The Compression addon (earlier in the chain) has already rewritten this message and put
        # its report on the flow; a report equal to the previous message's is that one's, not this one's.
        report = FlowState(flow).report
        previous = self.reports.get(flow.id)
        if not isinstance(report, dict) or (previous is not None and same_report(report, previous)):
            report = None
        else:
            self.reports[flow.id] = report
        request = flow.request
        facts = FlowFacts(
            ts=ts,
            provider=provider.name,
            path=request.path,
            headers={name: request.headers[name] for name in SESSION_HEADERS if name in request.headers},
            request_body=content,
            meta=dict(report or {}),
            streamed=True,
            websocket=True,
            follow_up=follow_up,  # the proxy's own retrieval round (addon/retrieval/websocket_retrieval.py)
        )
        pending = PendingWs(facts, report, ts)
        self.pending.setdefault(flow.id, deque()).append(pending)
        if report is not None and not counted(report):
            self.uncounted.setdefault(flow.id, []).append(pending)

    def _server_message(self, flow: http.HTTPFlow, content: bytes, ts: float, provider: Provider) -> None:
        queue = self.pending[flow.id]
        pending = queue[0]
        if pending.facts.ttfb_ms is None:
            pending.facts.ttfb_ms = (ts - pending.sent) * 1000
        end = websocket_end(content)
        if end is None:
            return
        queue.popleft()
        if not queue:
            del self.pending[flow.id]
        facts = pending.facts
        facts.status = 101  # the handshake's: the messages have none of their own
        facts.response_body = content
        facts.latency_ms = (ts - pending.sent) * 1000
        self.take_counts(flow)
        facts.meta = dict(pending.report or {})
        if end == "error":
            facts.meta["error"] = f"websocket error event: {content[:300].decode('utf-8', 'replace')}"

        def report_now() -> dict:
            self.take_counts(flow)  # also without the announcement: the flow may show them now
            return pending.report or {}

        task = self.record(flow, facts, report_now)
        if task is None:
            self.forget(flow.id, pending)
        else:  # counts may still come after the connection ended: keep listening until the row is in
            task.add_done_callback(lambda _: self.forget(flow.id, pending))
