"""Whole rewrites in worker processes (`headroom_processes`): off the proxy's GIL.

With threads, the rewrite shares the GIL with mitmproxy's event loop: parsing a megabyte body,
splicing it, counting its tokens and building its composition each hold the GIL in long
stretches, and every other flow's I/O waits (scripts/bench_load.py's loop stalls). Here each
request's whole rewrite (parse, plan, compress, images, align, splice, exact counts,
composition) runs in a spawned worker process; the proxy's process only hands the body over and
takes the new one back.

Each worker opens the same state the proxy does (the decision memo, the store of originals, the
Redis a team shares): diskcache and Redis are safe across processes, so a decision made in one
worker is replayed by any other. The cache aligner keeps per-conversation memory (previous
prompt, turn gaps), so a conversation always goes to the same worker: routed by its session
header, else by the opening of its body, which its every turn re-sends.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from addon.cache.cache_aligner import AlignOptions, AlignRequest, CacheAligner
from addon.compression.compress_budget import CompressBudget, warm_worker
from addon.compression.decision_memo import DecisionMemo
from addon.compression.pipeline import NotJson, rewrite_body
from addon.compression.segment_decisions import Policy
from addon.media.image_decisions import ImageSettings
from addon.provenance.composition import Composer
from addon.providers import UnknownShape, provider_named
from addon.proxy.home import store_dir
from addon.retrieval.original_store import Originals, open_store
from addon.retrieval.retrieval_path import RetrievalPath
from addon.retrieval.store_backends import RedisBackend
from compressors import Settings

log = logging.getLogger(__name__)

ROUTE_PEEK_BYTES = 2048  # the opening of a body that names its conversation when no header does
# Workers run at a lower CPU priority: on a machine with fewer cores than busy processes, the
# scheduler then gives the proxy's event loop (every flow's I/O) the CPU first, and compression
# takes what is left. Without it, a 2-core machine under load stalled the loop in mitmproxy's
# own TLS writes while workers held both cores (scripts/bench_load.py --stacks).
WORKER_NICENESS = 10


@dataclass(frozen=True)
class WorkerSetup:
    """Everything a worker needs to open the proxy's state and rewrite like it (picklable)."""

    home: str
    redis_url: str = ""
    store_ttl_s: int = 3600
    store_max_bytes: int = 1024 * 1024 * 1024
    policy: Policy = Policy()
    settings: Settings = Settings()
    lossless_settings: Settings = Settings()
    budget_s: float = 1.0
    model_budget_s: float = 2.0
    threads: int = 4
    align_options: AlignOptions = AlignOptions()
    cache_rules: str | None = None
    images: ImageSettings = ImageSettings()
    provenance: bool = True
    salt: bytes | None = None  # the proxy's id salt: the worker must name originals as the proxy does


@dataclass(frozen=True)
class RetrievalFacts:
    """A request's retrieve path without its store (the worker has its own): see RetrievalPath."""

    owner: str
    streaming: bool
    session_headers: dict[str, str]
    request_path: str
    request_query: dict[str, str]

    @staticmethod
    def of(path: RetrievalPath) -> RetrievalFacts:
        return RetrievalFacts(path.owner, path.streaming, dict(path.session_headers), path.request_path, dict(path.request_query))


@dataclass(frozen=True)
class RewriteJob:
    """One request body for a worker."""

    body: bytes
    provider: str
    retrieval: RetrievalFacts | None
    cache_key_session: dict[str, str] | None
    align: AlignRequest | None


@dataclass
class RewriteDone:
    """A worker's answer: the new body (None: forward the original), the report as a dict
    (counted and composed), the counters it moved, or why it passed the body through."""

    body: bytes | None = None
    report: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    passed: str = ""  # not_json | unknown_shape | error
    reason: str = ""


def route_key(session_headers: Mapping[str, str], body: bytes) -> str:
    """What sends a conversation's every request to one worker."""
    named = "\x00".join(f"{k}={v}" for k, v in sorted(session_headers.items()))
    return named or hashlib.sha256(body[:ROUTE_PEEK_BYTES]).hexdigest()


class RewriteWorkers:
    """`count` worker processes, one queue each, a conversation always on the same one."""

    def __init__(self, count: int, setup: WorkerSetup) -> None:
        self.setup = setup
        context = multiprocessing.get_context("spawn")
        self._pools = [ProcessPoolExecutor(1, mp_context=context, initializer=open_worker, initargs=(setup,)) for _ in range(count)]
        self._ready = threading.Event()
        self.broken = False
        pings = [pool.submit(ping) for pool in self._pools]

        def wait_ready() -> None:
            for ping_done in pings:
                try:
                    ping_done.result()
                except Exception as e:  # a worker that cannot start: the threads serve
                    self.broken = True
                    log.warning("headroom: a rewrite worker did not start (%s: %s); rewriting in the proxy's threads", type(e).__name__, e)
                    return
            self._ready.set()
            log.info("headroom: %d rewrite worker process(es) ready", len(self._pools))

        threading.Thread(target=wait_ready, name="headroom-rewrite-workers", daemon=True).start()

    @property
    def ready(self) -> bool:
        """Whether the workers serve (until they have started, and after one broke, threads do)."""
        return self._ready.is_set() and not self.broken

    def submit(self, job: RewriteJob, route: str) -> Future:
        pool = self._pools[int(hashlib.sha256(route.encode()).hexdigest()[:8], 16) % len(self._pools)]
        return pool.submit(run_job, job)

    def shutdown(self) -> None:
        """Stop the workers now: their state is on disk (or in Redis) already, and the proxy's
        exit must not wait for one still loading its model."""
        for pool in self._pools:
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()


@dataclass
class _Worker:
    """A worker process's own services, opened once at its start."""

    setup: WorkerSetup
    memo: DecisionMemo
    originals: Originals
    aligner: CacheAligner
    budget: CompressBudget
    composer: Composer | None
    counters: Counter = field(default_factory=Counter)


# The one piece of module state: each worker process's services (the proxy's own process never sets it).
_worker: _Worker | None = None


def open_worker(setup: WorkerSetup) -> None:
    """A worker's start: the proxy's state opened here, the compressors and models loaded."""
    global _worker
    from addon.cache.cache_alignment import learn_turn_gaps
    from addon.cache.cache_rules import load_cache_rules

    try:
        os.nice(WORKER_NICENESS)
    except (AttributeError, OSError):  # no nice() here (Windows): the same priority as the proxy
        pass

    home = Path(setup.home)
    memo = DecisionMemo(store_dir(home) / "decisions")
    memo.share(RedisBackend(setup.redis_url) if setup.redis_url else None)
    originals = open_store(home, setup.redis_url or None, setup.store_ttl_s, setup.store_max_bytes, setup.salt)
    aligner = CacheAligner(memo, setup.align_options, load_cache_rules(setup.cache_rules))
    learn_turn_gaps(aligner, home)
    counters: Counter = Counter()
    budget = CompressBudget(setup.budget_s, setup.model_budget_s, setup.threads, counters)
    _worker = _Worker(setup, memo, originals, aligner, budget, Composer() if setup.provenance else None, counters)
    warm_worker()
    gc.collect()
    gc.freeze()  # as in the proxy (compression.settle_heap): collections walk what requests allocate


def ping() -> bool:
    return _worker is not None


def run_job(job: RewriteJob) -> RewriteDone:
    """One request's whole rewrite, in a worker (see `Compression._rewrite` for the thread twin)."""
    worker = _worker
    if worker is None:
        raise RuntimeError("rewrite worker not opened")
    setup, provider = worker.setup, provider_named(job.provider)
    before = Counter(worker.counters)
    retrieval = None
    if job.retrieval is not None:
        facts = job.retrieval
        retrieval = RetrievalPath(
            worker.originals, facts.owner, provider, streaming=facts.streaming, session_headers=dict(facts.session_headers),
            request_path=facts.request_path, request_query=dict(facts.request_query),
        )  # fmt: skip
    compress_fn, lossless_fn = worker.budget.for_request(setup.settings, setup.lossless_settings)
    alignment = (worker.aligner, job.align) if job.align is not None else None
    done = RewriteDone()
    try:
        out, report = rewrite_body(
            job.body, provider, worker.memo, setup.policy, compress_fn, True, retrieval, lossless_fn, job.cache_key_session, alignment,
            worker.composer, images=setup.images,
        )  # fmt: skip
    except (NotJson, UnknownShape) as e:
        done.passed, done.reason = ("not_json" if isinstance(e, NotJson) else "unknown_shape"), str(e)
    except Exception as e:  # fail open, as in the proxy's threads
        done.passed, done.reason = "error", f"{type(e).__name__}: {e}"
    else:
        done.body = None if out is job.body or out == job.body else out
        done.report, done.errors = report.as_dict(), list(report.errors)
    done.counters = {k: v - before.get(k, 0) for k, v in worker.counters.items() if v != before.get(k, 0)}
    return done
