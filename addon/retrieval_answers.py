"""The proxy answers the model's retrieve calls itself, so clients never see the tool.

Non-streaming responses: in the response hook, while the model calls the retrieve tool (at most
MAX_ROUNDS times), look the originals up, send the follow-up request upstream, and finally hand
the client one response with the usage of every round added up. Follow-ups go back out through
this same mitmproxy (so upstream TLS settings, routing and the flow list apply to them too),
marked with a per-process token that tells the request hook to pass them untouched: a retrieve
tool's own results are never compressed again.
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
from pathlib import Path

import httpx
from mitmproxy import ctx, http

from addon.retrieval_rounds import (
    MAX_ROUNDS,
    final_response,
    follow_up_body,
    retrieve_calls,
    supported,
    without_retrieve_calls,
)
from addon.retrieve_tool import answer

log = logging.getLogger(__name__)

FOLLOW_UP_HEADER = "x-headroom-follow-up"
LIMIT_NOTE = "(Headroom: the retrieval limit for this turn was reached.)"
_DROPPED_HEADERS = {"host", "content-length", "content-encoding", "transfer-encoding", "connection", "accept-encoding", FOLLOW_UP_HEADER}


class AnswerRetrieval:
    """Answers `headroom_retrieve` calls in non-streaming responses."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(16)
        self._client: httpx.AsyncClient | None = None

    def is_follow_up(self, request: http.Request) -> bool:
        """Whether a request is one of our own follow-ups (which must pass untouched)."""
        return secrets.compare_digest(request.headers.get(FOLLOW_UP_HEADER, ""), self.token)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self.is_follow_up(flow.request):
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
        rewrite = ctx.master.addons.get("rewrite")
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
                    fetched = rewrite.originals.fetch(call.original_id, owner)
                    text = fetched.original.text if fetched.original else None
                    answers[call.call_id] = answer(text, call.query, fetched.status)
                    rewrite.counters[f"retrieve_{fetched.status}"] += 1
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
        request = flow.request
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED_HEADERS}
        headers[FOLLOW_UP_HEADER] = self.token
        url = f"{request.scheme}://{request.pretty_host}:{request.port}{request.path}"
        reply = await self._http().post(url, content=body.encode("utf-8"), headers=headers)
        reply.raise_for_status()
        return reply.json()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            host, port = ctx.master.addons.get("proxyserver").listen_addrs()[0][:2]
            host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
            ca = Path(ctx.options.confdir).expanduser() / "mitmproxy-ca-cert.pem"
            verify = ssl.create_default_context(cafile=str(ca))
            self._client = httpx.AsyncClient(proxy=f"http://{host}:{port}", verify=verify, timeout=600, trust_env=False)
        return self._client

    async def done(self) -> None:
        if self._client is not None:
            await self._client.aclose()
