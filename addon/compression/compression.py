"""The request hook: hand each LLM request body to the pipeline off the event loop, fail open."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from mitmproxy import command, ctx, exceptions, hooks, http

from addon.cache.cache_aligner import cache_summary
from addon.cache.cache_alignment import CacheAlignment
from addon.compression.pipeline import NotJson, rewrite_body
from addon.compression.rewrite_report import RewriteReport, count_tokens_for, summary_of
from addon.compression.compress_budget import CompressBudget, load_compressors, load_text_model
from addon.compression.rewrite_workers import RetrievalFacts, RewriteDone, RewriteJob, RewriteWorkers, WorkerSetup, route_key
from addon.compression.segment_decisions import CompressFn, Policy
from addon.flow_state import FlowState
from addon.media.image_decisions import ImageSettings, parse_max_edge
from addon.media.video_decisions import parse_video_fps
from addon.providers import Provider, UnknownShape, provider_for
from addon.provenance.composition import Composer
from addon.proxy.host_filter import HostFilter
from addon.retrieval.retrieval_path import RetrievalPath, retrieval_path
from addon.retrieval.stream_responder import StreamResponder
from addon.services import Services
from compressors import Context, Result, Settings, compress
from compressors.router import parse_modes, parse_projections
from compressors.tokens import count_tokens

log = logging.getLogger(__name__)

# One worker process by default: under load (scripts/bench_load.py, 50 streaming clients on 2
# cores) threads sharing the event loop's GIL more than doubled p99 time to first byte and
# stalled the loop 50+ times over 100 ms; one worker kept both at mitmdump's own level.
DEFAULT_PROCESSES = 1
WORKER_RESTART_S = 30.0  # workers that broke are replaced, at most this often (a crash loop costs little)
# Options a rewrite worker process is started with: a change restarts the workers.
WORKER_OPTIONS = {
    "headroom_processes", "headroom_enabled", "headroom_home", "headroom_redis_url", "headroom_store_ttl_s", "headroom_store_max_mb",
    "headroom_min_tokens", "headroom_min_saving_pct", "headroom_kinds", "headroom_exclude_tools", "headroom_json_projections",
    "headroom_budget_ms", "headroom_model_budget_ms", "headroom_workers", "headroom_cache_move", "headroom_cache_breakpoints",
    "headroom_cache_ttl", "headroom_cache_rules", "headroom_images", "headroom_image_max_edge", "headroom_video_fps", "headroom_provenance",
}  # fmt: skip


def _load_text_model() -> None:
    load_text_model()
    settle_heap()


def settle_heap() -> None:
    """Move what start-up allocated (mitmproxy, torch, the models: millions of objects that live
    as long as the proxy) out of the garbage collector's view, so its full collections, which
    stop every thread, the event loop's included, walk only what requests allocate."""
    gc.collect()
    gc.freeze()


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

    def __init__(self, services: Services, hosts: HostFilter, cache: CacheAlignment, responder: StreamResponder) -> None:
        self.services, self.hosts, self.cache, self.responder = services, hosts, cache, responder
        self.counters = services.counters
        self.settings = Settings()
        self.compress_fn = self.compress_segment  # tests swap this to prove fail-open
        self.executor: ThreadPoolExecutor | None = None
        # Counting runs on its own thread so it never delays another request's compression.
        self.count_executor = ThreadPoolExecutor(1, thread_name_prefix="headroom-count")
        self.policy = Policy()
        self.images = ImageSettings()
        self.budget = CompressBudget(counters=services.counters)
        self.composer: Composer | None = Composer()  # provenance of every request (headroom_provenance)
        self.workers: RewriteWorkers | None = None  # headroom_processes: whole rewrites in worker processes
        self._workers_started = 0.0
        self._running = False
        self._background: set[asyncio.Future] = set()

    def load(self, loader) -> None:
        loader.add_option("headroom_enabled", bool, True, "Compress LLM request bodies (off: pass everything through).")
        loader.add_option("headroom_min_tokens", int, Policy.min_tokens, "Give segments smaller than this many tokens only the lossless passes (unpadded line numbers, counted repeats).")
        loader.add_option(
            "headroom_min_saving_pct", int, int(Policy.min_saving * 100), "Keep a compression only if it saves at least this percentage."
        )
        loader.add_option("headroom_max_body_mb", int, 16, "Pass bodies larger than this through untouched.")
        loader.add_option("headroom_workers", int, 2, "Threads that run compression off the event loop.")
        loader.add_option(
            "headroom_processes", int, DEFAULT_PROCESSES,
            "Worker processes that run each request's whole rewrite (parse, compress, splice, counts), off the "
            "event loop's GIL; a conversation stays on one. 0: threads of the proxy's own process (less memory: "
            "each worker holds the text model, ~400 MB).",
        )
        loader.add_option(
            "headroom_budget_ms", int, int(CompressBudget.base_s * 1000),
            "Longest a request waits for compression; a segment past it goes whole (remembered so).",
        )
        loader.add_option(
            "headroom_model_budget_ms", int, int(CompressBudget.model_s * 1000),
            "Added to the budget for a segment of prose that goes to the text model.",
        )
        loader.add_option(
            "headroom_kinds",
            Sequence[str],
            [],
            "Per-kind compression mode, KIND=MODE: kinds json, html, code, log, test, search, records, diff, build, text; "
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
            "headroom_provenance", bool, True,
            "Record where every part of each request came from and what became of it (the ledger; `headroom trace`).",
        )
        loader.add_option(
            "headroom_exclude_tools", Sequence[str], [], "Tool names whose output is never compressed (e.g. an MCP tool)."
        )
        # ---- images (addon/media/) ----
        loader.add_option("headroom_images", bool, True, "Make fresh images in requests smaller (the original stays retrievable).")
        loader.add_option(
            "headroom_image_max_edge", Sequence[str], [],
            "Longest image edge per provider, PROVIDER=PIXELS (anthropic, openai_chat, openai_responses, gemini); "
            "defaults anthropic=1280, gemini=1536 and what OpenAI keeps anyway. Never below what a provider keeps where "
            "its retrieve answers cannot return the original.",
        )
        loader.add_option(
            "headroom_video_fps", float, 1.0,
            "Gemini inline video: frames looked at per second; near-duplicates are dropped and the rest sent as "
            "images with their timestamps (the original stays retrievable). Gemini itself reads 1 frame a second.",
        )

    def configure(self, updated: set[str]) -> None:
        if "headroom_provenance" in updated:
            self.composer = (self.composer or Composer()) if ctx.options.headroom_provenance else None
        if "headroom_workers" in updated:
            if ctx.options.headroom_workers < 1:
                raise exceptions.OptionsError("headroom_workers must be at least 1")
            if self.executor:
                self.executor.shutdown(wait=False)
            self.executor = ThreadPoolExecutor(ctx.options.headroom_workers, thread_name_prefix="headroom")
        if updated & {"headroom_workers", "headroom_budget_ms", "headroom_model_budget_ms"}:
            if ctx.options.headroom_budget_ms < 1 or ctx.options.headroom_model_budget_ms < 0:
                raise exceptions.OptionsError("headroom_budget_ms must be at least 1 and headroom_model_budget_ms at least 0")
            self.budget.shutdown()
            self.budget = CompressBudget(
                ctx.options.headroom_budget_ms / 1000,
                ctx.options.headroom_model_budget_ms / 1000,
                2 * ctx.options.headroom_workers,
                self.counters,
            )
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
            self.settings = Settings(modes, tuple(ctx.options.headroom_exclude_tools), "on", projections)
        if updated & {"headroom_images", "headroom_image_max_edge", "headroom_video_fps"}:
            try:
                edges = parse_max_edge(ctx.options.headroom_image_max_edge)
                fps = parse_video_fps(ctx.options.headroom_video_fps)
            except ValueError as e:
                raise exceptions.OptionsError(str(e)) from e
            self.images = ImageSettings(ctx.options.headroom_images, edges, fps)

        if updated & WORKER_OPTIONS:
            if ctx.options.headroom_processes < 0:
                raise exceptions.OptionsError("headroom_processes must be 0 (threads) or more")
            self._restart_workers()

    def _restart_workers(self) -> None:
        """(Re)start the rewrite workers with the current options; they open the state themselves."""
        if self.workers is not None:
            self.workers.shutdown()
            self.workers = None
        if self._running and ctx.options.headroom_enabled and ctx.options.headroom_processes > 0:
            self.workers = RewriteWorkers(ctx.options.headroom_processes, self._worker_setup())
            self._workers_started = time.monotonic()

    def _worker_setup(self) -> WorkerSetup:
        o = ctx.options
        return WorkerSetup(
            str(Path(o.headroom_home).expanduser()), o.headroom_redis_url, o.headroom_store_ttl_s, o.headroom_store_max_mb * 1024 * 1024,
            self.policy, self.settings, self._lossless_settings(), o.headroom_budget_ms / 1000, o.headroom_model_budget_ms / 1000,
            2 * o.headroom_workers, self.cache.aligner.options, o.headroom_cache_rules or None, self.images, self.composer is not None,
            # the proxy's salt (a team's, from Redis at its start): a worker starting while Redis
            # is away must not fall back to another one and name the same text differently
            self.services.originals.salt if self.services.originals is not None else None,
        )  # fmt: skip

    def compress_segment(self, text: str, context: Context) -> Result:
        """The compressor the rewriter calls, with the user's settings."""
        return compress(text, context, settings=self.settings)

    def compress_lossless(self, text: str, context: Context) -> Result:
        """The same, for requests without a retrieve path: lossless transforms only."""
        return compress(text, context, settings=self._lossless_settings())

    def _lossless_settings(self) -> Settings:
        # Nothing lost: a lossy fold needs a retrieve path for the model to get the original
        # back. Requests that cannot carry the retrieve tool get lossless transforms only.
        return self.settings.lossless_only()

    def _budgeted(self) -> tuple[CompressFn, CompressFn]:
        """This request's compressors, both under one deadline (addon/compression/compress_budget.py)."""
        return self.budget.for_request(self.settings, self._lossless_settings())

    def running(self) -> None:
        # Load the tokenizer and the text model now, in a worker, rather than inside the first
        # request that needs them (the model takes seconds to load).
        self._running = True
        self._restart_workers()
        self.count_executor.submit(count_tokens, "warm up")
        if self.workers is not None:  # the workers load the compressors and the model; here they are a fallback
            self.count_executor.submit(settle_heap)
            return
        self.count_executor.submit(load_compressors)  # their first use must not eat a request's budget
        threading.Thread(target=_load_text_model, name="headroom-text-model", daemon=True).start()

    async def request(self, flow: http.HTTPFlow) -> None:
        state = FlowState(flow)
        if not ctx.options.headroom_enabled or flow.response is not None or state.follow_up:
            return
        request = flow.request
        if request.method != "POST" or not self.hosts.wants(request.pretty_host, request.port):
            return
        provider = provider_for(request.path)
        if provider is None or (reason := self._pass_reason(request)):
            if provider is not None:
                self.counters[reason] += 1
            return
        try:
            body = request.get_content(strict=True)
        except ValueError as e:  # a Content-Encoding that does not decode
            self.counters["errors"] += 1
            log.warning("headroom: %s passed through: body does not decode (%s)", request.path, e)
            return
        if not body:
            return
        retrieval = retrieval_path(
            self.services.originals, provider, request.headers, request.query, self.responder.ready, request.path, flow.client_conn.id
        )
        if retrieval is not None:
            state.owner = retrieval.owner
        new_body = await self._rewrite(flow, provider, body, retrieval, self.cache.cache_key_session(flow, provider))
        if new_body is not None:
            state.original = body
            request.content = new_body  # re-encodes Content-Encoding, fixes Content-Length
        report = state.report or {}
        if report.get("retrieve_tool") and report.get("streaming") and retrieval is not None:
            # Only the loopback responder can answer a retrieve call inside a stream.
            self.responder.route(flow, provider, report["retrieve_tool"], retrieval.owner)

    def _pass_reason(self, request: http.Request) -> str | None:
        """Why a request to an LLM API passes untouched, or None to rewrite it."""
        if is_signed_body(request):
            return "signed_passthrough"
        if "json" not in request.headers.get("content-type", "json"):
            return "not_json"
        if len(request.raw_content or b"") > ctx.options.headroom_max_body_mb * 1024 * 1024:
            return "too_large"
        return None

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        """Providers whose request bodies also come as WebSocket messages (Responses: Codex
        prefers it): each client `response.create` message is rewritten like an HTTP body."""
        if not ctx.options.headroom_enabled or flow.websocket is None:
            return
        message = flow.websocket.messages[-1]
        if not message.from_client or not message.is_text or message.injected:
            return  # injected: the proxy's own retrieval follow-up, already as it must go
        if not self.hosts.wants(flow.request.pretty_host, flow.request.port):
            return
        provider = provider_for(flow.request.path)
        if provider is None or not provider.websocket_requests or b'"response.create"' not in message.content[:4096]:
            return
        state = FlowState(flow)
        state.report = None  # this message's report, not the previous one's
        if len(message.content) > ctx.options.headroom_max_body_mb * 1024 * 1024:
            self.counters["too_large"] += 1
            return
        # WebSocketRetrieval answers retrieve calls on the connection itself, through the
        # provider's stream splicer: without one, no retrieve path (lossless only).
        request = flow.request
        retrieval = None
        if provider.splices_streams:
            retrieval = retrieval_path(self.services.originals, provider, request.headers, request.query, True, request.path, flow.client_conn.id)
        if retrieval is not None:
            state.owner = retrieval.owner
        new_content = await self._rewrite(flow, provider, message.content, retrieval)
        if new_content is not None:
            message.content = new_content

    async def _rewrite(
        self, flow: http.HTTPFlow, provider: Provider, body: bytes, retrieval: RetrievalPath | None = None, cache_key: dict[str, str] | None = None
    ) -> bytes | None:
        """The rewritten body, or None to forward the original (unchanged, or any failure)."""
        workers = self.workers
        if workers is not None and workers.ready and self.compress_fn == self.compress_segment:
            done = await self._rewrite_in_worker(workers, flow, provider, body, retrieval, cache_key)
            if done is not None:
                return self._apply(flow, provider, done)
        # Tests swap compress_fn; the real one runs under the request's time budget and falls back
        # to lossless where there is no way back.
        compress_fn, lossless_fn = self._budgeted() if self.compress_fn == self.compress_segment else (self.compress_fn, None)
        alignment = self.cache.alignment(flow, provider)
        memo = self.services.memo
        try:
            new_body, report = await asyncio.get_running_loop().run_in_executor(
                self.executor, partial(rewrite_body, images=self.images), body, provider, memo, self.policy, compress_fn, False, retrieval, lossless_fn, cache_key, alignment,
                self.composer,
            )
        except (NotJson, UnknownShape) as e:
            return self._passed(flow, provider, "not_json" if isinstance(e, NotJson) else "unknown_shape", str(e))
        except Exception as e:  # fail open: the original bytes go out untouched
            return self._passed(flow, provider, "error", f"{type(e).__name__}: {e}")
        self._count_errors(provider, report.errors)
        self._describe(flow, report)
        if not report.counted:
            # Exact token counts are for people and the ledger, not for forwarding: count them
            # while the request is already on its way.
            task = asyncio.ensure_future(self._count_later(flow, report))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return self._forward(flow, None if new_body is body else new_body)

    def _passed(self, flow: http.HTTPFlow, provider: Provider, why: str, reason: str) -> None:
        """A body the rewrite could not handle goes out as it came (`why`: not_json,
        unknown_shape, or error: a failure, told on the flow too)."""
        if why == "error":
            self.counters["errors"] += 1
            log.warning("headroom: %s %s passed through unchanged (%s)", provider.name, flow.request.path, reason)
            FlowState(flow).report = {"error": reason}
        else:
            self.counters[why] += 1
            log.info("headroom: %s %s passed through: %s", provider.name, flow.request.path, reason)
        return None

    def _count_errors(self, provider: Provider, errors: list[str]) -> None:
        for error in errors:
            self.counters["errors"] += 1
            log.warning("headroom: a %s segment was left as it was (compressor failed: %s)", provider.name, error)

    def _forward(self, flow: http.HTTPFlow, new_body: bytes | None) -> bytes | None:
        """The body to forward (None: the original, unchanged), counted and marked."""
        if new_body is None:
            self.counters["unchanged"] += 1
            return None
        self.counters["rewritten"] += 1
        flow.marked = ":scissors:"
        return new_body

    async def _rewrite_in_worker(
        self, workers: RewriteWorkers, flow: http.HTTPFlow, provider: Provider, body: bytes, retrieval: RetrievalPath | None, cache_key: dict[str, str] | None
    ) -> RewriteDone | None:
        """The worker's answer, or None when the workers cannot serve (the threads then do)."""
        _, align = self.cache.alignment(flow, provider)
        job = RewriteJob(body, provider.name, RetrievalFacts.of(retrieval) if retrieval is not None else None, cache_key, align)
        try:
            return await asyncio.wrap_future(workers.submit(job, route_key(align.session_headers, body)))
        except Exception as e:  # a worker died (BrokenProcessPool: killed, out of memory) or could not take the job
            workers.broken = True
            self.counters["rewrite_workers_broken"] += 1
            restart = time.monotonic() - self._workers_started >= WORKER_RESTART_S
            log.warning(
                "headroom: the rewrite workers stopped (%s: %s); rewriting in the proxy's threads%s",
                type(e).__name__, e, ", starting new ones" if restart else "",
            )  # fmt: skip
            if restart and workers is self.workers:  # new ones serve once ready; a crash loop waits between tries
                self._restart_workers()
            return None

    def _apply(self, flow: http.HTTPFlow, provider: Provider, done: RewriteDone) -> bytes | None:
        """A worker's answer on the flow, as `_rewrite` does for a thread's."""
        self.counters.update(done.counters)
        if done.passed:
            return self._passed(flow, provider, done.passed, done.reason)
        self._count_errors(provider, done.errors)
        FlowState(flow).report = done.report
        if done.report.get("rewritten") or cache_summary(done.report.get("cache") or {}):
            flow.comment = summary_of(done.report)
        return self._forward(flow, done.body)

    async def _count_later(self, flow: http.HTTPFlow, report: RewriteReport) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self.count_executor, count_tokens_for, report, self.services.memo)
        except Exception as e:
            log.warning("headroom: token counting failed (%s: %s)", type(e).__name__, e)
            return
        self._describe(flow, report)
        ctx.master.addons.trigger(hooks.UpdateHook([flow]))  # mitmweb redraws the comment; the ledger takes the counts

    @staticmethod
    def _describe(flow: http.HTTPFlow, report: RewriteReport) -> None:
        FlowState(flow).report = report.as_dict()
        if report.rewritten or cache_summary(report.cache):
            flow.comment = report.summary()

    @command.command("headroom.counters")
    def counters_command(self) -> str:
        """What the rewriter did since start: rewritten, unchanged, errors and pass-through reasons."""
        return ", ".join(f"{k}={v}" for k, v in sorted(self.counters.items())) or "nothing yet"

    def done(self) -> None:
        if self.executor:
            self.executor.shutdown(wait=False)
        if self.workers is not None:
            self.workers.shutdown()
        self.count_executor.shutdown(wait=False)
        self.budget.shutdown()
