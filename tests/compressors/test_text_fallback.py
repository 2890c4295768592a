"""The statistical plain-text compressor: whole sentences kept verbatim, in order, folds announced."""

from __future__ import annotations

import re

from compressors import Context, compress
from compressors.notes import NOTE_PATTERN
from compressors.text_fallback import compress_text_fallback, segment, select

FILLER = (
    "The team met again to talk about the roadmap for the next quarter. "
    "Everyone agreed that the plan looked good and that the work was going well. "
    "The meeting ended with a short summary of the points that had been made. "
)
ISSUE = (
    "Upgrading the client breaks uploads for large files.\n\n"
    + FILLER * 3
    + "\n\nThe upload fails with ConnectionResetError after 4096 bytes when chunk_size is unset.\n\n"
    + FILLER * 3
    + "\n\nSetting HEADROOM_CHUNK=65536 in config/upload.toml works around it.\n"
)


def kept_sentences(result_text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", NOTE_PATTERN.sub("", result_text)) if s.strip()]


def test_keeps_facts_and_errors_folds_filler() -> None:
    result = compress_text_fallback(ISSUE, Context(query="uploads of big files fail"), keep_ratio=0.5)
    assert not result.lossless and result.kind == "text"
    assert len(result.text) <= 0.6 * len(ISSUE)
    for fact in ("ConnectionResetError after 4096 bytes", "HEADROOM_CHUNK=65536", "config/upload.toml"):
        assert fact in result.text
    assert result.text.startswith("Upgrading the client breaks uploads for large files.")
    notes = NOTE_PATTERN.findall(result.text)
    assert notes and all(re.fullmatch(r"\[… \d+ sentences? folded\]", n) for n in notes)
    assert len(result.folds) == len(notes)


def test_kept_text_is_verbatim_and_in_order() -> None:
    result = compress_text_fallback(ISSUE, Context(), keep_ratio=0.4)
    position = 0
    for sentence in kept_sentences(result.text):
        found = ISSUE.find(sentence.strip(), position)
        assert found >= 0, sentence
        position = found


def test_lower_ratio_keeps_less_and_is_deterministic() -> None:
    half = compress_text_fallback(ISSUE, Context(), keep_ratio=0.5)
    third = compress_text_fallback(ISSUE, Context(), keep_ratio=0.33)
    assert len(third.text) < len(half.text)
    assert compress_text_fallback(ISSUE, Context(), keep_ratio=0.33) == third


def test_small_or_empty_input_is_returned_whole() -> None:
    for text in ("", "one line", "Short note.\nAnother line.\n"):
        result = compress_text_fallback(text, Context())
        assert result.text == text and result.lossless


def test_wrapped_sentences_are_one_unit() -> None:
    text = "This sentence is wrapped at a narrow width so that it goes\nacross two lines before it ends. A second one follows here."
    units = [text[u.start : u.end] for u in segment(text)]
    assert units == [
        "This sentence is wrapped at a narrow width so that it goes\nacross two lines before it ends.",
        "A second one follows here.",
    ]


def test_through_the_router() -> None:
    result = compress(ISSUE, Context(tool_name="WebFetch", tool_args={"url": "https://example.org/issue/7"}), kind="text")
    assert result.kind == "text" and not result.lossless
    assert "HEADROOM_CHUNK=65536" in result.text and NOTE_PATTERN.search(result.text)


def test_must_keep_rules_are_priorities_inside_the_budget() -> None:
    # Every sentence names an error and the query: all "hard", yet the budget holds.
    text = " ".join(f"Upload {n} failed with error code {4000 + n} on the upload path." for n in range(40))
    for ratio in (0.5, 0.33):
        result = compress_text_fallback(text, Context(query="upload failed"), keep_ratio=ratio)
        assert not result.lossless and len(result.text) <= (ratio + 0.05) * len(text)
    # Inside the budget, hard units go first even when a soft one scores higher.
    assert select([10, 10, 10], [0.1, 9.0, 0.2], [True, False, True], budget=20) == [True, False, True]
    assert select([30, 10], [1.0, 1.0], [True, False], budget=20) == [False, True]  # a hard unit that cannot fit is skipped
