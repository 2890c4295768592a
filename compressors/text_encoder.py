"""The text model's inference in numpy: a BERT encoder (MiniLM) and the keep head, no torch.

`headroom compress --kind text` must answer in under a second, and importing torch alone takes
~1.5 s on these machines; numpy and the `tokenizers` library load in ~0.1 s. The weights are the
same files (the backbone's `model.safetensors`, read with safetensors' numpy loader; the head's
`head.npz`, written beside `head.pt` by scripts/train_text_model.py), so torch stays for training
only. The forward pass is BERT's: embeddings + LayerNorm, then per layer multi-head
self-attention and a GELU feed-forward block, each with a residual and LayerNorm.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HEAD_NPZ = "head.npz"


# erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, below float32's own rounding
# here): numpy has no erf, and scipy's import alone costs ~0.3 s of the CLI's second.
_P, _A = 0.3275911, (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erf(x: np.ndarray) -> np.ndarray:
    """erf(x), computed in place on temporaries (this runs on every feed-forward activation)."""
    a = np.abs(x)
    t = _P * a
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * _A[4]
    for coefficient in (_A[3], _A[2], _A[1], _A[0]):
        poly += coefficient
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)
    return np.copysign(poly, x, out=poly)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU with erf, as BERT's "gelu" and torch's nn.GELU()."""
    out = erf(x * np.float32(1 / np.sqrt(2.0)))
    out += 1.0
    out *= x
    out *= 0.5
    return out


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def mapped_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file as read-only views of one memory map: nothing is read
    until used, so loading is instant and the word embeddings page in only the rows looked up."""
    with path.open("rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] not in _DTYPES:
            continue
        start, end = info["data_offsets"]
        out[name] = data[start:end].view(_DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


class NumpyBert:
    """BertModel's last hidden state (no pooler), from a folder saved by transformers."""

    def __init__(self, folder: Path, layers: int | None = None) -> None:
        config = json.loads((folder / "config.json").read_text())
        mapped = {k.removeprefix("bert."): v for k, v in mapped_safetensors(folder / "model.safetensors").items()}
        # Matrices are copied once, transposed and aligned (BLAS skips unaligned memory-mapped
        # data: 7x slower); the word embeddings stay mapped, only the rows looked up are read.
        self.w = {k: v if k == "embeddings.word_embeddings.weight" else np.ascontiguousarray(v.T if v.ndim == 2 else v) for k, v in mapped.items()}
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.layers = min(int(layers or config["num_hidden_layers"]), int(config["num_hidden_layers"]))

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"] + self.w[name + ".bias"]  # weights stored transposed

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return layer_norm(x, self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """[batch, tokens] ids and mask → [batch, tokens, hidden] float32."""
        w = self.w
        batch, width = input_ids.shape
        x = w["embeddings.word_embeddings.weight"][input_ids] + w["embeddings.position_embeddings.weight"].T[:width]
        x = self._norm(x + w["embeddings.token_type_embeddings.weight"].T[0], "embeddings.LayerNorm")
        bias = (1.0 - attention_mask[:, None, None, :].astype(np.float32)) * np.finfo(np.float32).min
        size = self.hidden // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def heads(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, width, self.heads, size).transpose(0, 2, 1, 3)

            q, k, v = (heads(self._linear(x, p + f"attention.self.{n}")) for n in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= np.float32(1 / np.sqrt(size))
            scores += bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = scores @ v
            context = context.transpose(0, 2, 1, 3).reshape(batch, width, self.hidden)
            x = self._norm(self._linear(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            inner = gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(self._linear(inner, p + "output.dense") + x, p + "output.LayerNorm")
        return x.astype(np.float32)


class NumpyHead:
    """The keep head: Linear → GELU → Linear, hidden state → keep logit."""

    def __init__(self, path: Path) -> None:
        with np.load(path) as saved:
            self.w1, self.b1, self.w2, self.b2 = (saved[k] for k in ("w1", "b1", "w2", "b2"))

    def __call__(self, hidden: np.ndarray) -> np.ndarray:
        return (gelu(hidden @ self.w1.T + self.b1) @ self.w2.T + self.b2)[..., 0]


def save_head(state: dict, path: Path) -> None:
    """Write a trained head's state dict (`0.weight`, `0.bias`, `2.weight`, `2.bias`) as numpy."""
    arrays = {name: state[key].detach().cpu().numpy() for name, key in (("w1", "0.weight"), ("b1", "0.bias"), ("w2", "2.weight"), ("b2", "2.bias"))}
    np.savez(path, **arrays)
