"""Cache rules: the bundled minimum cacheable lengths per model and user tables."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest

from addon.cache.cache_rules import DEFAULT_RULES, load_cache_rules


@pytest.fixture(scope="module")
def rules():
    return load_cache_rules()


# Anthropic's prompt-caching page (and the Opus 4.8 "what's new" page), as cited in the table's notes.
@pytest.mark.parametrize(
    "model, tokens",
    [
        ("claude-opus-4-6", 4096),
        ("claude-opus-4-5-20251101", 4096),
        ("claude-haiku-4-5-20251001", 4096),
        ("claude-opus-4-8", 1024),
        ("claude-sonnet-4-6", 1024),
        ("claude-sonnet-4-5-20250929", 1024),
        ("claude-sonnet-4-20250514", 1024),
        ("claude-opus-4-1-20250805", 1024),
        ("claude-opus-4-20250514", 1024),
        ("claude-3-7-sonnet-20250219", 1024),
        ("claude-3-5-haiku-latest", 2048),
        ("claude-3-haiku-20240307", 2048),
        ("gpt-4.1", 1024),
    ],
)
def test_official_minimums(rules, model, tokens):
    assert rules.min_cacheable(model) == tokens


@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-opus-5", "claude-fable-5-1", "claude-sonnet-5-5", "some-model", "", None])
def test_unverified_models_fall_back_to_1024(rules, model):
    assert rules.min_cacheable(model) == 1024


@pytest.mark.parametrize("model", ["claude-opus-4-5-20251101", "claude-opus-4-8", "claude-sonnet-4-5", "claude-3-5-haiku-latest", "claude-haiku-4-5"])
def test_no_model_matches_two_specific_rows(rules, model):
    """The catch-alls aside, order does not decide: opus-4-5 / 4-8 / haiku globs cannot overlap."""
    specific = [(patterns, tokens) for patterns, tokens in rules.min_tokens if not {"*", "claude-*"} & set(patterns)]
    assert len([tokens for patterns, tokens in specific if any(fnmatchcase(model, p) for p in patterns)]) == 1


def test_the_bundled_table_names_itself_and_its_sources(rules):
    document = json.loads(DEFAULT_RULES.read_text(encoding="utf-8"))
    assert rules.title == document["name"] and rules.max_breakpoints == 4 and rules.lookback_blocks == 20
    assert any(s.startswith("https://platform.claude.com/docs/") for s in document["sources"])


def test_a_user_table_first_match_wins(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"name": "mine", "max_breakpoints": 2, "min_cacheable_tokens": [
        {"match": ["my-model-big*"], "tokens": 8192},
        {"match": ["my-model*"], "tokens": 512},
    ]}))  # fmt: skip
    rules = load_cache_rules(str(path))
    assert (rules.title, rules.max_breakpoints, rules.lookback_blocks) == ("mine", 2, 20)
    assert rules.min_cacheable("my-model-big-2") == 8192 and rules.min_cacheable("MY-MODEL-1") == 512
    assert rules.min_cacheable("claude-opus-4-6") == 1024  # no row: the provider-neutral default
