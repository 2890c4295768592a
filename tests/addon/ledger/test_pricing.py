"""Pricing tables: the bundled list prices, user tables, model matching, cost and savings."""

from __future__ import annotations

import json

import pytest

from fnmatch import fnmatchcase

from addon.ledger.pricing import DEFAULT_TABLE, PricingError, load_pricing, request_cost, segment_saving
from addon.ledger.usage import Usage


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


# Model ids as the APIs return them (date suffixes included), with the row each must land on:
# (input, output, 5m write, 1h write, read) as the providers' tables give them.
REAL_IDS = [
    ("claude-fable-5-1", (10, 50, 12.5, 20, 0.25)),
    ("claude-mythos-5-1", (10, 50, 12.5, 20, 0.25)),
    ("claude-fable-5", (10, 50, 12.5, 20, 1)),
    ("claude-opus-5-5", (4, 20, 5, 8, 0.2)),
    ("claude-opus-5", (5, 25, 6.25, 10, 0.5)),
    ("claude-opus-4-8", (5, 25, 6.25, 10, 0.5)),
    ("claude-opus-4-7", (5, 25, 6.25, 10, 0.5)),
    ("claude-opus-4-6", (5, 25, 6.25, 10, 0.5)),
    ("claude-opus-4-5-20251101", (5, 25, 6.25, 10, 0.5)),
    ("claude-opus-4-1-20250805", (15, 75, 18.75, 30, 1.5)),
    ("claude-opus-4-20250514", (15, 75, 18.75, 30, 1.5)),
    ("claude-sonnet-5-5", (2, 10, 2.5, 4, 0.2)),
    ("claude-sonnet-5", (2, 10, 2.5, 4, 0.2)),
    ("claude-sonnet-4-6", (3, 15, 3.75, 6, 0.3)),
    ("claude-sonnet-4-5-20250929", (3, 15, 3.75, 6, 0.3)),
    ("claude-sonnet-4-20250514", (3, 15, 3.75, 6, 0.3)),
    ("claude-3-7-sonnet-20250219", (3, 15, 3.75, 6, 0.3)),
    ("claude-haiku-5-5", (0.1, 0.5, 0.125, 0.2, 0.01)),
    ("claude-haiku-4-5-20251001", (1, 5, 1.25, 2, 0.1)),
    ("claude-3-5-haiku-20241022", (0.8, 4, 1, 1.6, 0.08)),
    ("claude-3-haiku-20240307", (0.25, 1.25, 0.3, 0.5, 0.03)),
    ("gpt-5.1", (1.25, 10, 1.25, 1.25, 0.125)),
    ("gpt-5.1-codex-mini", (0.25, 2, 0.25, 0.25, 0.025)),
    ("gpt-5-nano-2025-08-07", (0.05, 0.4, 0.05, 0.05, 0.005)),
    ("gpt-4.1-2025-04-14", (2, 8, 2, 2, 0.5)),
    ("gpt-4.1-mini-2025-04-14", (0.4, 1.6, 0.4, 0.4, 0.1)),
    ("gpt-4o-2024-08-06", (2.5, 10, 2.5, 2.5, 1.25)),
    ("o4-mini-2025-04-16", (1.1, 4.4, 1.1, 1.1, 0.275)),
    ("gemini-2.5-flash-lite-preview-06-17", (0.1, 0.4, 0.1, 0.1, 0.01)),
]


@pytest.mark.parametrize("model, rates", REAL_IDS)
def test_real_model_ids_resolve_to_their_row(table, model, rates):
    p = table.price_for(model)
    assert (p.input, p.output, p.cache_write_5m, p.cache_write_1h, p.cache_read) == pytest.approx(rates)


@pytest.mark.parametrize("model", [m for m, _ in REAL_IDS] + ["claude-opus-5-5-20261001", "claude-sonnet-5-20260630"])
def test_no_real_id_matches_two_rows(table, model):
    """Order must not decide: sonnet-4-5 / 4-6 / 5 / 5-5 globs cannot capture each other's ids."""
    rows = [price.label for patterns, price in table.entries if any(fnmatchcase(model, p.lower()) for p in patterns)]
    assert len(rows) == 1, rows


def test_anthropic_rows_write_above_input_and_read_below(table):
    claude = [price for patterns, price in table.entries if all(p.startswith("claude-") for p in patterns)]
    assert len(claude) >= 10
    for p in claude:
        assert p.cache_write_1h >= p.cache_write_5m >= p.input > p.cache_read > 0, p.label


def test_the_bundled_table_names_its_sources():
    document = json.loads(DEFAULT_TABLE.read_text(encoding="utf-8"))
    anthropic = document["sources"]["anthropic"]
    assert anthropic and all(s.startswith("https://platform.claude.com/docs/") for s in anthropic)


@pytest.mark.parametrize("model", ["claude-test", "gpt-5-pro", "claude-fable-5-2", "claude-opus-9", "llama-3", "", None])
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
