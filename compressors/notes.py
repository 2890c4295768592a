"""The one format for what a compressor folds away, so the retrieval layer can find every note.

A fold note reads `[… 1,240 lines folded]` or `[… 312 items folded: status=ok]`. The retrieval
layer turns each into a marker by adding ` · retrieve id=…` before the closing bracket; the
pattern below is the only thing it relies on.
"""

from __future__ import annotations

import re

NOTE_PATTERN = re.compile(r"\[… [^\]\n]* folded(?::[^\]\n]*)?\]")


def plural(count: int, unit: str) -> str:
    """`1 line`, `1,240 lines` (unit given in the singular)."""
    return f"{count:,} {unit}" if count == 1 else f"{count:,} {unit}s"


def fold_note(count: int, unit: str, detail: str = "") -> str:
    """A note standing for `count` removed units, with an optional short detail."""
    note = f"[… {plural(count, unit)} folded"
    if detail:
        note += f": {detail.replace(']', ')').replace(chr(10), ' ')}"
    return note + "]"
