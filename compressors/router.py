"""Pick a compressor for a piece of text, from the tool call first and the content second."""

from __future__ import annotations

from collections.abc import Callable

from compressors.repeated_lines import fold_repeated_lines
from compressors.types import Context, Result

Compressor = Callable[[str, Context], Result]

# Kinds that exist today. The structured compressors (json, log, test, search, diff, html,
# code) and the text model plug in here as they land.
COMPRESSORS: dict[str, Compressor] = {
    "repeated_lines": lambda text, context: fold_repeated_lines(text),
}


def choose_kind(text: str, context: Context) -> str:
    """The compressor kind for this text."""
    return "repeated_lines"


def route(text: str, context: Context, kind: str = "auto") -> Result:
    """Compress `text` with the compressor for `kind` (chosen from the text when "auto")."""
    if kind == "auto":
        kind = choose_kind(text, context)
    try:
        compressor = COMPRESSORS[kind]
    except KeyError:
        raise ValueError(f"unknown compressor kind {kind!r}; known: {', '.join(sorted(COMPRESSORS))}") from None
    return compressor(text, context)
