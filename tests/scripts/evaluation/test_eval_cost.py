"""eval_cost: the estimate is an upper bound, billing follows the pricing table, the budget holds."""

from __future__ import annotations

import pytest

from addon.ledger.pricing import Price, PricingTable
from addon.ledger.usage import Usage
from compressors.tokens import count_tokens
from scripts.evaluation.eval_cost import TOKENIZER_MARGIN, Budget, billed, estimate
from scripts.evaluation.resend_requests import ResendRequest

TABLE = PricingTable("t", "2026-01-01", ((("claude-x*",), Price(3, 15, 3.75, 6, 0.3)),))


def request(body: bytes, model: str = "claude-x") -> ResendRequest:
    return ResendRequest("original", "anthropic", "https://api.anthropic.com/v1/messages", {}, body, model, 512, True)


def test_estimate_is_input_with_a_margin_plus_the_output_cap():
    body = b'{"messages": [{"role": "user", "content": "hello there"}]}'
    tokens = count_tokens(body.decode())
    e = estimate(request(body), TABLE)
    assert e.input_tokens == tokens
    assert e.usd == pytest.approx((tokens * TOKENIZER_MARGIN * 3 + 512 * 15) / 1e6)
    # a body with breakpoints may pay the dearest cache write on every input token
    assert estimate(request(body + b' "cache_control"'), TABLE).usd > e.usd
    assert estimate(request(body, "unknown-model"), TABLE).usd is None


def test_billed_prices_the_answers_usage():
    usage = Usage(input_tokens=1000, output_tokens=100, model="claude-x-1")
    assert billed(usage, None, TABLE) == pytest.approx((1000 * 3 + 100 * 15) / 1e6)
    assert billed(Usage(input_tokens=1000), "claude-x", TABLE) == pytest.approx(0.003)  # the request's model
    assert billed(None, "claude-x", TABLE) is None and billed(Usage(model="gpt-9"), "gpt-9", TABLE) is None


def test_budget_reserves_before_and_settles_after():
    budget = Budget(1.0)
    assert budget.reserve(0.6) and not budget.reserve(0.6)
    budget.settle(0.6, 0.2)
    assert budget.spent == pytest.approx(0.2) and budget.reserved == 0 and budget.reserve(0.6)
    assert Budget(None).reserve(1e9)  # a dry run has no limit
