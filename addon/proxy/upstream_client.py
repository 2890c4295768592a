"""Requests the proxy makes itself (retrieval follow-ups), sent back out through this same
mitmproxy so that upstream TLS settings, routing and the flow list apply to them too.

They carry a per-process token that tells the request hook to pass them untouched: a retrieve
tool's own results are never compressed again.
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Mapping
from pathlib import Path

import httpx
from mitmproxy import ctx, http

FOLLOW_UP_HEADER = "x-headroom-follow-up"
# Hop-by-hop and framing headers: httpx sets its own. Accept-Encoding too, so that streamed
# events arrive decoded.
_DROPPED = {"host", "content-length", "content-encoding", "transfer-encoding", "connection", "accept-encoding", FOLLOW_UP_HEADER}


class UpstreamClient:
    def __init__(self) -> None:
        self.token = secrets.token_hex(16)
        self._client: httpx.AsyncClient | None = None

    def is_follow_up(self, request: http.Request) -> bool:
        """Whether a request is one of ours (and must pass untouched)."""
        return secrets.compare_digest(request.headers.get(FOLLOW_UP_HEADER, ""), self.token)

    def headers(self, original: Mapping[str, str]) -> dict[str, str]:
        """The client's headers (auth included), marked as ours."""
        out = {k: v for k, v in original.items() if k.lower() not in _DROPPED}
        out[FOLLOW_UP_HEADER] = self.token
        return out

    def client(self) -> httpx.AsyncClient:
        """An async client that talks through this proxy and trusts its CA (created lazily, on the loop)."""
        if self._client is None:
            host, port = ctx.master.addons.get("proxyserver").listen_addrs()[0][:2]
            host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
            ca = Path(ctx.options.confdir).expanduser() / "mitmproxy-ca-cert.pem"
            verify = ssl.create_default_context(cafile=str(ca))
            self._client = httpx.AsyncClient(proxy=f"http://{host}:{port}", verify=verify, timeout=600, trust_env=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def upstream_url(request: http.Request) -> str:
    """Where the client sent the request."""
    return f"{request.scheme}://{request.pretty_host}:{request.port}{request.path}"
