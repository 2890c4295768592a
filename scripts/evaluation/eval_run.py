"""Run the A/B pairs: plan each (the two requests and their estimated cost), then send them a few
at a time while the budget holds, and compare each pair's answers.

Pairs start in the order of the flow file. One that would take the spent and in-flight cost past
the budget waits for the pairs in flight to settle; if it still does not fit, the run stops
there: every later pair is left unsent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from addon.ledger.pricing import PricingTable
from addon.ledger.usage import Usage
from addon.providers import provider_named
from scripts.evaluation.answer_comparison import Comparison, compare
from scripts.evaluation.answers import Answer, answer_of
from scripts.evaluation.eval_cost import Budget, billed, estimate
from scripts.evaluation.recorded_flows import RecordedRequest
from scripts.evaluation.resend_requests import CannotResend, ResendRequest, ResendSettings, build_pair
from scripts.evaluation.sending import Sender
from scripts.evaluation.text_similarity import Similarity

CONCURRENCY = 4  # requests in flight (two per pair)


@dataclass
class SideResult:
    """One side of a pair: what was (or would be) sent, and what came back."""

    request: ResendRequest
    tokens: int  # the body's input tokens (o200k)
    estimate_usd: float | None
    status: int = 0
    answer: Answer | None = None
    usage: Usage | None = None
    cost_usd: float | None = None  # billed, per the answer's usage; None when unknown
    error: str | None = None
    seconds: float = 0.0


@dataclass
class PairResult:
    """One recorded request's A/B."""

    recorded: RecordedRequest
    state: str  # planned | done | failed | over_budget | no_price | cannot_send
    original: SideResult | None = None
    forwarded: SideResult | None = None
    comparison: Comparison | None = None
    note: str = ""

    @property
    def sides(self) -> list[SideResult]:
        return [s for s in (self.original, self.forwarded) if s is not None]

    @property
    def estimate_usd(self) -> float | None:
        values = [s.estimate_usd for s in self.sides]
        return sum(values) if values and None not in values else None  # type: ignore[arg-type]

    @property
    def cost_usd(self) -> float:
        return sum(s.cost_usd or 0.0 for s in self.sides)


def plan(recorded: list[RecordedRequest], settings: ResendSettings, table: PricingTable) -> list[PairResult]:
    """Each request's pair, prepared and priced; nothing is sent."""
    out = []
    for item in recorded:
        try:
            original, forwarded = build_pair(item, settings)
        except CannotResend as e:
            out.append(PairResult(item, "cannot_send", note=str(e)))
            continue
        sides = [SideResult(r, (e := estimate(r, table)).input_tokens, e.usd) for r in (original, forwarded)]
        pair = PairResult(item, "planned", *sides)
        if pair.estimate_usd is None:
            pair.state, pair.note = "no_price", f"no price for model {original.model!r} in {table.title} (give --pricing FILE)"
        out.append(pair)
    return out


async def run_pairs(
    pairs: list[PairResult],
    sender: Sender,
    budget: Budget,
    table: PricingTable,
    similarity: Similarity,
    concurrency: int = CONCURRENCY,
    on_done: Callable[[PairResult], None] = lambda pair: None,
) -> list[PairResult]:
    """Send the planned pairs within the budget and compare their answers (in place)."""
    slots = asyncio.Semaphore(max(1, concurrency // 2))
    in_flight: set[asyncio.Task] = set()
    stopped = False
    for pair in pairs:
        if pair.state != "planned":
            on_done(pair)
            continue
        cost = pair.estimate_usd or 0.0
        fits = not stopped and budget.reserve(cost)
        if not fits and not stopped and in_flight:
            await asyncio.gather(*in_flight)  # their reservations settle, usually lower
            fits = budget.reserve(cost)
        if not fits:
            stopped = True
            pair.state, pair.note = "over_budget", f"not sent: ≈${cost:.4f} more would pass the ${budget.limit:.2f} budget"
            on_done(pair)
            continue
        await slots.acquire()
        task = asyncio.create_task(_run_pair(pair, sender, budget, cost, table, similarity))
        in_flight.add(task)
        task.add_done_callback(lambda t, p=pair: (in_flight.discard(t), slots.release(), on_done(p)))
    if in_flight:
        await asyncio.gather(*in_flight)
    return pairs


async def _run_pair(pair: PairResult, sender: Sender, budget: Budget, reserved: float, table: PricingTable, similarity: Similarity) -> None:
    sides = pair.sides
    try:
        await asyncio.gather(*(_send(side, sender, table) for side in sides))
        failed = [f"{s.request.side}: {s.error or 'no answer'}" for s in sides if s.error or s.answer is None]
        if failed:
            pair.state, pair.note = "failed", "; ".join(failed)
            return
        assert pair.original and pair.forwarded and pair.original.answer and pair.forwarded.answer
        comparison = await asyncio.to_thread(compare, pair.original.answer, pair.forwarded.answer, similarity, pair.recorded.retrieve_tool)
        pair.state, pair.comparison = "done", comparison
    except Exception as e:  # one broken pair must not end the run
        pair.state, pair.note = "failed", f"{type(e).__name__}: {e}"
    finally:
        # Unknown billing counts at its estimate: a missing usage must not fool the budget.
        budget.settle(reserved, sum(_charged(s) for s in sides))


async def _send(side: SideResult, sender: Sender, table: PricingTable) -> None:
    reply = await sender.send(side.request)
    side.status, side.seconds, side.error = reply.status, reply.seconds, reply.error
    provider = provider_named(side.request.provider)
    side.usage = provider.usage_of(reply.document) if reply.document is not None else None
    side.cost_usd = billed(side.usage, side.request.model, table)
    if reply.ok:
        side.answer = answer_of(side.request.provider, reply.document)


def _charged(side: SideResult) -> float:
    if side.cost_usd is not None:
        return side.cost_usd
    if side.error is not None and side.usage is None:
        return 0.0  # a refused request is not billed
    return side.estimate_usd or 0.0
