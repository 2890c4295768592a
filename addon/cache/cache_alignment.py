"""The cache addon: its options, the aligner's evidence from the ledger, and each request's facts for it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from mitmproxy import ctx, exceptions, http

from addon.cache.cache_aligner import TTL_MODES, AlignOptions, AlignRequest, CacheAligner
from addon.cache.cache_rules import load_cache_rules
from addon.cache.conversation import client_name, session_headers
from addon.providers import PROVIDERS, Provider
from addon.services import Services

log = logging.getLogger(__name__)

MOVE_PROVIDERS = tuple(p.name for p in PROVIDERS if p.moves_front)
LEDGER_HISTORY_S = 14 * 86400
SUBSCRIPTION_HOSTS = ("chatgpt.com",)  # ChatGPT-login Codex: not API-key traffic
PROMPT_CACHE_KEY_HOSTS = ("api.openai.com",)  # compatible hosts may refuse unknown fields


def learn_turn_gaps(aligner: CacheAligner, home: Path) -> None:
    """Give the aligner each client's turn gaps from the ledger (the last two weeks), so a new
    session's TTL choice starts from its client's history."""
    try:
        from addon.ledger.ledger_table import ledger_path, read_rows
        from addon.ledger.turn_gaps import client_turns

        for client, turns in client_turns(read_rows(ledger_path(home), since=time.time() - LEDGER_HISTORY_S)).items():
            aligner.add_client_gaps(client, turns.gaps)
    except Exception as e:  # no history: TTL choices start from this run's gaps
        log.info("headroom: turn gaps not read from the ledger (%s: %s)", type(e).__name__, e)


def is_api_key_traffic(provider: Provider, request: http.Request) -> bool:
    """Whether a request is billed to an API key (the cache aligner may edit it), rather than
    a subscription or OAuth login whose prompts must pass as the client built them."""
    return request.pretty_host not in SUBSCRIPTION_HOSTS and provider.is_api_key_traffic(request.headers, request.query)


class CacheAlignment:
    """Keeps the provider's prompt cache warm: configures the aligner and says, per request,
    what it and the OpenAI `prompt_cache_key` step need."""

    def __init__(self, services: Services) -> None:
        self.aligner = services.aligner

    def load(self, loader) -> None:
        loader.add_option(
            "headroom_prompt_cache_key",
            bool,
            True,
            "Add a stable prompt_cache_key per conversation to api.openai.com requests that have none "
            "(OpenAI routes requests with the same key to the same prompt cache).",
        )
        loader.add_option(
            "headroom_cache_move",
            Sequence[str],
            list(MOVE_PROVIDERS),
            f"Providers ({', '.join(MOVE_PROVIDERS)}) whose API-key requests keep the system prompt as "
            "first sent in a conversation when only dynamic values in it changed (dates, times, ids, git status), "
            "telling the model the new values at the end of the request, so the cached prefix survives. Empty: off.",
        )
        loader.add_option(
            "headroom_cache_breakpoints",
            bool,
            True,
            "Anthropic API-key requests without any cache_control get up to 4 breakpoints (static front, conversation tail).",
        )
        loader.add_option(
            "headroom_cache_ttl",
            str,
            "auto",
            "Anthropic cache TTL for API-key requests: auto (1h for threads whose turn gaps make it cheaper, "
            "learnt from the ledger), 5m, 1h, or client (never change the client's).",
        )
        loader.add_option("headroom_cache_rules", str, "", "A cache rules table (addon/cache/cache_rules.json format); empty: the bundled one.")

    def configure(self, updated: set[str]) -> None:
        if not updated & {"headroom_cache_move", "headroom_cache_breakpoints", "headroom_cache_ttl", "headroom_cache_rules"}:
            return
        unknown = set(ctx.options.headroom_cache_move) - set(MOVE_PROVIDERS)
        if unknown:
            raise exceptions.OptionsError(f"headroom_cache_move: unknown provider(s) {sorted(unknown)}; known: {', '.join(MOVE_PROVIDERS)}")
        if ctx.options.headroom_cache_ttl not in TTL_MODES:
            raise exceptions.OptionsError(f"headroom_cache_ttl must be one of {', '.join(TTL_MODES)}")
        try:
            rules = load_cache_rules(ctx.options.headroom_cache_rules or None)
        except (OSError, ValueError, KeyError) as e:
            raise exceptions.OptionsError(f"headroom_cache_rules: {e}") from e
        options = AlignOptions(frozenset(ctx.options.headroom_cache_move), ctx.options.headroom_cache_breakpoints, ctx.options.headroom_cache_ttl)
        self.aligner.configure(options, rules)

    def running(self) -> None:
        home = Path(ctx.options.headroom_home).expanduser()
        threading.Thread(target=learn_turn_gaps, args=(self.aligner, home), name="headroom-turn-gaps", daemon=True).start()

    def alignment(self, flow: http.HTTPFlow, provider: Provider) -> tuple[CacheAligner, AlignRequest]:
        """The aligner and this request's facts for it."""
        headers = flow.request.headers
        return self.aligner, AlignRequest(session_headers(headers), is_api_key_traffic(provider, flow.request), time.time(), client_name(headers))

    def cache_key_session(self, flow: http.HTTPFlow, provider: Provider) -> dict[str, str] | None:
        """The session headers to key a `prompt_cache_key` on, or None for no key: only
        providers that take one, on their own API host (not ChatGPT-login Codex)."""
        if not ctx.options.headroom_prompt_cache_key or not provider.prompt_cache_key:
            return None
        if flow.request.pretty_host not in PROMPT_CACHE_KEY_HOSTS:
            return None
        return session_headers(flow.request.headers)
