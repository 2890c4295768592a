"""Pricing tables: the bundled list prices, user tables, model matching, cost and savings."""

from __future__ import annotations

import json

import pytest

from addon.pricing import DEFAULT_TABLE, PricingError, load_pricing, request_cost, segment_saving
from addon.usage import Usage


@pytest.fixture(scope="module")
def table():
    return load_pricing()


def test_the_bundled_table_names_itself(table):
    assert table.path == str(DEFAULT_TABLE)
    assert table.title.startswith("headroom-list-prices") and "as of 20" in table.title


@pytest.mark.parametrize(
    "model, input_price, output_price",
    [
        ("claude-opus-4-5-20251101", 5, 25),
        ("claude-opus-4-1-20250805", 15, 75),
        ("claude-sonnet-4-5", 3, 15),
        ("claude-sonnet-4-20250514", 3, 15),
        ("claude-haiku-4-5-20251001", 1, 5),
        ("gpt-5", 1.25, 10),
        ("gpt-5-mini-2025-08-07", 0.25, 2),
        ("gpt-4.1-2025-04-14", 2, 8),
        ("gpt-4o-mini", 0.15, 0.6),
        ("models/gemini-2.5-flash", 0.3, 2.5),
        ("gemini-2.5-flash-lite", 0.1, 0.4),
        ("GEMINI-2.5-PRO", 1.25, 10),
    ],
)
def test_models_match_by_glob(table, model, input_price, output_price):
    price = table.price_for(model)
    assert (price.input, price.output) == (input_price, output_price)


def test_claude_cache_multipliers(table):
    for model in ("claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"):
        p = table.price_for(model)
        assert (p.cache_write_5m, p.cache_write_1h, p.cache_read) == pytest.approx((1.25 * p.input, 2 * p.input, 0.1 * p.input))


@pytest.mark.parametrize("model", ["claude-test", "gpt-5-pro", "claude-opus-5", "llama-3", "", None])
def test_unknown_models_have_no_price(table, model):
    assert table.price_for(model) is None


def test_cost_adds_every_price_class(table):
    price = table.price_for("claude-sonnet-4-5")
    usage = Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000, cache_write_5m_tokens=1_000_000, cache_write_1h_tokens=1_000_000, output_tokens=1_000_000)
    assert request_cost(usage, price) == pytest.approx(3 + 0.3 + 3.75 + 6 + 15)


def test_savings_follow_the_cache_state(table):
    price = table.price_for("claude-sonnet-4-5")
    wrote_1h = Usage(10, 5000, 0, 2000, 10)
    plain = Usage(10, 0, 0, 0, 10)
    assert segment_saving(1_000_000, False, wrote_1h, price) == pytest.approx(6.0)  # fresh: written at 2×
    assert segment_saving(1_000_000, True, wrote_1h, price) == pytest.approx(0.3)  # replayed: read at 0.1×
    assert segment_saving(1_000_000, False, plain, price) == pytest.approx(3.0)  # no cache: plain input
    assert segment_saving(1_000_000, True, plain, price) == pytest.approx(3.0)  # nothing read: prefix was fresh too
    mixed = Usage(0, 0, 1000, 1000, 0)
    assert segment_saving(1_000_000, False, mixed, price) == pytest.approx((3.75 + 6) / 2)


def test_a_user_table(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "team", "as_of": "2026-01-01", "models": [
        {"match": "my-model*", "input": 1, "output": 2, "cache_write_5m": 1, "cache_write_1h": 1, "cache_read": 0.5}
    ]}))  # fmt: skip
    table = load_pricing(path)
    assert table.title == "team (as of 2026-01-01)" and table.price_for("my-model-7").cache_read == 0.5
    assert table.price_for("claude-sonnet-4-5") is None


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "not valid JSON"),
        ("[]", "needs a `models` list"),
        ('{"models": [{"input": 1}]}', "needs `match`"),
        ('{"models": [{"match": "x", "input": 1, "output": 1, "cache_write_5m": 1, "cache_write_1h": 1}]}', "needs `cache_read`"),
        ('{"models": [{"match": "x", "input": -1, "output": 1, "cache_write_5m": 1, "cache_write_1h": 1, "cache_read": 1}]}', "needs `input`"),
    ],
)
def test_bad_tables_say_what_to_fix(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(PricingError, match=message):
        load_pricing(path)


def test_a_missing_table(tmp_path):
    with pytest.raises(PricingError, match="cannot read"):
        load_pricing(tmp_path / "none.json")
