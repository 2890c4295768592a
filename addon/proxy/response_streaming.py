"""Stream server-sent events through as they arrive instead of buffering whole responses."""

from __future__ import annotations

from mitmproxy import http

STREAMED_TYPES = ("text/event-stream", "application/x-ndjson")


class ResponseStreaming:
    """Without this, mitmproxy buffers a text/event-stream response and the client's time to
    first token becomes the whole generation."""

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is None or flow.response.stream:
            return
        if flow.response.headers.get("content-type", "").startswith(STREAMED_TYPES):
            flow.response.stream = True
