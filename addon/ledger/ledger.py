"""The ledger addon: one row per LLM request in HEADROOM_HOME/ledger.sqlite3 (see addon/ledger/ledger_table.py).

Non-streamed responses are recorded in the `response` hook. Streamed ones (server-sent events)
get a pass-through stream callable that hands every chunk on unchanged and lets a usage tap look
at it; the `response` hook, which fires after a streamed body has gone out, records them. The
callable does no I/O: building the row (parsing bodies, pricing) and writing it happen on the
ledger's writer thread. Nothing here can fail a flow: errors are counted and logged.

Requests over a WebSocket (the Responses API, as Codex sends it) are paired with the message
that ends each by addon/ledger/websocket_requests.py.

Once a row is built, its one-line summary (addon/ledger/ledger_line.py) is handed back to the event
loop and put on the flow: `flow.metadata["headroom_ledger"]`, and for a rewritten request also a
line of `flow.comment`, which mitmweb shows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from mitmproxy import command, ctx, exceptions, hooks, http

from addon.cache.conversation import SESSION_HEADERS
from addon.flow_state import FlowState
from addon.ledger.flow_record import FlowFacts, build_row
from addon.ledger.websocket_requests import WebSocketRequests, counted
from addon.ledger.ledger_table import LedgerRow, LedgerWriter, ledger_path
from addon.ledger.ledger_line import ledger_line
from addon.ledger.metrics import Metrics
from addon.ledger.provenance_table import Retrieval
from addon.ledger.pricing import PricingError, PricingTable, load_pricing
from addon.providers import Provider, provider_for, provider_named
from addon.proxy.host_filter import HostFilter
from addon.proxy.response_streaming import STREAMED_TYPES
from addon.ledger.usage import UsageTap

log = logging.getLogger(__name__)

# Exact token counts arrive shortly after the request went out (the Compression addon counts
# them off the critical path); a fast response waits this long for them before its row is written.
COUNT_WAIT_S = 10.0


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


class Ledger:
    """Records every LLM request's usage, compression figures and cost."""

    def __init__(self, hosts: HostFilter, metrics: Metrics | None = None) -> None:
        self.hosts, self.metrics = hosts, metrics
        self.writer: LedgerWriter | None = None
        self.table: PricingTable | None = None
        self.counters: Counter[str] = Counter()
        self._taps: dict[str, UsageTap] = {}
        self._background: set[asyncio.Task] = set()
        self.websockets = WebSocketRequests(self._record, self._submit)

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

    def provider_of(self, flow: http.HTTPFlow) -> Provider | None:
        """The API of an LLM request this addon records, or None."""
        if self.writer is None or flow.request.method != "POST":
            return None
        state = FlowState(flow)
        if state.streamed_retrieval and state.provider_name:
            return provider_named(state.provider_name)  # routed to the loopback responder: the path is no longer the API's
        return self.api_of(flow)

    def api_of(self, flow: http.HTTPFlow) -> Provider | None:
        """The API a flow's host and path belong to (HTTP or WebSocket), or None."""
        if not self.hosts.wants(flow.request.pretty_host, flow.request.port):
            return None
        return provider_for(flow.request.path)

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
            if not message.is_text or (not message.from_client and not self.websockets.waits_for(flow)):
                return  # most server messages are deltas of a response nobody is waiting for here
            provider = self.api_of(flow)
            if provider is not None and provider.websocket_requests:
                self.websockets.message(flow, provider)
        except Exception as e:
            self._failed("websocket", e)

    def update(self, flows) -> None:
        self.websockets.update(flows)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        try:
            self.websockets.end(flow)
        except Exception as e:
            self._failed("websocket", e)

    def _facts(self, flow: http.HTTPFlow, provider: Provider) -> FlowFacts:
        request, state = flow.request, FlowState(flow)
        return FlowFacts(
            ts=request.timestamp_start,
            provider=provider.name,
            path=request.path,
            headers={name: request.headers[name] for name in SESSION_HEADERS if name in request.headers},
            request_body=request.get_content(strict=False) or b"",
            meta=dict(state.report or {}),
            follow_up=state.follow_up,
            streamed_retrieval=state.streamed_retrieval,
            retrieval_rounds=state.retrieval_rounds,
        )

    def _record(self, flow: http.HTTPFlow, facts: FlowFacts, report_now: Callable[[], dict] | None = None) -> asyncio.Task | None:
        """Submit the row once its report's exact token counts are in (or COUNT_WAIT_S passed);
        the task that waits for them, if any. `report_now`: where the report is (default: the
        flow's; a WebSocket request has its own)."""
        if counted(facts.meta):
            self._submit(facts, flow)
            return None
        report_now = report_now or (lambda: FlowState(flow).report or {})
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

        metrics = self.metrics

        def make_row() -> LedgerRow:  # on the writer thread
            row = build_row(facts, table)
            if metrics is not None:
                metrics.observe(row)
            return row

        def written(row: LedgerRow) -> None:  # on the writer thread, once the row is in the file
            if loop is not None:
                try:
                    loop.call_soon_threadsafe(annotate, flow, ledger_line(row))
                except RuntimeError:  # the loop has closed (shutdown): the row still counts
                    pass

        self.writer.submit(make_row, written)
        self.counters["recorded"] += 1

    def retrieved(self, original_id: str, status: str) -> None:
        """A retrieve the proxy answered (Services.retrieve_observers): which folds the model asked for."""
        if self.writer is not None:
            record = Retrieval(time.time(), original_id, status)
            self.writer.submit(lambda: record)

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


def annotate(flow: http.HTTPFlow, line: str) -> None:
    """Put a row's ledger line on its flow (on the event loop)."""
    try:
        state = FlowState(flow)
        if flow.websocket is not None:  # one line per request the connection carried
            previous = state.ledger_line
            state.ledger_line = f"{previous}\n{line}" if previous else line
        else:
            state.ledger_line = line
            if (state.report or {}).get("rewritten"):
                flow.comment = f"{flow.comment}\n{line}" if flow.comment else line
        ctx.master.addons.trigger(hooks.UpdateHook([flow]))  # mitmweb redraws the flow
    except Exception as e:
        log.warning("headroom: the ledger line could not be put on the flow (%s: %s)", type(e).__name__, e)
