"""Pure text-to-text compressors: no mitmproxy, no network, deterministic."""

from __future__ import annotations

from compressors.router import KINDS, Settings, route
from compressors.types import Context, Fold, Result

__all__ = ["KINDS", "Context", "Fold", "Result", "Settings", "compress"]


def compress(text: str, context: Context | None = None, kind: str = "auto", settings: Settings | None = None) -> Result:
    """Compress one piece of text; `kind` forces a compressor instead of routing."""
    return route(text, context or Context(), kind, settings or Settings())
