"""The model path of the plain-text compressor, on the committed head (skipped if absent), plus
the routing rules that never need the model."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from compressors import Context, compress  # noqa: E402
from compressors import text_model as tm  # noqa: E402
from compressors.notes import NOTE_PATTERN  # noqa: E402
from tests.compressors.test_text_fallback import ISSUE  # noqa: E402


def test_window_starts_cover_everything_with_overlap() -> None:
    assert tm._window_starts(10, 254, 32) == [0]
    starts = tm._window_starts(600, 254, 32)
    assert starts[0] == 0 and starts[-1] == 600 - 254
    assert all(b - a <= 254 - 32 for a, b in zip(starts, starts[1:]))


def test_missing_weights_mean_no_model(tmp_path) -> None:
    assert tm.load_model(tmp_path) is None


def test_file_reads_get_only_the_lossless_pass() -> None:
    context = Context(tool_name="Read", tool_args={"file_path": "/repo/NOTES.md"})
    result = tm.compress_text(ISSUE, context)
    assert result.text == ISSUE and result.lossless


def test_long_input_goes_to_the_fallback(monkeypatch) -> None:
    monkeypatch.setattr(tm, "load_model", lambda *a: pytest.fail("the model must not be consulted"))
    long_text = ISSUE * 12  # well above MAX_MODEL_TOKENS * 8 characters
    result = tm.compress_text(long_text, Context())
    assert not result.lossless and "HEADROOM_CHUNK=65536" in result.text


@pytest.mark.skipif(tm.load_model() is None, reason="committed head or MiniLM backbone not installed")
def test_committed_model_keeps_facts_and_announces_folds() -> None:
    model = tm.load_model()
    assert model is tm.load_model()  # loaded once
    result = tm.compress_text_model(ISSUE, Context(query="uploads fail"), model, keep_ratio=0.5)
    assert not result.lossless and len(result.text) <= 0.65 * len(ISSUE)
    assert "HEADROOM_CHUNK=65536" in result.text and "ConnectionResetError" in result.text
    assert NOTE_PATTERN.search(result.text)
    assert tm.compress_text_model(ISSUE, Context(query="uploads fail"), model, keep_ratio=0.5) == result
    routed = compress(ISSUE, Context(), kind="text")
    assert routed.kind == "text" and "HEADROOM_CHUNK=65536" in routed.text


def test_term_worth_is_shape_times_the_heads_score() -> None:
    scores = [{"the": 0.9, "chunk_size": 0.2, "upload": 0.2}, {"chunk_size": 0.6, "4096": 0.1}]
    worth = tm.term_worth(scores)
    mean = sum((0.9, 0.2, 0.2, 0.6, 0.1)) / 5
    assert worth[0]["the"] == 0.0  # a stopword is worth nothing, however the head scores it
    assert worth[0]["chunk_size"] == pytest.approx(tm.tf.term_weight("chunk_size") * (tm.SHAPE_FLOOR + 0.2 / mean))
    assert worth[1]["chunk_size"] > worth[0]["chunk_size"] > worth[0]["upload"]  # the head, then the shape
    assert tm.term_worth([]) == []


@pytest.mark.skipif(tm.load_model() is None, reason="committed head or MiniLM backbone not installed")
def test_committed_model_counts_each_term_once() -> None:
    # The same traceback frame twelve times, six distinct facts, the frame twelve times again: a
    # third of the text holds the frame and every fact (clauses ranked alone kept frames, dropped facts).
    frame = '  File "/srv/app/storage/upload_handler.py", line 88, in write_chunk\n'
    facts = [f"worker_{n} stopped after {1000 + n} retries on queue_{n}\n" for n in range(6)]
    text = frame * 12 + "".join(facts) + frame * 12
    result = tm.compress_text_model(text, Context(), tm.load_model(), keep_ratio=0.33)
    assert not result.lossless and len(result.text) <= 0.38 * len(text)
    assert "upload_handler.py" in result.text
    assert all(fact.strip() in result.text for fact in facts)


def test_the_model_leaves_a_text_that_is_mostly_one_data_line_whole() -> None:
    from tests.compressors.test_text_fallback import ATTRIBUTES

    model = tm.load_model()
    assert tm.compress_text_model(ATTRIBUTES, Context(), model, keep_ratio=0.5).text == ATTRIBUTES
