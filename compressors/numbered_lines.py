"""Claude Code's Read output numbers every line (`    12→text` or `    12\ttext`).

Compressors work on the content under the numbers; the numbers travel with every kept line
so the model can still cite and edit exact lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBERED = re.compile(r"^( *)(\d+)(→|\t)(.*)$")


@dataclass(frozen=True)
class NumberedLine:
    number: int
    prefix: str  # the exact original prefix, e.g. "    12→"
    content: str


def split_numbered(text: str) -> list[NumberedLine] | None:
    """Split text whose every line is numbered in order; None when it is not such text."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    if len(lines) < 2:
        return None
    out: list[NumberedLine] = []
    previous = None
    for line in lines:
        m = _NUMBERED.match(line)
        if not m:
            return None
        number = int(m.group(2))
        if previous is not None and number != previous + 1:
            return None
        previous = number
        out.append(NumberedLine(number, line[: m.end(3)], m.group(4)))
    return out
