"""The proxy answers the model's retrieve calls itself, so clients never see the tool.

Non-streaming responses: in the response hook, while the model calls the retrieve tool (at most
MAX_ROUNDS times), look the originals up, send the follow-up request upstream (through this
proxy, see addon/proxy/upstream_client.py), and finally hand the client one response with the usage of
every round added up. Streamed responses are answered by addon/retrieval/stream_responder.py.
"""

from __future__ import annotations

import json
import logging

from mitmproxy import ctx, http

from addon.retrieval.retrieval_rounds import (
    MAX_ROUNDS,
    final_response,
    follow_up_body,
    retrieve_calls,
    supported,
    without_retrieve_calls,
)
from addon.proxy.upstream_client import FOLLOW_UP_HEADER, UpstreamClient, upstream_url

log = logging.getLogger(__name__)

LIMIT_NOTE = "(Headroom: the retrieval limit for this turn was reached.)"


class AnswerRetrieval:
    """Answers `headroom_retrieve` calls in non-streaming responses."""

    def __init__(self) -> None:
        self.upstream = UpstreamClient()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self.upstream.is_follow_up(flow.request):
            flow.metadata["headroom_follow_up"] = True
            del flow.request.headers[FOLLOW_UP_HEADER]

    async def response(self, flow: http.HTTPFlow) -> None:
        meta = flow.metadata.get("headroom") or {}
        tool, provider = meta.get("retrieve_tool"), meta.get("provider")
        if not tool or not supported(provider) or flow.response is None or flow.response.stream:
            return
        if flow.response.status_code != 200:
            return
        try:
            first = json.loads(flow.response.get_content() or b"")
        except ValueError:
            return
        if not isinstance(first, dict) or not retrieve_calls(provider, first, tool):
            return
        rewrite = ctx.master.addons.get("compression")
        owner = flow.metadata.get("headroom_owner", "anonymous")
        body = (flow.request.get_content() or b"").decode("utf-8")
        rounds = [first]
        try:
            for _ in range(MAX_ROUNDS):
                calls = retrieve_calls(provider, rounds[-1], tool)
                if not calls:
                    break
                answers = {}
                for call in calls:
                    answers[call.call_id] = rewrite.retrieve(call.original_id, call.query, owner)
                body = follow_up_body(provider, body, rounds[-1], tool, answers)
                rounds.append(await self._send(flow, body))
        except Exception as e:  # fail open: the client still gets an answer it can use
            rewrite.counters["errors"] += 1
            log.warning("headroom: retrieval follow-up failed (%s: %s)", type(e).__name__, e)
        final = final_response(provider, rounds)
        if retrieve_calls(provider, final, tool):
            final = without_retrieve_calls(provider, final, tool, LIMIT_NOTE)
        flow.response.content = json.dumps(final, ensure_ascii=False).encode("utf-8")
        flow.metadata["headroom_retrieval_rounds"] = len(rounds) - 1
        flow.comment = (flow.comment + f" · answered {len(rounds) - 1} retrieval round(s)").strip(" ·")

    async def _send(self, flow: http.HTTPFlow, body: str) -> dict:
        headers = self.upstream.headers(flow.request.headers)
        reply = await self.upstream.client().post(upstream_url(flow.request), content=body.encode("utf-8"), headers=headers)
        reply.raise_for_status()
        return reply.json()

    async def done(self) -> None:
        await self.upstream.aclose()
