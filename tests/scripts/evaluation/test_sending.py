"""sending: one POST, a whole JSON answer or an error that says what happened."""

from __future__ import annotations

import asyncio
import json

import httpx

from scripts.evaluation.resend_requests import ResendRequest
from scripts.evaluation.sending import HttpxSender, reply_of

REQUEST = ResendRequest("forwarded", "anthropic", "https://api.anthropic.com/v1/messages", {"x-api-key": "k"}, b'{"a":1}', "m", 512, True)


def test_sends_body_and_headers_and_reads_json():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    reply = send_through(handler)
    assert reply.ok and reply.document == {"ok": True}
    assert seen[0].content == b'{"a":1}' and seen[0].headers["x-api-key"] == "k" and str(seen[0].url) == REQUEST.url


def test_connection_errors_become_replies():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    reply = send_through(handler)
    assert not reply.ok and reply.status == 0 and "ConnectError" in reply.error


def test_reply_of_quotes_the_providers_error():
    error = reply_of(400, "application/json", json.dumps({"error": {"message": "max_tokens too large"}}).encode())
    assert not error.ok and error.error == "HTTP 400: max_tokens too large" and error.document is not None
    assert "not JSON" in reply_of(502, "text/html", b"<html>bad gateway</html>").error
    assert "stream" in reply_of(200, "text/event-stream", b"data: {}\n\n").error


def send_through(handler):
    """REQUEST sent by an HttpxSender whose transport is `handler`."""

    async def go():
        sender = HttpxSender(transport=httpx.MockTransport(handler))
        try:
            return await sender.send(REQUEST)
        finally:
            await sender.aclose()

    return asyncio.run(go())
