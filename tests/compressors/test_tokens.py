"""Token counts: exact and offline from the installed o200k file, estimated (and said so) without it."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest
import tiktoken.load
import tiktoken.registry

import compressors.tokens as tokens
from compressors.tokens import BPE_FILES, ENCODING, TokenCounter, candidate_dirs, count_tokens, counts_are_exact

INSTALLED = Path(sys.prefix) / "share" / "headroom" / "tiktoken"


@pytest.fixture
def no_tiktoken_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HEADROOM_TIKTOKEN_DIR and no other place to look (the venv's copy is hidden)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("HEADROOM_TIKTOKEN_DIR", str(empty))
    monkeypatch.setattr(tokens, "candidate_dirs", lambda: [empty])
    return empty


def test_setup_installed_the_o200k_file() -> None:
    assert (INSTALLED / BPE_FILES["o200k_base"]).is_file()


def test_counts_are_exact_with_the_installed_file() -> None:
    assert ENCODING == "o200k_base"
    assert counts_are_exact() is True
    assert count_tokens("hello world") == 2


def test_exact_counts_match_tiktoken() -> None:
    counter = TokenCounter()
    text = "def fold(lines):\n    return [l for l in lines if l]  # ünïcödé ✓\n" * 3
    assert counter.exact is True
    assert counter.count(text) == len(tiktoken.get_encoding("o200k_base").encode_ordinary(text))
    assert counter.count("") == 0


def test_special_token_text_is_counted_as_ordinary_text() -> None:
    # Tool output may contain "<|endoftext|>"; counting must not raise or treat it as special.
    assert TokenCounter().count("<|endoftext|>") > 1


def test_candidate_dirs_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEADROOM_TIKTOKEN_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    assert candidate_dirs() == [tmp_path / "mine", INSTALLED, tmp_path / "cache"]
    monkeypatch.delenv("HEADROOM_TIKTOKEN_DIR")
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR")
    assert candidate_dirs() == [INSTALLED]


def test_headroom_tiktoken_dir_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / BPE_FILES["o200k_base"]).write_bytes((INSTALLED / BPE_FILES["o200k_base"]).read_bytes())
    monkeypatch.setenv("HEADROOM_TIKTOKEN_DIR", str(own))
    monkeypatch.setattr(tokens, "candidate_dirs", lambda: [own])
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})  # force a real load from `own`
    counter = TokenCounter()
    assert counter.exact is True
    assert counter.count("hello world") == 2


@pytest.mark.parametrize("previous", [None, "/somewhere/else"])
def test_loading_restores_tiktoken_cache_dir(monkeypatch: pytest.MonkeyPatch, previous: str | None) -> None:
    if previous is None:
        monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    else:
        monkeypatch.setenv("TIKTOKEN_CACHE_DIR", previous)
    assert TokenCounter().exact is True
    assert os.environ.get("TIKTOKEN_CACHE_DIR") == previous


def test_without_the_file_counts_are_estimates_and_a_warning_says_so(
    no_tiktoken_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="compressors.tokens")
    counter = TokenCounter()
    assert counter.exact is False
    assert counter.count("") == 0
    assert counter.count("abcd") == 1
    assert counter.count("abcde") == 2  # rounds up
    assert counter.count("x" * 400) == 100
    warnings = [r for r in caplog.records if r.name == "compressors.tokens" and r.levelno == logging.WARNING]
    assert len(warnings) == 1, "warned once per counter, not once per count"
    message = warnings[0].getMessage()
    assert "o200k_base" in message
    assert str(no_tiktoken_file) in message
    assert "estimates" in message


def test_the_shared_counter_is_unaffected_by_a_fresh_counter_falling_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert counts_are_exact() is True  # loads the shared counter before the file is hidden
    monkeypatch.setattr(tokens, "candidate_dirs", lambda: [tmp_path])
    assert TokenCounter().exact is False
    assert counts_are_exact() is True
    assert count_tokens("hello world") == 2


def test_a_corrupt_file_falls_back_to_estimates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    corrupt = bad / BPE_FILES["o200k_base"]
    corrupt.write_bytes(b"not a bpe file\n")
    monkeypatch.setenv("HEADROOM_TIKTOKEN_DIR", str(bad))
    monkeypatch.setattr(tokens, "candidate_dirs", lambda: [bad])
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})  # no already-loaded encoding to hide the file

    def offline(blobpath: str) -> bytes:  # this machine is offline; never touch the network in tests
        raise ConnectionError(f"offline: {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", offline)
    counter = TokenCounter()
    try:
        assert counter.exact is False
        assert counter.count("abcd") == 1
    finally:
        assert corrupt.exists(), "the user's file was deleted"
