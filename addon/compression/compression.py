"""The request hook: hand each LLM request body to the rewriter off the event loop, fail open."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mitmproxy import command, ctx, exceptions, hooks, http

from addon.cache.cache_aligner import TTL_MODES, AlignOptions, AlignRequest, CacheAligner, cache_summary
from addon.cache.cache_rules import load_cache_rules
from addon.compression.decision_memo import DecisionMemo
from addon.proxy.home import headroom_home, store_dir
from addon.providers import UnknownShape, adapter_for
from addon.ledger.flow_record import SESSION_HEADERS
from addon.retrieval.original_store import Originals, open_store, owner_of
from addon.compression.pipeline import NotJson, Policy, RetrievalPath, RewriteReport, count_tokens_for, rewrite_body
from addon.retrieval.retrieval_rounds import supported
from addon.retrieval.retrieve_tool import answer
from addon.retrieval.stream_responder import SPLICERS
from compressors import Context, Result, Settings, compress
from compressors.router import KINDS, parse_modes, parse_projections
from compressors.tokens import count_tokens

log = logging.getLogger(__name__)

# Nothing lost: a lossy fold needs a retrieve path for the model to get the original back.
# Requests that cannot carry the retrieve tool get lossless transforms only.
WITHOUT_RETRIEVAL_MODE = "lossless"
CREDENTIAL_HEADERS = ("x-api-key", "authorization", "x-goog-api-key", "api-key")
MOVE_PROVIDERS = ("anthropic", "openai_chat", "openai_responses")
LEDGER_HISTORY_S = 14 * 86400
SUBSCRIPTION_HOSTS = ("chatgpt.com",)  # ChatGPT-login Codex: not API-key traffic


def _load_text_model() -> None:
    try:
        from compressors.text_model import load_model

        load_model()
    except Exception as e:  # no model: the statistical fallback serves plain text
        log.info("headroom: text model not loaded (%s: %s)", type(e).__name__, e)


def _learn_turn_gaps(aligner: CacheAligner, home: Path) -> None:
    """Give the aligner each client's turn gaps from the ledger (the last two weeks), so a new
    session's TTL choice starts from its client's history."""
    try:
        from addon.ledger.ledger_table import ledger_path, read_rows
        from addon.ledger.turn_gaps import client_turns

        for client, turns in client_turns(read_rows(ledger_path(home), since=time.time() - LEDGER_HISTORY_S)).items():
            aligner.add_client_gaps(client, turns.gaps)
    except Exception as e:  # no history: TTL choices start from this run's gaps
        log.info("headroom: turn gaps not read from the ledger (%s: %s)", type(e).__name__, e)


def credential_of(request: http.Request) -> str | None:
    """The API key or token a request authenticates with (hashed before it is stored)."""
    for name in CREDENTIAL_HEADERS:
        if value := request.headers.get(name):
            return value
    return request.query.get("key")


def is_api_key_traffic(provider: str, request: http.Request) -> bool:
    """Whether a request is billed to an API key (the cache aligner may edit it), rather than
    a subscription or OAuth login whose prompts must pass as the client built them."""
    if request.pretty_host in SUBSCRIPTION_HOSTS:
        return False
    if provider == "anthropic":
        return bool(request.headers.get("x-api-key"))  # Claude Code's subscription login sends a Bearer token
    if provider in ("openai_chat", "openai_responses"):
        return bool(request.headers.get("api-key")) or request.headers.get("authorization", "").startswith("Bearer ")
    return bool(request.headers.get("x-goog-api-key") or request.query.get("key"))


def session_headers(request: http.Request) -> dict[str, str]:
    """The client's own session ids (Claude Code's, Codex's), which name a conversation."""
    return {name: value for name in SESSION_HEADERS if (value := request.headers.get(name))}


def client_name(request: http.Request) -> str:
    """The client program, from its User-Agent ("claude-cli/2.1.199 (…)" → "claude-cli")."""
    agent = request.headers.get("user-agent", "").strip()
    return agent.split("/", 1)[0].split(" ", 1)[0][:40] if agent else ""


def is_signed_body(request: http.Request) -> bool:
    """AWS SigV4 (Bedrock) signs the body: any change would be rejected, so such requests pass."""
    auth = request.headers.get("authorization", "")
    return (
        auth.startswith("AWS4-HMAC-SHA256")
        or "x-amz-content-sha256" in request.headers
        or request.pretty_host.startswith("bedrock-runtime.")
    )


class Compression:
    """Rewrites LLM request bodies in place; any failure forwards the original bytes."""

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.settings = Settings()
        self.compress_fn = self.compress_segment  # tests swap this to prove fail-open
        self.originals: Originals | None = None
        self.memo: DecisionMemo | None = None
        self.executor: ThreadPoolExecutor | None = None
        # Counting runs on its own thread so it never delays another request's compression.
        self.count_executor = ThreadPoolExecutor(1, thread_name_prefix="headroom-count")
        self.policy = Policy()
        self.aligner: CacheAligner | None = None
        self._background: set[asyncio.Future] = set()

    def load(self, loader) -> None:
        loader.add_option("headroom_enabled", bool, True, "Compress LLM request bodies (off: pass everything through).")
        loader.add_option(
            "headroom_home",
            str,
            str(headroom_home()),
            "Directory for all Headroom state (CA, store, logs). Defaults to $HEADROOM_HOME or the "
            "per-user data directory.",
        )
        loader.add_option("headroom_min_tokens", int, Policy.min_tokens, "Leave segments smaller than this many tokens whole.")
        loader.add_option(
            "headroom_min_saving_pct", int, int(Policy.min_saving * 100), "Keep a compression only if it saves at least this percentage."
        )
        loader.add_option("headroom_max_body_mb", int, 16, "Pass bodies larger than this through untouched.")
        loader.add_option("headroom_workers", int, 2, "Threads that run compression off the event loop.")
        loader.add_option(
            "headroom_kinds",
            Sequence[str],
            [],
            "Per-kind compression mode, KIND=MODE: kinds json, html, code, log, test, search, diff, build, text; "
            "modes on, lossless, off. Until the retrieve tool lands every kind is lossless-only by default.",
        )
        loader.add_option(
            "headroom_json_projections",
            Sequence[str],
            [],
            "Pinned JSON projections, GLOB=JMESPATH: GLOB matches a tool name or the URL in the tool call, "
            "e.g. 'mcp__github__list_issues=[].{number: number, state: state, title: title}'.",
        )
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
            "Providers (anthropic, openai_chat, openai_responses) whose API-key requests keep the system prompt as "
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
        loader.add_option(
            "headroom_store_ttl_s",
            int,
            3600,
            "Keep each original this long after its last use (every request that re-sends its marker "
            "counts as a use).",
        )
        loader.add_option("headroom_store_max_mb", int, 1024, "Size limit of the local store of originals.")
        loader.add_option(
            "headroom_redis_url",
            str,
            "",
            "Keep originals in Redis instead of the local store (redis://host:6379/0), so several "
            "proxies of a team share them.",
        )
        loader.add_option(
            "headroom_exclude_tools", Sequence[str], [], "Tool names whose output is never compressed (e.g. an MCP tool)."
        )

    def configure(self, updated: set[str]) -> None:
        if "headroom_workers" in updated:
            if ctx.options.headroom_workers < 1:
                raise exceptions.OptionsError("headroom_workers must be at least 1")
            if self.executor:
                self.executor.shutdown(wait=False)
            self.executor = ThreadPoolExecutor(ctx.options.headroom_workers, thread_name_prefix="headroom")
        if updated & {"headroom_min_tokens", "headroom_min_saving_pct"}:
            pct = ctx.options.headroom_min_saving_pct
            if not 0 <= pct <= 100:
                raise exceptions.OptionsError("headroom_min_saving_pct must be between 0 and 100")
            self.policy = Policy(ctx.options.headroom_min_tokens, pct / 100, Policy.min_saved_tokens)
        if updated & {"headroom_kinds", "headroom_exclude_tools", "headroom_json_projections"}:
            try:
                modes = parse_modes(ctx.options.headroom_kinds)
                projections = parse_projections(ctx.options.headroom_json_projections)
            except ValueError as e:
                raise exceptions.OptionsError(str(e)) from e
            excluded = tuple(ctx.options.headroom_exclude_tools)
            self.settings = Settings(modes, excluded, "on", projections)
        if "headroom_home" in updated:
            if self.memo:
                self.memo.close()
            self.memo = DecisionMemo(store_dir(Path(ctx.options.headroom_home).expanduser()) / "decisions")
        if updated & {"headroom_home", "headroom_cache_move", "headroom_cache_breakpoints", "headroom_cache_ttl", "headroom_cache_rules"}:
            self.aligner = self._make_aligner()
        if updated & {"headroom_home", "headroom_redis_url", "headroom_store_ttl_s", "headroom_store_max_mb"}:
            if self.originals:
                self.originals.close()
            self.originals = open_store(
                Path(ctx.options.headroom_home).expanduser(),
                ctx.options.headroom_redis_url or None,
                ctx.options.headroom_store_ttl_s,
                ctx.options.headroom_store_max_mb * 1024 * 1024,
            )

    def _make_aligner(self) -> CacheAligner:
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
        previous = self.aligner
        aligner = CacheAligner(self.memo, options, rules)
        if previous is not None:
            aligner.inherit(previous)
        return aligner

    def compress_segment(self, text: str, context: Context) -> Result:
        """The compressor the rewriter calls, with the user's settings."""
        return compress(text, context, settings=self.settings)

    def compress_lossless(self, text: str, context: Context) -> Result:
        """The same, for requests without a retrieve path: lossless transforms only."""
        settings = replace(self.settings, modes={k: WITHOUT_RETRIEVAL_MODE for k in KINDS[1:]} | {
            k: m for k, m in self.settings.modes.items() if m == "off"
        })
        return compress(text, context, settings=settings)

    def running(self) -> None:
        # Load the tokenizer and the text model now, in a worker, rather than inside the first
        # request that needs them (the model takes seconds to load).
        self.count_executor.submit(count_tokens, "warm up")
        threading.Thread(target=_load_text_model, name="headroom-text-model", daemon=True).start()
        if self.aligner is not None:
            home = Path(ctx.options.headroom_home).expanduser()
            threading.Thread(target=_learn_turn_gaps, args=(self.aligner, home), name="headroom-turn-gaps", daemon=True).start()

    async def request(self, flow: http.HTTPFlow) -> None:
        if not ctx.options.headroom_enabled or flow.response is not None or flow.metadata.get("headroom_follow_up"):
            return
        request = flow.request
        host_filter = ctx.master.addons.get("hostfilter")
        if request.method != "POST" or (host_filter and not host_filter.wants(request.pretty_host, request.port)):
            return
        adapter = adapter_for(request.path)
        if adapter is None:
            return
        if is_signed_body(request):
            self.counters["signed_passthrough"] += 1
            return
        if "json" not in request.headers.get("content-type", "json"):
            self.counters["not_json"] += 1
            return
        if len(request.raw_content or b"") > ctx.options.headroom_max_body_mb * 1024 * 1024:
            self.counters["too_large"] += 1
            return
        try:
            body = request.get_content(strict=True)
        except ValueError as e:  # a Content-Encoding that does not decode
            self.counters["errors"] += 1
            log.warning("headroom: %s passed through: body does not decode (%s)", request.path, e)
            return
        if not body:
            return
        new_body = await self._rewrite(
            flow, adapter, body, self._retrieval_path(flow, adapter.name), self._cache_key_session(flow, adapter.name), self._alignment(flow, adapter.name)
        )
        if new_body is not None:
            flow.metadata["headroom_original"] = body  # the "before" of the Headroom view (addon/view/flow_view.py)
            request.content = new_body  # re-encodes Content-Encoding, fixes Content-Length
        meta = flow.metadata.get("headroom") or {}
        if meta.get("retrieve_tool") and meta.get("streaming"):
            # Only the loopback responder can answer a retrieve call inside a stream.
            ctx.master.addons.get("streamresponder").route(flow, adapter.name, meta["retrieve_tool"], flow.metadata["headroom_owner"])

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        """The Responses API over WebSocket (Codex prefers it): each client `response.create`
        message carries a request body, rewritten like an HTTP one."""
        if not ctx.options.headroom_enabled or flow.websocket is None:
            return
        message = flow.websocket.messages[-1]
        host_filter = ctx.master.addons.get("hostfilter")
        if not message.from_client or not message.is_text:
            return
        if host_filter and not host_filter.wants(flow.request.pretty_host, flow.request.port):
            return
        adapter = adapter_for(flow.request.path)
        if adapter is None or adapter.name != "openai_responses" or b'"response.create"' not in message.content[:4096]:
            return
        if len(message.content) > ctx.options.headroom_max_body_mb * 1024 * 1024:
            self.counters["too_large"] += 1
            return
        new_content = await self._rewrite(flow, adapter, message.content, alignment=self._alignment(flow, adapter.name))
        if new_content is not None:
            message.content = new_content

    def retrieve(self, original_id: str, query: str | None, owner: str) -> str:
        """The tool result for one retrieve call (counted per outcome)."""
        try:
            fetched = self.originals.fetch(original_id, owner)
        except Exception as e:  # store unavailable: tell the model, not the client
            self.counters["retrieve_error"] += 1
            log.warning("headroom: retrieve failed (%s: %s)", type(e).__name__, e)
            return "The original cannot be fetched right now. Re-run the tool to see its output again."
        self.counters[f"retrieve_{fetched.status}"] += 1
        return answer(fetched.original.text if fetched.original else None, query, fetched.status)

    def _cache_key_session(self, flow: http.HTTPFlow, provider: str) -> dict[str, str] | None:
        """The session headers to key an OpenAI prompt_cache_key on, or None for no key: only
        OpenAI's own API (compatible hosts may refuse unknown fields; ChatGPT-login Codex is
        not API-key traffic)."""
        if not ctx.options.headroom_prompt_cache_key or provider not in ("openai_chat", "openai_responses"):
            return None
        if flow.request.pretty_host != "api.openai.com":
            return None
        return session_headers(flow.request)

    def _alignment(self, flow: http.HTTPFlow, provider: str) -> tuple[CacheAligner, AlignRequest] | None:
        """The cache aligner and this request's facts for it."""
        if self.aligner is None:
            return None
        return self.aligner, AlignRequest(session_headers(flow.request), is_api_key_traffic(provider, flow.request), time.time(), client_name(flow.request))

    def _retrieval_path(self, flow: http.HTTPFlow, provider: str) -> RetrievalPath | None:
        """How the model can get originals back for this flow, when the proxy can answer."""
        if self.originals is None or not supported(provider):
            return None
        owner = owner_of(credential_of(flow.request))
        flow.metadata["headroom_owner"] = owner
        responder = ctx.master.addons.get("streamresponder")
        streaming = provider in SPLICERS and responder is not None and responder.ready
        return RetrievalPath(self.originals, owner, provider, streaming=streaming, session_headers=session_headers(flow.request))

    async def _rewrite(
        self,
        flow: http.HTTPFlow,
        adapter,
        body: bytes,
        retrieval: RetrievalPath | None = None,
        cache_key: dict[str, str] | None = None,
        alignment: tuple[CacheAligner, AlignRequest] | None = None,
    ) -> bytes | None:
        """The rewritten body, or None to forward the original (unchanged, or any failure)."""
        # Tests swap compress_fn; the real one falls back to lossless where there is no way back.
        lossless_fn = self.compress_lossless if self.compress_fn == self.compress_segment else None
        try:
            new_body, report = await asyncio.get_running_loop().run_in_executor(
                self.executor, rewrite_body, body, adapter, self.memo, self.policy, self.compress_fn, False, retrieval, lossless_fn, cache_key, alignment
            )
        except (NotJson, UnknownShape) as e:
            self.counters["not_json" if isinstance(e, NotJson) else "unknown_shape"] += 1
            log.info("headroom: %s %s passed through: %s", adapter.name, flow.request.path, e)
            return None
        except Exception as e:  # fail open: the original bytes go out untouched
            self.counters["errors"] += 1
            log.warning("headroom: %s %s passed through unchanged (%s: %s)", adapter.name, flow.request.path, type(e).__name__, e)
            flow.metadata["headroom"] = {"error": f"{type(e).__name__}: {e}"}
            return None
        for error in report.errors:
            self.counters["errors"] += 1
            log.warning("headroom: a %s segment was left as it was (compressor failed: %s)", adapter.name, error)
        self._describe(flow, report)
        if not report.counted:
            # Exact token counts are for people and the ledger, not for forwarding: count them
            # while the request is already on its way.
            task = asyncio.ensure_future(self._count_later(flow, report))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        if new_body is body:
            self.counters["unchanged"] += 1
            return None
        self.counters["rewritten"] += 1
        flow.marked = ":scissors:"
        return new_body

    async def _count_later(self, flow: http.HTTPFlow, report: RewriteReport) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self.count_executor, count_tokens_for, report, self.memo)
        except Exception as e:
            log.warning("headroom: token counting failed (%s: %s)", type(e).__name__, e)
            return
        self._describe(flow, report)
        ctx.master.addons.trigger(hooks.UpdateHook([flow]))  # mitmweb redraws the comment; the ledger takes the counts

    @staticmethod
    def _describe(flow: http.HTTPFlow, report: RewriteReport) -> None:
        flow.metadata["headroom"] = report.as_dict()
        if report.rewritten or cache_summary(report.cache):
            flow.comment = report.summary()

    @command.command("headroom.counters")
    def counters_command(self) -> str:
        """What the rewriter did since start: rewritten, unchanged, errors and pass-through reasons."""
        return ", ".join(f"{k}={v}" for k, v in sorted(self.counters.items())) or "nothing yet"

    def done(self) -> None:
        if self.executor:
            self.executor.shutdown(wait=False)
        self.count_executor.shutdown(wait=False)
        if self.memo:
            self.memo.close()
        if self.originals:
            self.originals.close()
