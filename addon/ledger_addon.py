"""The ledger addon: one row per LLM request in HEADROOM_HOME/ledger.sqlite3 (see addon/ledger.py).

Non-streamed responses are recorded in the `response` hook. Streamed ones (server-sent events)
get a pass-through stream callable that hands every chunk on unchanged and lets a usage tap look
at it; the `response` hook, which fires after a streamed body has gone out, records them. The
callable does no I/O: building the row (parsing bodies, pricing) and writing it happen on the
ledger's writer thread. Nothing here can fail a flow: errors are counted and logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from mitmproxy import command, ctx, exceptions, http

from addon.flow_record import SESSION_HEADERS, FlowFacts, build_row
from addon.ledger import LedgerWriter, ledger_path
from addon.pricing import PricingError, PricingTable, load_pricing
from addon.providers import adapter_for
from addon.sse_streaming import STREAMED_TYPES
from addon.usage import UsageTap

log = logging.getLogger(__name__)

# Exact token counts arrive shortly after the request went out (addon/rewrite.py counts them
# off the critical path); a fast response waits this long for them before its row is written.
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


def counted(meta: dict) -> bool:
    """Whether every rewritten segment of a report has its exact token counts."""
    return all(entry.get("tokens_before") is not None for entry in meta.get("rewritten") or [])


class Ledger:
    """Records every LLM request's usage, compression figures and cost."""

    def __init__(self) -> None:
        self.writer: LedgerWriter | None = None
        self.table: PricingTable | None = None
        self.counters: Counter[str] = Counter()
        self._taps: dict[str, UsageTap] = {}
        self._background: set[asyncio.Task] = set()

    def load(self, loader) -> None:
        loader.add_option(
            "headroom_ledger", bool, True, "Record each LLM request's usage, compression and cost in HEADROOM_HOME/ledger.sqlite3 (`headroom stats` shows it)."
        )
        loader.add_option(
            "headroom_pricing",
            str,
            "",
            "A pricing table file (JSON, the format of addon/pricing.json) for the ledger's money figures; "
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
            self._submit(facts)  # no response: nothing to wait for
        except Exception as e:
            self._failed("record", e)

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

    def _record(self, flow: http.HTTPFlow, facts: FlowFacts) -> None:
        if counted(facts.meta):
            self._submit(facts)
            return
        task = asyncio.ensure_future(self._record_when_counted(flow, facts))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _record_when_counted(self, flow: http.HTTPFlow, facts: FlowFacts) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + COUNT_WAIT_S
        while not counted(flow.metadata.get("headroom") or {}) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        facts.meta = dict(flow.metadata.get("headroom") or {})
        self._submit(facts)

    def _submit(self, facts: FlowFacts) -> None:
        if self.writer is not None:
            table = self.table
            self.writer.submit(lambda: build_row(facts, table))
            self.counters["recorded"] += 1

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
