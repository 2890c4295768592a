"""eval_run: pairs planned and priced, sent in parallel within the budget, answers compared."""

from __future__ import annotations

import asyncio
import json

import pytest

from addon.ledger.pricing import Price, PricingTable
from scripts.evaluation.eval_cost import Budget
from scripts.evaluation.eval_run import plan, run_pairs
from scripts.evaluation.recorded_flows import RecordedRequest
from scripts.evaluation.resend_requests import ResendRequest, ResendSettings
from scripts.evaluation.sending import Reply
from scripts.evaluation.text_similarity import load_similarity

TABLE = PricingTable("t", "2026-01-01", ((("claude-x*",), Price(3, 15, 3.75, 6, 0.3)),))
SIMILARITY = load_similarity("difflib")


def recorded(i: int, model: str = "claude-x", forwarded: str = "short") -> RecordedRequest:
    def body(text: str) -> bytes:
        return json.dumps({"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": text}]}).encode()

    return RecordedRequest(f"f{i}", "anthropic", "https://api.anthropic.com/v1/messages", False, (("x-api-key", "k"),),
                           body("long " * 200), body(forwarded), ("test",), ("Bash",), "headroom_retrieve", False)  # fmt: skip


class FakeSender:
    """Answers from the body: text saying whether it saw `long`; usage of 100 in / 10 out (below any estimate)."""

    def __init__(self) -> None:
        self.sent: list[ResendRequest] = []
        self.in_flight = self.most_in_flight = 0

    async def send(self, request: ResendRequest) -> Reply:
        self.sent.append(request)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        if b"broken" in request.body:
            return Reply(500, {"error": {"message": "overloaded"}}, error="HTTP 500: overloaded")
        text = "saw long" if b"long" in request.body else "saw nothing"
        return Reply(200, {"model": "claude-x", "stop_reason": "end_turn", "content": [{"type": "text", "text": text}],
                           "usage": {"input_tokens": 100, "output_tokens": 10}})  # fmt: skip

    async def aclose(self) -> None:
        pass


def run(pairs, budget: Budget, sender: FakeSender, concurrency: int = 4):
    done = []
    asyncio.run(run_pairs(pairs, sender, budget, TABLE, SIMILARITY, concurrency, done.append))
    return done


PAIR_COST = 2 * (100 * 3 + 10 * 15) / 1e6


def test_pairs_are_compared_and_billed():
    pairs = plan([recorded(0, forwarded="long " * 50), recorded(1)], ResendSettings(), TABLE)
    sender = FakeSender()
    done = run(pairs, Budget(1.0), sender)
    assert len(done) == 2 and [p.state for p in pairs] == ["done", "done"]
    assert [p.comparison.verdict for p in pairs] == ["agree", "differ"]
    assert pairs[0].cost_usd == pytest.approx(PAIR_COST)
    assert len(sender.sent) == 4 and sender.most_in_flight <= 4


def test_the_run_stops_before_the_budget_is_exceeded():
    pairs = plan([recorded(i) for i in range(20)], ResendSettings(), TABLE)
    each = pairs[0].estimate_usd
    budget = Budget(each * 2.5)  # estimates are upper bounds: settled pairs make room for more
    sender = FakeSender()
    run(pairs, budget, sender, concurrency=2)
    sent = [p for p in pairs if p.state == "done"]
    assert 2 < len(sent) < 20  # more than the estimates alone allow, not all
    assert all(p.state == "over_budget" for p in pairs[len(sent):])
    assert budget.spent <= budget.limit and len(sender.sent) == 2 * len(sent)
    assert budget.spent == pytest.approx(PAIR_COST * len(sent))


def test_unpriced_and_failed_pairs_are_reported_not_fatal():
    broken = recorded(1, forwarded="broken")
    pairs = plan([recorded(0, model="mystery-model"), broken], ResendSettings(), TABLE)
    assert pairs[0].state == "no_price" and "--pricing" in pairs[0].note
    run(pairs, Budget(1.0), FakeSender())
    assert pairs[1].state == "failed" and "forwarded: HTTP 500: overloaded" in pairs[1].note
    assert pairs[1].forwarded.cost_usd is None and pairs[1].original.cost_usd is not None
