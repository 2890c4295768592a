"""The ledger addon: one row per LLM request in HEADROOM_HOME/ledger.sqlite3 (see addon/ledger/ledger_table.py).

Non-streamed responses are recorded in the `response` hook. Streamed ones (server-sent events)
get a pass-through stream callable that hands every chunk on unchanged and lets a usage tap look
at it; the `response` hook, which fires after a streamed body has gone out, records them. The
callable does no I/O: building the row (parsing bodies, pricing) and writing it happen on the
ledger's writer thread. Nothing here can fail a flow: errors are counted and logged.

The Responses API over WebSocket (Codex): each client `response.create` message is one request;
the server's `response.completed` (or `.incomplete`/`.failed`/`error`) message ends it and
carries its usage. A connection serves one response at a time, so requests and their ends pair
up in order.

Once a row is built, its one-line summary (addon/ledger/ledger_line.py) is handed back to the event
loop and put on the flow: `flow.metadata["headroom_ledger"]`, and for a rewritten request also a
line of `flow.comment`, which mitmweb shows.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from mitmproxy import command, ctx, exceptions, hooks, http

from addon.ledger.flow_record import SESSION_HEADERS, FlowFacts, build_row
from addon.ledger.ledger_table import LedgerRow, LedgerWriter, ledger_path
from addon.ledger.ledger_line import ledger_line
from addon.ledger.pricing import PricingError, PricingTable, load_pricing
from addon.providers import adapter_for
from addon.proxy.response_streaming import STREAMED_TYPES
from addon.ledger.usage import UsageTap

log = logging.getLogger(__name__)

# Exact token counts arrive shortly after the request went out (addon/compression/compression.py counts them
# off the critical path); a fast response waits this long for them before its row is written.
COUNT_WAIT_S = 10.0
# The server message that ends a Responses request on a WebSocket. Servers put `type` first; a
# `response.completed` message can be large, so only its head and tail are searched, unparsed.
_WS_END = re.compile(rb'"type"\s*:\s*"(response\.completed|response\.incomplete|response\.failed|error)"')
WS_END_PEEK = 256


def passthrough_stream(tap: UsageTap, inner: Callable[[bytes], Iterable[bytes] | bytes] | bool) -> Callable[[bytes], Iterable[bytes] | bytes]:
    """A stream callable that returns its chunks unchanged (after `inner`, when that is one
    too) and shows them to `tap`."""

    def stream(data: bytes) -> Iterable[bytes] | bytes:
        out = inner(data) if callable(inner) else data
        if isinstance(out, bytes):
            tap.feed(out)
            return out  # b"" at the end stays b"": mitmproxy sends nothing for it
        # An empty chunk in a list would go out as an HTTP/1 chunk of size 0: the end of the body.
        chunks = [chunk for chunk in out if chunk]
        for chunk in chunks:
            tap.feed(chunk)
        return chunks

    return stream


def counted(meta: dict) -> bool:
    """Whether every rewritten segment of a report has its exact token counts."""
    return all(entry.get("tokens_before") is not None for entry in meta.get("rewritten") or [])


def _uncounted(meta: dict) -> dict:
    return {**meta, "tokens_before": None, "tokens_after": None, "rewritten": [
        {**e, "tokens_before": None, "tokens_after": None} for e in meta.get("rewritten") or [] if isinstance(e, dict)
    ]}  # fmt: skip


def same_report(a: dict, b: dict) -> bool:
    """Whether two rewrite reports (`flow.metadata["headroom"]`) describe the same rewrite: the
    later one may only have its exact token counts filled in (addon/compression/compression.py counts them after
    the request went out). A rewrite's `ms` tells reports of one WebSocket flow apart."""
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


class Ledger:
    """Records every LLM request's usage, compression figures and cost."""

    def __init__(self) -> None:
        self.writer: LedgerWriter | None = None
        self.table: PricingTable | None = None
        self.counters: Counter[str] = Counter()
        self._taps: dict[str, UsageTap] = {}
        self._background: set[asyncio.Task] = set()
        self._ws_pending: dict[str, deque[PendingWs]] = {}  # per WebSocket flow, oldest first
        self._ws_reports: dict[str, dict] = {}  # per WebSocket flow: the report its last request went out with
        self._ws_uncounted: dict[str, list[PendingWs]] = {}  # per WebSocket flow: requests whose counts are to come

    def load(self, loader) -> None:
        loader.add_option(
            "headroom_ledger", bool, True, "Record each LLM request's usage, compression and cost in HEADROOM_HOME/ledger.sqlite3 (`headroom stats` shows it)."
        )
        loader.add_option(
            "headroom_pricing",
            str,
            "",
            "A pricing table file (JSON, the format of addon/ledger/pricing.json) for the ledger's money figures; "
            "empty: the bundled list prices.",
        )

    def configure(self, updated: set[str]) -> None:
        if "headroom_pricing" in updated:
            try:
                self.table = load_pricing(ctx.options.headroom_pricing or None)
            except PricingError as e:
                raise exceptions.OptionsError(str(e)) from e
        if updated & {"headroom_home", "headroom_ledger"}:
            if self.writer:
                self.writer.close()
                self.writer = None
            if ctx.options.headroom_ledger:
                path = ledger_path(Path(ctx.options.headroom_home).expanduser())
                try:
                    self.writer = LedgerWriter(path)
                except Exception as e:  # the proxy works without a ledger
                    self.counters["open_failed"] += 1
                    log.warning("headroom: the ledger %s cannot be opened, nothing will be recorded (%s: %s)", path, type(e).__name__, e)

    def provider_of(self, flow: http.HTTPFlow) -> str | None:
        """The API of an LLM request this addon records, or None."""
        if self.writer is None or flow.request.method != "POST":
            return None
        meta = flow.metadata.get("headroom")
        if flow.metadata.get("headroom_streamed_retrieval") and isinstance(meta, dict):
            return meta.get("provider")  # routed to the loopback responder: the path is no longer the API's
        return self.api_of(flow)

    @staticmethod
    def api_of(flow: http.HTTPFlow) -> str | None:
        """The API a flow's host and path belong to (HTTP or WebSocket), or None."""
        host_filter = ctx.master.addons.get("hostfilter")
        if host_filter and not host_filter.wants(flow.request.pretty_host, flow.request.port):
            return None
        adapter = adapter_for(flow.request.path)
        return adapter.name if adapter else None

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        try:
            response = flow.response
            if response is None or (provider := self.provider_of(flow)) is None:
                return
            event_stream = response.headers.get("content-type", "").startswith(STREAMED_TYPES)
            if response.stream or event_stream:
                tap = UsageTap(provider, response.headers.get("content-encoding", ""))
                response.stream = passthrough_stream(tap, response.stream)
                self._taps[flow.id] = tap
        except Exception as e:
            self._failed("tap", e)

    def response(self, flow: http.HTTPFlow) -> None:
        tap = self._taps.pop(flow.id, None)
        try:
            if flow.response is None or (provider := self.provider_of(flow)) is None:
                return
            facts = self._facts(flow, provider)
            facts.status = flow.response.status_code
            if tap is not None:
                facts.streamed, facts.streamed_usage = True, tap.close()
                if tap.broken:
                    self.counters["tap_broken"] += 1
            else:
                facts.response_body = flow.response.get_content(strict=False) or b""
            response = flow.response
            if response.timestamp_end and flow.request.timestamp_start:
                facts.latency_ms = (response.timestamp_end - flow.request.timestamp_start) * 1000
            if response.timestamp_start and flow.request.timestamp_start:
                facts.ttfb_ms = (response.timestamp_start - flow.request.timestamp_start) * 1000
            self._record(flow, facts)
        except Exception as e:
            self._failed("record", e)

    def error(self, flow: http.HTTPFlow) -> None:
        self._taps.pop(flow.id, None)
        try:
            if (provider := self.provider_of(flow)) is None:
                return
            facts = self._facts(flow, provider)
            facts.meta = {**facts.meta, "error": f"connection: {flow.error.msg if flow.error else 'failed'}"}
            self._submit(facts, flow)  # no response: nothing to wait for
        except Exception as e:
            self._failed("record", e)

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        try:
            if flow.websocket is None or self.writer is None or not flow.websocket.messages:
                return
            message = flow.websocket.messages[-1]
            if not message.is_text or (not message.from_client and flow.id not in self._ws_pending):
                return  # most server messages are deltas of a response nobody is waiting for here
            if self.api_of(flow) != "openai_responses":
                return
            if not message.from_client:
                self._ws_server_message(flow, message.content, message.timestamp)
            elif b'"response.create"' in message.content[:4096]:
                self._ws_request(flow, message.content, message.timestamp)
        except Exception as e:
            self._failed("websocket", e)

    def update(self, flows) -> None:
        """Flows changed. addon/compression/compression.py announces a report's exact counts this way: take them
        for the WebSocket request they belong to before a later message's report replaces them."""
        if self._ws_uncounted:
            for flow in flows:
                self._take_counts(flow)

    def _take_counts(self, flow: http.HTTPFlow) -> None:
        current = flow.metadata.get("headroom")
        if not isinstance(current, dict) or not counted(current):
            return
        for pending in self._ws_uncounted.get(flow.id) or ():
            if pending.report is not None and same_report(current, pending.report):
                pending.report = current
                self._forget(flow.id, pending)
                return

    def _forget(self, flow_id: str, pending: PendingWs) -> None:
        waiting = self._ws_uncounted.get(flow_id) or []
        if pending in waiting:
            waiting.remove(pending)
        if not waiting:
            self._ws_uncounted.pop(flow_id, None)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._ws_reports.pop(flow.id, None)
        try:
            why = flow.websocket.close_reason if flow.websocket and flow.websocket.close_reason else "closed"
            for pending in self._ws_pending.pop(flow.id, None) or ():
                pending.facts.meta = {**pending.facts.meta, "error": f"websocket ended before the response did ({why})"}
                self._submit(pending.facts, flow)
                self._forget(flow.id, pending)
        except Exception as e:
            self._failed("websocket", e)

    def _ws_request(self, flow: http.HTTPFlow, content: bytes, ts: float) -> None:
        # addon/compression/compression.py (earlier in the chain) has already rewritten this message and put its
        # report on the flow; a report equal to the previous message's is that one's, not this one's.
        report = flow.metadata.get("headroom")
        previous = self._ws_reports.get(flow.id)
        if not isinstance(report, dict) or (previous is not None and same_report(report, previous)):
            report = None
        else:
            self._ws_reports[flow.id] = report
        request = flow.request
        facts = FlowFacts(
            ts=ts,
            provider="openai_responses",
            path=request.path,
            headers={name: request.headers[name] for name in SESSION_HEADERS if name in request.headers},
            request_body=content,
            meta=dict(report or {}),
            streamed=True,
            websocket=True,
        )
        pending = PendingWs(facts, report, ts)
        self._ws_pending.setdefault(flow.id, deque()).append(pending)
        if report is not None and not counted(report):
            self._ws_uncounted.setdefault(flow.id, []).append(pending)

    def _ws_server_message(self, flow: http.HTTPFlow, content: bytes, ts: float) -> None:
        queue = self._ws_pending[flow.id]
        pending = queue[0]
        if pending.facts.ttfb_ms is None:
            pending.facts.ttfb_ms = (ts - pending.sent) * 1000
        end = websocket_end(content)
        if end is None:
            return
        queue.popleft()
        if not queue:
            del self._ws_pending[flow.id]
        facts = pending.facts
        facts.status = 101  # the handshake's: the messages have none of their own
        facts.response_body = content
        facts.latency_ms = (ts - pending.sent) * 1000
        self._take_counts(flow)
        facts.meta = dict(pending.report or {})
        if end == "error":
            facts.meta["error"] = f"websocket error event: {content[:300].decode('utf-8', 'replace')}"

        def report_now() -> dict:
            self._take_counts(flow)  # also without the announcement: the flow may show them now
            return pending.report or {}

        task = self._record(flow, facts, report_now)
        if task is None:
            self._forget(flow.id, pending)
        else:  # counts may still come after the connection ended: keep listening until the row is in
            task.add_done_callback(lambda _: self._forget(flow.id, pending))

    def _facts(self, flow: http.HTTPFlow, provider: str) -> FlowFacts:
        request = flow.request
        return FlowFacts(
            ts=request.timestamp_start,
            provider=provider,
            path=request.path,
            headers={name: request.headers[name] for name in SESSION_HEADERS if name in request.headers},
            request_body=request.get_content(strict=False) or b"",
            meta=dict(flow.metadata.get("headroom") or {}),
            follow_up=bool(flow.metadata.get("headroom_follow_up")),
            streamed_retrieval=bool(flow.metadata.get("headroom_streamed_retrieval")),
            retrieval_rounds=int(flow.metadata.get("headroom_retrieval_rounds") or 0),
        )

    def _record(self, flow: http.HTTPFlow, facts: FlowFacts, report_now: Callable[[], dict] | None = None) -> asyncio.Task | None:
        """Submit the row once its report's exact token counts are in (or COUNT_WAIT_S passed);
        the task that waits for them, if any. `report_now`: where the report is (default: the
        flow's; a WebSocket request has its own)."""
        if counted(facts.meta):
            self._submit(facts, flow)
            return None
        report_now = report_now or (lambda: flow.metadata.get("headroom") or {})
        task = asyncio.ensure_future(self._record_when_counted(flow, facts, report_now))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _record_when_counted(self, flow: http.HTTPFlow, facts: FlowFacts, report_now: Callable[[], dict]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + COUNT_WAIT_S
        while not counted(report_now()) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        facts.meta = {**report_now(), **({"error": facts.meta["error"]} if "error" in facts.meta else {})}
        self._submit(facts, flow)

    def _submit(self, facts: FlowFacts, flow: http.HTTPFlow | None = None) -> None:
        if self.writer is None:
            return
        table = self.table
        try:  # hooks run on mitmproxy's loop; the line needs it to come back on
            loop = asyncio.get_running_loop() if flow is not None else None
        except RuntimeError:
            loop = None

        def make_row() -> LedgerRow:  # on the writer thread
            row = build_row(facts, table)
            if loop is not None:
                try:
                    loop.call_soon_threadsafe(self._annotate, flow, ledger_line(row))
                except RuntimeError:  # the loop has closed (shutdown): the row still counts
                    pass
            return row

        self.writer.submit(make_row)
        self.counters["recorded"] += 1

    @staticmethod
    def _annotate(flow: http.HTTPFlow, line: str) -> None:
        """Put a row's ledger line on its flow (on the event loop)."""
        try:
            if flow.websocket is not None:  # one line per request the connection carried
                previous = flow.metadata.get("headroom_ledger")
                flow.metadata["headroom_ledger"] = f"{previous}\n{line}" if previous else line
            else:
                flow.metadata["headroom_ledger"] = line
                if (flow.metadata.get("headroom") or {}).get("rewritten"):
                    flow.comment = f"{flow.comment}\n{line}" if flow.comment else line
            ctx.master.addons.trigger(hooks.UpdateHook([flow]))  # mitmweb redraws the flow
        except Exception as e:
            log.warning("headroom: the ledger line could not be put on the flow (%s: %s)", type(e).__name__, e)

    def _failed(self, what: str, e: Exception) -> None:
        self.counters[f"{what}_errors"] += 1
        log.warning("headroom: ledger %s failed, the flow is unaffected (%s: %s)", what, type(e).__name__, e)

    @command.command("headroom.ledger")
    def ledger_command(self) -> str:
        """Rows recorded, written, failed and dropped since start."""
        writer = self.writer
        figures = dict(self.counters) | ({"written": writer.written, "failed": writer.failed, "dropped": writer.dropped} if writer else {"disabled": 1})
        return ", ".join(f"{k}={v}" for k, v in sorted(figures.items()))

    async def done(self) -> None:
        if self._background:
            await asyncio.wait(list(self._background), timeout=2)
        if self.writer:
            await asyncio.get_running_loop().run_in_executor(None, self.writer.close)
            self.writer = None
