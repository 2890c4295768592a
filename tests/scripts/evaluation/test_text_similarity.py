"""text_similarity: MiniLM cosine ranks paraphrases above unrelated text; difflib when asked or broken."""

from __future__ import annotations

import scripts.evaluation.text_similarity as ts


def test_minilm_scores_a_paraphrase_above_an_unrelated_answer():
    similarity = ts.load_similarity("minilm")
    assert similarity.method == "minilm"
    paraphrase = similarity("Fixed the rounding bug in refund().", "I fixed the bug in refund() that rounded wrongly.")
    unrelated = similarity("Fixed the rounding bug in refund().", "The weather in Paris is sunny today.")
    assert paraphrase > 0.7 > 0.5 > unrelated
    assert similarity("same", "same") == 1.0 and similarity("", "text") == 0.0


def test_difflib_when_asked_or_when_the_model_does_not_load(monkeypatch):
    assert ts.load_similarity("difflib").method == "difflib"
    monkeypatch.setenv("HEADROOM_EVAL_SIMILARITY", "difflib")
    assert ts.load_similarity().method == "difflib"
    monkeypatch.delenv("HEADROOM_EVAL_SIMILARITY")

    def broken():
        raise FileNotFoundError("no weights")

    monkeypatch.setattr(ts, "minilm_embedder", broken)
    fallback = ts.load_similarity()
    assert fallback.method == "difflib" and "did not load" in fallback.note and "no weights" in fallback.note
    assert 0 < fallback("abcdef", "abcxyz") < 1
