"""Answer retrieve calls inside streamed responses.

mitmproxy's stream callback is synchronous, so it cannot make the follow-up request that a
retrieve call needs (shared/NOTES.md). Instead, the request hook routes a streamed request that
carries the retrieve tool to this small HTTP server on loopback. It calls the provider itself
(through this proxy, see addon/proxy/upstream_client.py), passes every event on as it arrives, holds
back only the retrieve call (addon/retrieval/stream_splicer.py), answers it, streams the follow-up's events
on, and ends the one message the client sees. mitmproxy streams this server's response to the
client like any other.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

from mitmproxy import http

from addon.retrieval.retrieval_rounds import MAX_ROUNDS
from addon.wire.sse_events import SseParser
from addon.flow_state import FlowState
from addon.providers.provider import Provider
from addon.proxy.upstream_client import UpstreamClient, upstream_url
from addon.retrieval.answer_retrieval import retrieve
from addon.services import Services

log = logging.getLogger(__name__)

_PATH = "/headroom-stream/"
# Every provider header reaches the client (rate limits, retry hints, request ids: SDKs and
# Claude Code read them) except the framing this server sets itself: the body it sends is
# decoded, re-chunked and on a connection of its own.
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding", "trailer", "upgrade"}


@dataclass
class StreamJob:
    """A streamed request to serve: where it goes, as whom, and with which tool."""

    url: str
    headers: dict[str, str]
    body: str
    provider: Provider
    tool_name: str
    owner: str


class StreamResponder:
    """Serves streamed requests that carry the retrieve tool, on 127.0.0.1."""

    def __init__(self, services: Services, upstream: UpstreamClient) -> None:
        self.services, self.upstream = services, upstream
        self.jobs: dict[str, StreamJob] = {}
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def ready(self) -> bool:
        return self._server is not None

    async def running(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def route(self, flow: http.HTTPFlow, provider: Provider, tool_name: str, owner: str) -> None:
        """Send this flow to the responder instead of the provider."""
        upstream = self.upstream
        request = flow.request
        token = secrets.token_hex(16)
        body = (request.get_content() or b"").decode("utf-8")
        url = upstream_url(request)
        self.jobs[token] = StreamJob(url, upstream.headers(request.headers), body, provider, tool_name, owner)
        FlowState(flow).upstream_url = url  # a saved flow still says where it went (headroom eval re-sends it)
        request.scheme, request.host, request.port = "http", "127.0.0.1", self.port
        request.path = _PATH + token
        FlowState(flow).streamed_retrieval = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Keep-alive: a `connection: close` here would reach the client too, and it would then pay a
        # new CONNECT and TLS handshake with the proxy (~10 ms) before its next request.
        try:
            while await self._answer(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the proxy closed the connection (between requests, or the client went away)
        except Exception as e:
            # Closing the connection mid-response is how the client learns of it.
            log.warning("headroom: streamed retrieval failed (%s: %s)", type(e).__name__, e)
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; whether the connection can carry another."""
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
        length = int(headers.get("content-length") or 0)
        if length:
            await reader.readexactly(length)  # the body is the job's; this copy is not needed
        path = request_line.split(" ")[1] if " " in request_line else ""
        job = self.jobs.pop(path[len(_PATH) :], None) if path.startswith(_PATH) else None
        if job is None:
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
            return False
        await self._run(job, writer)
        await writer.drain()
        return "close" not in headers.get("connection", "").lower()

    async def _run(self, job: StreamJob, writer: asyncio.StreamWriter) -> None:
        client = self.upstream.client()
        splicer = job.provider.splicer(job.tool_name)
        assert splicer is not None, f"{job.provider.name} streams cannot be spliced"
        body = job.body
        for round_number in range(MAX_ROUNDS + 1):
            splicer.start_round()
            async with client.stream("POST", job.url, content=body.encode("utf-8"), headers=job.headers) as upstream:
                streamed = upstream.headers.get("content-type", "").startswith("text/event-stream")
                if round_number == 0 and (upstream.status_code != 200 or not streamed):
                    await self._relay(upstream, writer)  # an error (or no stream): the client sees it as it was
                    return
                if upstream.status_code != 200 or not streamed:
                    log.warning("headroom: retrieval follow-up got HTTP %s; ending the stream", upstream.status_code)
                    break
                if round_number == 0:
                    writer.write(_head(200, _relayed(upstream), upstream.reason_phrase))
                parser = SseParser()
                async for chunk in upstream.aiter_bytes():
                    await _send(writer, splicer.feed(parser.feed(chunk)))
                await _send(writer, splicer.feed(parser.close()))
            result = splicer.finish_round()
            if not result.needs_followup or round_number == MAX_ROUNDS:
                break
            answers = {call.call_id: retrieve(self.services, call.ref_id or "", call.query, job.owner, call.lines, job.provider) for call in result.retrieve_calls}
            body = splicer.follow_up_body(body, result, answers)
        await _send(writer, splicer.final_events())
        writer.write(b"0\r\n\r\n")

    async def _relay(self, upstream, writer: asyncio.StreamWriter) -> None:
        """The provider's answer as it was: status, reason, headers and (decoded) body."""
        content = await upstream.aread()
        writer.write(_head(upstream.status_code, _relayed(upstream), upstream.reason_phrase, length=len(content)) + content)

    async def done(self) -> None:
        if self._server is not None:
            self._server.close()


def _relayed(upstream) -> list[tuple[str, str]]:
    """The provider's headers, repeated ones included, less the framing this server sets."""
    return [(k, v) for k, v in upstream.headers.multi_items() if k.lower() not in _FRAMING_HEADERS]


def _head(status: int, headers: list[tuple[str, str]], reason: str, length: int | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]  # the provider's reason phrase, even an empty one
    lines += [f"{k}: {v}" for k, v in headers]
    lines += [f"content-length: {length}" if length is not None else "transfer-encoding: chunked"]
    if length is None and not any(k.lower() == "content-type" for k, _ in headers):
        lines.append("content-type: text/event-stream")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send(writer: asyncio.StreamWriter, pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    if data:
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await writer.drain()
