"""Claude Code's Read output numbers every line (`    12→text` or `    12\ttext`).

Compressors work on the content under the numbers; the numbers travel with every kept line
so the model can still cite and edit exact lines.

The padding before each number (`cat -n` and Claude Code right-align numbers in six columns)
is one token a line and says nothing: `unpad_numbers` drops it from runs of numbered lines,
keeping every number and every byte after the separator. On the Claude Code corpus's held-out
sessions that is 14% of the tokens of Reads and 14% of the edit confirmations' snippets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBERED = re.compile(r"^( *)(\d+)(→|\t)(.*)$")
_PADDED = re.compile(r"( +)(\d+)(?:→|\t)")
NUMBER_COLUMNS = 6  # cat -n, nl -ba and Claude Code right-align numbers in six columns
MIN_RUN = 3  # fewer consecutively numbered lines may be data that merely looks numbered


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


def unpad_numbers(text: str) -> str:
    """`text` with the padding before the numbers of each run of at least MIN_RUN consecutively
    numbered lines (`     12→` or `     12\t`, numbers counting up by one, right-aligned in
    cat -n's six columns) removed: `12→`. Other widths are left alone: a diff's context line of
    such output (one more space) or a table that pads its own way."""
    lines = text.split("\n")
    runs: list[tuple[int, int]] = []  # [start, end) of each run of consecutively numbered lines
    start, previous = 0, None
    for i, line in enumerate(lines):
        m = _PADDED.match(line) if line[:1] == " " else None
        number = int(m.group(2)) if m and m.end(2) == NUMBER_COLUMNS else None
        if number is None or previous is None or number != previous + 1:
            if previous is not None and i - start >= MIN_RUN:
                runs.append((start, i))
            start = i
        previous = number
    if previous is not None and len(lines) - start >= MIN_RUN:
        runs.append((start, len(lines)))
    if not runs:
        return text
    for first, end in runs:
        for i in range(first, end):
            lines[i] = lines[i].lstrip(" ")
    return "\n".join(lines)
