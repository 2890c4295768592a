"""A time budget for compression: no request waits longer than its budget for its segments.

Each segment is compressed on a thread of its own pool and waited for at most the time left
in its request's budget: the base budget (1 s: every kind but the text model took ≤ 35 ms at
p99 on the corpora on an idle core, but a first compression on a loaded 2-core machine, as in
CI with the whole test suite running, overran 200 ms; the budget is there for the inputs that
took seconds to minutes, which the adversarial benchmark now keeps under ~4 s/MB) plus, for a segment the router will send to the text model,
the model budget. Past it the segment goes out whole, the decision is memoised like any other
(so later requests re-send the same bytes) and the event is counted. A compressor that overruns
keeps its thread until it finishes (Python threads cannot be stopped); the pool is bounded, so a
burst of slow inputs waits in its queue and the requests behind it still leave on time.

Off the event loop's GIL altogether: addon/compression/rewrite_workers.py runs each request's
whole rewrite, this budget included, in a worker process (`headroom_processes`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from dataclasses import dataclass, field

from compressors import Context, Result, Settings, compress
from compressors.detect import choose_kind, leaves_whole
from compressors.numbered_lines import split_numbered

log = logging.getLogger(__name__)

OVER_BUDGET = "over_budget"  # the kind of a segment that went whole because compression overran
MODEL_KINDS = frozenset({"text"})
KIND_PEEK_CHARS = 200_000  # the kind is chosen from this much of the text at most


def expected_kind(text: str, context: Context) -> str:
    """The kind the router will most likely pick, cheaply (to choose the budget, nothing else)."""
    if leaves_whole(context):
        return "whole"
    head = text[:KIND_PEEK_CHARS]
    numbered = split_numbered(head)
    return choose_kind("\n".join(n.content for n in numbered) if numbered else head, context)


@dataclass
class CompressBudget:
    """Runs compressions under a per-request deadline."""

    base_s: float = 1.0
    model_s: float = 2.0
    workers: int = 4
    counters: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="headroom-compress")

    def deadline(self) -> float:
        """The monotonic time by which a request's non-model compression must be done."""
        return time.monotonic() + self.base_s

    def for_request(self, settings: Settings, lossless: Settings) -> tuple[Callable[[str, Context], Result], Callable[[str, Context], Result]]:
        """One request's compressors (its settings, and lossless-only), both under one deadline."""
        deadline = self.deadline()
        return (lambda t, c: self.compress(t, c, settings, deadline)), (lambda t, c: self.compress(t, c, lossless, deadline))

    def compress(self, text: str, context: Context, settings: Settings, deadline: float) -> Result:
        """`compress(text, context, settings=settings)`, or the text whole once past the deadline
        (the model's budget added for prose headed to the text model). The kind is guessed only
        once the base budget is spent: the compressor itself routes the text, so the common,
        quick segment is not routed twice."""
        future = None
        left = deadline - time.monotonic()
        if left > 0:
            future = self._submit(text, context, settings)
            try:
                return future.result(timeout=left)
            except TimeoutError:
                pass
        extra = deadline + self.model_s - time.monotonic()
        if extra > 0 and expected_kind(text, context) in MODEL_KINDS:
            future = future or self._submit(text, context, settings)
            try:
                return future.result(timeout=extra)
            except TimeoutError:
                pass
        if future is not None:
            future.cancel()  # if it has not started; a running one finishes on its own thread
        return self._over(text, context, "past the request's budget")

    def _submit(self, text: str, context: Context, settings: Settings):
        return self._pool.submit(compress, text, context, settings=settings)

    def _over(self, text: str, context: Context, why: str) -> Result:
        self.counters["compress_over_budget"] += 1
        log.info("headroom: a %s output of %d chars went whole: compression %s", context.tool_name or "tool", len(text), why)
        return Result(text, OVER_BUDGET, True, ())

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def load_compressors() -> None:
    """Every compressor module, so that a first use does not spend a request's budget on imports."""
    from compressors.router import REGISTRY, load

    for kind in REGISTRY:
        load(kind)


def load_text_model() -> None:
    """The text model (seconds to load); without it the statistical fallback serves plain text."""
    try:
        from compressors.text_model import load_model

        load_model()
    except Exception as e:
        log.info("headroom: text model not loaded (%s: %s)", type(e).__name__, e)


def warm_worker() -> None:
    """A rewrite worker process's start: every compressor module, the tokenizer and the text model, once."""
    from compressors.tokens import count_tokens

    load_compressors()
    count_tokens("warm up")
    load_text_model()
