"""Pure text-to-text compressors: no mitmproxy, no network, deterministic."""

from __future__ import annotations

from compressors.router import route
from compressors.types import Context, Fold, Result

__all__ = ["Context", "Fold", "Result", "compress"]


def compress(text: str, context: Context | None = None, kind: str = "auto") -> Result:
    """Compress one piece of text; `kind` forces a compressor instead of routing."""
    return route(text, context or Context(), kind)
