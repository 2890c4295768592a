"""Answer retrieve calls inside a WebSocket conversation (the Responses API as Codex speaks it).

A client `response.create` message that Compression sent with the retrieve tool opens a job on
its connection. The server's events for it go through the provider's stream splicer, one
message per event: what the client may see is forwarded (a message rewritten in place, dropped,
or followed by injected ones), the retrieve call is held back. When the round ends asking for
originals, the proxy answers them, sends the follow-up `response.create` upstream on the same
connection (mitmproxy injects it; Compression and this addon skip injected messages) and the
follow-up's events continue the one response the client is waiting for.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from mitmproxy import ctx, http

from addon.flow_state import FlowState
from addon.ledger.websocket_requests import websocket_end
from addon.providers import provider_for
from addon.retrieval.answer_retrieval import retrieve
from addon.retrieval.retrieval_rounds import MAX_ROUNDS
from addon.retrieval.stream_splicer import Splicer
from addon.services import Services
from addon.wire.sse_events import SseEvent, SseParser, format_event

log = logging.getLogger(__name__)


@dataclass
class WebSocketJob:
    """The response a client is waiting for on one connection, while it may need rounds."""

    body: str  # the request as forwarded (then each follow-up)
    splicer: Splicer
    owner: str
    rounds: int = 0


def as_event(content: bytes) -> SseEvent:
    """A server message as the SSE event a splicer reads (the splicers go by the data's `type`)."""
    text = content.decode("utf-8")
    return SseEvent(None, text, format_event(text))


def as_messages(pieces: list[bytes]) -> list[bytes]:
    """What a splicer sends, back as one WebSocket message per event."""
    parser = SseParser()
    events = parser.feed(b"".join(pieces)) + parser.close()
    return [e.data.encode("utf-8") for e in events if e.data is not None]


class WebSocketRetrieval:
    """Answers `headroom_retrieve` calls on WebSocket connections, so the client never sees them."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.jobs: dict[str, WebSocketJob] = {}  # by flow id: one response at a time per connection

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:
            return
        message = flow.websocket.messages[-1]
        if message.injected or not message.is_text:
            return  # the proxy's own follow-ups and the events it sends
        if message.from_client:
            self._request(flow, message.content)
            return
        job = self.jobs.get(flow.id)
        if job is None:
            return
        try:
            await self._server_event(flow, job, message)
        except Exception as e:  # the client sees the round as it came, never a half-spliced one
            self.jobs.pop(flow.id, None)
            self.services.counters["errors"] += 1
            log.warning("headroom: WebSocket retrieval failed (%s: %s)", type(e).__name__, e)

    def _request(self, flow: http.HTTPFlow, content: bytes) -> None:
        """A client request: a job when Compression sent it with the retrieve tool."""
        self.jobs.pop(flow.id, None)
        if b'"response.create"' not in content[:4096]:
            return
        state = FlowState(flow)
        tool = (state.report or {}).get("retrieve_tool")
        provider = provider_for(flow.request.path)
        splicer = provider.splicer(tool) if provider is not None and tool else None
        if splicer is not None:
            self.jobs[flow.id] = WebSocketJob(content.decode("utf-8"), splicer, state.owner or "anonymous")

    async def _server_event(self, flow: http.HTTPFlow, job: WebSocketJob, message) -> None:
        out = job.splicer.feed([as_event(message.content)])
        if websocket_end(message.content) is not None:  # the message that ends a round (unparsed peek)
            result = job.splicer.finish_round()
            if result.needs_followup and job.rounds < MAX_ROUNDS:
                calls = result.retrieve_calls
                answers = {
                    c.call_id: await asyncio.to_thread(retrieve, self.services, c.ref_id or "", c.query, job.owner, c.lines) for c in calls
                }
                job.body = job.splicer.follow_up_body(job.body, result, answers)
                job.rounds += 1
                job.splicer.start_round()
                ctx.master.commands.call("inject.websocket", flow, False, job.body.encode("utf-8"), True)
                FlowState(flow).retrieval_rounds = job.rounds
            else:
                out += job.splicer.final_events()
                self.jobs.pop(flow.id, None)
        self._deliver(flow, message, as_messages(out))

    @staticmethod
    def _deliver(flow: http.HTTPFlow, message, contents: list[bytes]) -> None:
        """This message carries the first event to send (or is dropped); the rest are injected after it."""
        if not contents:
            message.drop()
            return
        if contents[0] != message.content:
            message.content = contents[0]
        for content in contents[1:]:
            ctx.master.commands.call("inject.websocket", flow, True, content, True)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self.jobs.pop(flow.id, None)
