"""The one format for what a compressor folds away, so the retrieval layer can find every note.

A fold note reads `[… 1,240 lines folded]` or `[… 312 items folded: status=ok]`. The retrieval
layer turns each into a marker by adding ` · retrieve id=…` before the closing bracket; the
pattern below is the only thing it relies on.
"""

from __future__ import annotations

import re

NOTE_PATTERN = re.compile(r"\[… [^\]\n]* folded(?::[^\]\n]*)?\]")


def plural(count: int, unit: str) -> str:
    """`1 line`, `1,240 lines`, `3 matches`, `2 entries` (unit given in the singular)."""
    if count == 1:
        return f"{count:,} {unit}"
    if unit.endswith(("s", "x", "z", "ch", "sh")):
        return f"{count:,} {unit}es"
    if unit.endswith("y") and unit[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return f"{count:,} {unit[:-1]}ies"
    return f"{count:,} {unit}s"


def fold_note(count: int, unit: str, detail: str = "") -> str:
    """A note standing for `count` removed units, with an optional short detail."""
    note = f"[… {plural(count, unit)} folded"
    if detail:
        note += f": {detail.replace(']', ')').replace(chr(10), ' ')}"
    return note + "]"
