"""Intercept only LLM API hosts; tunnel everything else untouched."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Sequence

from mitmproxy import ctx, tls

log = logging.getLogger(__name__)

DEFAULT_HOSTS = (
    "api.anthropic.com",
    "api.openai.com",
    "generativelanguage.googleapis.com",
    "chatgpt.com",
    "cloudcode-pa.googleapis.com",  # Gemini CLI logged in with Google
    "aiplatform.googleapis.com",  # Vertex AI: global and regional endpoints
    "*-aiplatform.googleapis.com",
)


def host_matches(host: str, port: int | None, patterns: Sequence[str]) -> bool:
    """Whether host (and port) match one of the patterns: `name`, `*.domain` or `name:port`."""
    host = host.lower().rstrip(".").strip("[]")
    for pattern in patterns:
        name, want_port = split_pattern(pattern)
        if want_port and (port is None or str(port) != want_port):
            continue
        if name == host or fnmatch.fnmatchcase(host, name):
            return True
    return False


def split_pattern(pattern: str) -> tuple[str, str]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` → (host, port or "")."""
    pattern = pattern.strip().lower()
    if pattern.startswith("["):  # bracketed IPv6, so that ':' and '[' are not misread
        address, _, rest = pattern[1:].partition("]")
        return address, rest.lstrip(":")
    if pattern.count(":") == 1:
        name, _, port = pattern.partition(":")
        return name.rstrip("."), port
    return pattern.rstrip("."), ""


class HostFilter:
    """Decides per TLS connection whether to intercept; non-LLM hosts pass through encrypted."""

    def load(self, loader) -> None:
        loader.add_option(
            "headroom_hosts",
            Sequence[str],
            [],
            "Extra hosts to intercept besides the built-in LLM APIs: OpenAI-compatible services "
            "(openrouter.ai, api.groq.com, api.together.xyz, api.deepseek.com, api.mistral.ai) or "
            "local servers. Entries are host names, *.domain wildcards or host:port.",
        )

    def patterns(self) -> list[str]:
        return [*DEFAULT_HOSTS, *ctx.options.headroom_hosts]

    def wants(self, host: str, port: int | None) -> bool:
        """Whether traffic to host:port is LLM traffic Headroom handles."""
        return host_matches(host, port, self.patterns())

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        server = data.context.server.address
        host = data.client_hello.sni or (server[0] if server else "")
        port = server[1] if server else None
        if not self.wants(host, port):
            data.ignore_connection = True
