"""bench_text on a small real slice of the corpus: held-out cases only, every arm near its ratio."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

from scripts import bench_text as bench  # noqa: E402
from scripts.train_text_model import CORPUS, split_of  # noqa: E402

pytestmark = pytest.mark.skipif(not CORPUS.is_file(), reason="../shared/corpus not present")


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> str:
    """Twenty corpus lines: ten held-out cases the bench accepts, ten training ones."""
    picked: dict[str, list[str]] = {"heldout": [], "train": []}
    for line in CORPUS.read_text().splitlines():
        case = json.loads(line)
        side = split_of(case["id"])
        if side in picked and len(picked[side]) < 10 and bench.load_cases_from([case], 0.3, side):
            picked[side].append(line)
    path = tmp_path_factory.mktemp("corpus") / "tool_outputs.jsonl"
    path.write_text("\n".join(picked["heldout"] + picked["train"]) + "\n")
    return str(path)


def test_default_split_is_heldout_only(small_corpus) -> None:
    from pathlib import Path

    heldout = bench.load_cases(Path(small_corpus), 0.3)
    both = bench.load_cases(Path(small_corpus), 0.3, "all")
    assert len(heldout) == 10 and len(both) == 20


def test_arms_land_at_the_ratio(small_corpus) -> None:
    from pathlib import Path

    from compressors import text_fallback as tf

    cases = bench.load_cases(Path(small_corpus), 0.3)
    for ratio in (0.5, 0.33):
        fallback = bench.measure(cases, lambda t, c, r, i: tf.compress_text_fallback(t, c, r).text, ratio)
        random = bench.measure(cases, lambda t, c, r, i: bench.random_drop(t, r, i), ratio)
        for retention, kept in (fallback, random):
            assert 0 <= retention <= 100 and 100 * ratio - 10 <= kept <= 100 * ratio + 5


def test_main_prints_the_split_and_all_arms(small_corpus, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per row: rich wraps to the terminal
    assert bench.main(["--corpus", small_corpus, "--weights", str(tmp_path), "--no-speed"]) == 0
    out = capsys.readouterr().out
    assert "held-out trajectories" in out and "fallback" in out and "random word drop" in out


def test_fallback_speed_times_one_long_input(small_corpus) -> None:
    from pathlib import Path

    cases = bench.load_cases(Path(small_corpus), 0.3)
    tokens, first, median = bench.fallback_speed(cases, tokens=5000, runs=2)
    assert 4000 <= tokens <= 5100 and first > 0 and median > 0


def test_main_prints_the_fallback_speed_without_a_model(small_corpus, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert bench.main(["--corpus", small_corpus, "--weights", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Fallback on one" in out and "-token input" in out and "no model weights" in out
