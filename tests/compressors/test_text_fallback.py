"""The statistical plain-text compressor: clauses and lines kept verbatim, in order, chosen to cover
distinct names and values; folds announced."""

from __future__ import annotations

import json
import re
import time

from compressors import Context, compress
from compressors.notes import NOTE_PATTERN
from compressors.text_fallback import compress_text_fallback, cover, segment, term_weight

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


def test_term_weights_follow_shape() -> None:
    names = ("src/upload.py", "client.upload_chunk", "chunk_size", "ConnectionReset", "getValue")
    values = ("4096", "1.25", "HTTPS", "sha256", "E501")
    assert {term_weight(t) for t in names} == {term_weight("a/b")}
    assert all(term_weight(v) < term_weight("a/b") for v in values)
    assert term_weight("4096") > term_weight("Upload") > term_weight("upload") > term_weight("the") == 0.0
    assert term_weight("x") == 0.0


def test_cover_counts_each_term_once() -> None:
    terms = [frozenset({"src/a.py", "line"}), frozenset({"src/a.py", "line"}), frozenset({"src/b.py"})]
    # The second copy of a kept unit is worth nothing; a unit with a new name is taken instead.
    assert cover([10, 10, 10], terms, [0.0, 0.0, 0.0], budget=20) == [True, False, True]
    # Best first: more term weight wins, and a bonus (error line, query, position) counts with it.
    assert cover([10, 10, 10], terms, [0.0, 0.0, 0.0], budget=10) == [True, False, False]
    assert cover([10, 10, 10], terms, [0.0, 0.0, 1.0], budget=10) == [False, False, True]
    assert cover([10, 10, 10], terms, [0.0, 0.0, 0.0], budget=9) == [False, False, False]


def test_repeated_frames_give_way_to_distinct_facts() -> None:
    frame = '  File "/srv/app/storage/upload_handler.py", line 88, in write_chunk\n'
    facts = [f"worker_{n} stopped after {1000 + n} retries on queue_{n}\n" for n in range(6)]
    text = frame * 12 + "".join(facts) + frame * 12
    # A third of the text holds one frame and every fact, not the first and last third of the frames.
    result = compress_text_fallback(text, Context(), keep_ratio=0.33)
    assert not result.lossless and len(result.text) <= 0.38 * len(text)
    assert "upload_handler.py" in result.text
    assert all(fact.strip() in result.text for fact in facts)


def test_long_input_is_fast_and_lands_at_the_ratio() -> None:
    # ~20k o200k tokens of mixed prose and traceback lines; the fallback must stay cheap enough for
    # the proxy's hot path (~30 ms on this machine; the bound leaves room for a loaded CI box).
    paragraph = ISSUE + "".join(
        f'  File "/srv/app/mod_{n}.py", line {n * 7}, in handler_{n}\n    value = compute_{n}(item)\n' for n in range(40)
    )
    text = "\n\n".join(paragraph.replace("4096", str(4096 + n)) for n in range(30))
    started = time.perf_counter()
    result = compress_text_fallback(text, Context(query="upload fails"), keep_ratio=0.6)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5, elapsed
    assert not result.lossless and 0.5 * len(text) <= len(result.text) <= 0.63 * len(text)


ATTRIBUTES = "Company attributes (2):\n1. attributes: " + json.dumps(
    [f"attribute_{k}_{name}" for k, name in enumerate(["contact", "business", "domain", "postal_code", "revenue"] * 24)]
) + '\n2. company: "Adapt and Overcome"\n3. note: fetched in 240 ms'


def test_a_text_that_is_mostly_one_data_line_stays_whole() -> None:
    # Any cut to the keep ratio drops the one line holding the data, whole (an MCP tool's
    # numbered answer whose first item is a long JSON array kept 21 of 312 tokens).
    assert compress_text_fallback(ATTRIBUTES, Context(), 0.5).text == ATTRIBUTES
