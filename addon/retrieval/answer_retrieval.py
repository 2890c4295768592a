"""The proxy answers the model's retrieve calls itself, so clients never see the tool.

Non-streaming responses: in the response hook, while the model calls the retrieve tool (at most
MAX_ROUNDS times), look the originals up, send the follow-up request upstream (through this
proxy, see addon/proxy/upstream_client.py), and finally hand the client one response with the usage of
every round added up. Streamed responses are answered by addon/retrieval/stream_responder.py.
"""

from __future__ import annotations

import json
import logging

from mitmproxy import http

from addon.flow_state import FlowState
from addon.media.image_decisions import IMAGE
from addon.media.provider_media import ProviderMedia
from addon.providers import Provider, provider_named
from addon.proxy.upstream_client import FOLLOW_UP_HEADER, UpstreamClient, upstream_url
from addon.retrieval.original_store import Originals
from addon.retrieval.retrieval_rounds import MAX_ROUNDS
from addon.retrieval.retrieve_tool import answer, parse_fold_id, parse_lines
from addon.services import Services

log = logging.getLogger(__name__)

LIMIT_NOTE = "(Headroom: the retrieval limit for this turn was reached.)"


def retrieve(services: Services, marker_id: str, query: str | None, owner: str, lines: str | None = None, provider: Provider | None = None) -> str | list:
    """The tool result for one retrieve call (counted per outcome): a fold's id answers with
    the lines it folded, `lines` with another range of the original; an image's id with the
    original image, where `provider`'s tool results can carry one (its `media.answer`)."""
    originals: Originals | None = services.originals
    original_id, fold_range = parse_fold_id(marker_id)
    try:
        if originals is None:
            raise RuntimeError("the store of originals is not open")
        fetched = originals.fetch(original_id, owner)
    except Exception as e:  # store unavailable: tell the model, not the client
        services.counters["retrieve_error"] += 1
        log.warning("headroom: retrieve failed (%s: %s)", type(e).__name__, e)
        return "The original cannot be fetched right now. Re-run the tool to see its output again."
    services.counters[f"retrieve_{fetched.status}"] += 1
    for observe in services.retrieve_observers:  # the ledger: which folded segments the model asked for
        observe(original_id, fetched.status)
    text = fetched.original.text if fetched.original else None
    if fetched.original is not None and fetched.original.kind == IMAGE:
        media = provider.media if provider is not None else ProviderMedia()
        return media.original_answer(fetched.original.text)
    return answer(text, query, fetched.status, parse_lines(lines) or fold_range, original_id)


class AnswerRetrieval:
    """Answers `headroom_retrieve` calls in non-streaming responses."""

    def __init__(self, services: Services, upstream: UpstreamClient) -> None:
        self.services, self.upstream = services, upstream

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self.upstream.is_follow_up(flow.request):
            FlowState(flow).follow_up = True
            del flow.request.headers[FOLLOW_UP_HEADER]

    async def response(self, flow: http.HTTPFlow) -> None:
        state = FlowState(flow)
        report = state.report or {}
        tool, name = report.get("retrieve_tool"), report.get("provider")
        if not tool or not name or flow.response is None or flow.response.stream or flow.response.status_code != 200:
            return
        provider = provider_named(name)
        if not provider.answerable_rounds:
            return
        try:
            first = json.loads(flow.response.get_content() or b"")
        except ValueError:
            return
        # A dict, or a list of chunks (Gemini's streamGenerateContent without alt=sse)
        if not isinstance(first, dict | list) or not provider.retrieve_calls(first, tool):
            return
        owner = state.owner or "anonymous"
        body = (flow.request.get_content() or b"").decode("utf-8")
        rounds = [first]
        try:
            for _ in range(MAX_ROUNDS):
                calls = provider.retrieve_calls(rounds[-1], tool)
                if not calls:
                    break
                answers = {call.call_id: retrieve(self.services, call.original_id, call.query, owner, call.lines, provider) for call in calls}
                body = provider.follow_up_body(body, rounds[-1], tool, answers)
                rounds.append(await self._send(flow, body))
        except Exception as e:  # fail open: the client still gets an answer it can use
            self.services.counters["errors"] += 1
            log.warning("headroom: retrieval follow-up failed (%s: %s)", type(e).__name__, e)
        final = provider.final_response(rounds)
        if provider.retrieve_calls(final, tool):
            final = provider.without_retrieve_calls(final, tool, LIMIT_NOTE)
        flow.response.content = json.dumps(final, ensure_ascii=False).encode("utf-8")
        state.retrieval_rounds = len(rounds) - 1
        flow.comment = (flow.comment + f" · answered {len(rounds) - 1} retrieval round(s)").strip(" ·")

    async def _send(self, flow: http.HTTPFlow, body: str) -> dict:
        headers = self.upstream.headers(flow.request.headers)
        reply = await self.upstream.client().post(upstream_url(flow.request), content=body.encode("utf-8"), headers=headers)
        reply.raise_for_status()
        return reply.json()

    async def done(self) -> None:
        await self.upstream.aclose()
