"""The text model's numpy backend: the same scores as torch, without importing torch."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compressors import Context
from compressors import text_model as tm
from compressors.text_encoder import erf, mapped_safetensors

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "The committee met again in the spring and discussed the schedule at length. " * 12
    + "ERROR: ledger-sync failed at batch 7781 with a checksum mismatch; the retry budget is 7.",
    "Deploy notes. The staging cluster runs release 4.2.1 with the uploader fix. " * 30,  # over one window
]
needs_model = pytest.mark.skipif(tm.load_model(backend="numpy") is None, reason="committed head or MiniLM backbone not installed")


def test_erf_matches_the_exact_function() -> None:
    x = np.linspace(-6, 6, 2001, dtype=np.float32)
    assert np.abs(erf(x) - np.array([math.erf(v) for v in x.astype(float)])).max() < 1e-6


def test_safetensors_are_mapped_not_read(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, dtype=np.int64)}, str(tmp_path / "m.safetensors"))
    tensors = mapped_safetensors(tmp_path / "m.safetensors")
    assert tensors["a"].tolist() == [[0, 1, 2], [3, 4, 5]] and tensors["b"].dtype == np.int64
    assert isinstance(tensors["a"].base, np.memmap) or isinstance(tensors["a"].base.base, np.memmap)


@needs_model
def test_numpy_and_torch_backends_give_the_same_scores_and_selections() -> None:
    numpy_model, torch_model = tm.load_model(backend="numpy"), tm.load_model(backend="torch")
    for text in TEXTS:
        a, spans_a = numpy_model.keep_probabilities(text)
        b, spans_b = torch_model.keep_probabilities(text)
        assert spans_a == spans_b and np.abs(np.array(a) - np.array(b)).max() < 1e-4
        assert tm.compress_text_model(text, Context(), numpy_model).text == tm.compress_text_model(text, Context(), torch_model).text


@needs_model
def test_the_numpy_backend_never_imports_torch() -> None:
    code = (
        "import sys; from compressors import text_model as tm; "
        "model = tm.load_model(backend='numpy'); model.keep_probabilities('a short sentence about ledgers'); "
        "sys.exit('torch' in sys.modules or 'transformers' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
