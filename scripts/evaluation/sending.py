"""The network part of `headroom eval`: one request out, one whole answer back.

Behind the `Sender` interface so tests (and a dry run) replace it. The httpx client ignores the
environment's proxy settings by default: the eval talks to the provider directly, it is not
re-proxied through Headroom (that would rewrite the original side too).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from scripts.evaluation.resend_requests import ResendRequest

TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Reply:
    """What came back: the HTTP status and the JSON answer, or why there is none."""

    status: int
    document: Any = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300


class Sender(Protocol):
    async def send(self, request: ResendRequest) -> Reply: ...

    async def aclose(self) -> None: ...


class HttpxSender:
    """Sends with one pooled httpx client."""

    def __init__(self, verify: str | bool = True, trust_env: bool = False, timeout_s: float = TIMEOUT_S, transport: Any = None) -> None:
        import httpx

        self.client = httpx.AsyncClient(verify=verify, trust_env=trust_env, timeout=timeout_s, transport=transport)

    async def send(self, request: ResendRequest) -> Reply:
        """POST the body; any failure becomes a Reply with an error, never an exception."""
        import httpx

        started = time.monotonic()
        try:
            response = await self.client.post(request.url, content=request.body, headers=request.headers)
        except httpx.HTTPError as e:
            return Reply(0, error=f"{type(e).__name__}: {e}", seconds=time.monotonic() - started)
        return reply_of(response.status_code, response.headers.get("content-type", ""), response.content, time.monotonic() - started)

    async def aclose(self) -> None:
        await self.client.aclose()


def reply_of(status: int, content_type: str, content: bytes, seconds: float = 0.0) -> Reply:
    """A Reply from a response's status, type and body: JSON, else an error that quotes it."""
    if "event-stream" in content_type:
        return Reply(status, error="the provider answered with a stream although none was asked for", seconds=seconds)
    try:
        document = json.loads(content)
    except ValueError:
        return Reply(status, error=f"HTTP {status}, not JSON: {content[:200]!r}", seconds=seconds)
    if not 200 <= status < 300:
        return Reply(status, document, error=f"HTTP {status}: {_error_message(document)}", seconds=seconds)
    return Reply(status, document, seconds=seconds)


def _error_message(document: Any) -> str:
    """The provider's own error message where its error body has one."""
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"][:300]
    if isinstance(document, list) and document:  # Gemini sometimes wraps errors in a list
        return _error_message(document[0])
    return json.dumps(document)[:300]
