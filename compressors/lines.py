"""Line-oriented compression: a compressor picks which original lines to keep.

Most tool output (logs, test runs, search results, diffs, source code) is compressed by keeping
some original lines verbatim and folding the rest. Expressing that as a selection over the
original lines lets one renderer put line numbers back on every kept line (Claude Code's Read
output) and lets notes say exactly which lines they stand for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from compressors.notes import fold_note
from compressors.types import Context, Fold, Result


@dataclass(frozen=True)
class Keep:
    """Original lines [start, end) kept verbatim (0-based)."""

    start: int
    end: int


@dataclass(frozen=True)
class Note:
    """A line of text standing for original lines [start, end) (0-based), which it replaces."""

    text: str
    start: int
    end: int
    lossless: bool = False  # True when the note alone restores the lines (e.g. "×N")


Selection = list[Keep | Note]
LineCompressor = Callable[[list[str], Context], Selection]

# A removed run this short is kept instead: the note would cost about as much as the lines.
MIN_FOLD = 2


def fold_unkept(lines: Sequence[str], keep: Sequence[bool], unit: str = "line", min_fold: int = MIN_FOLD) -> Selection:
    """Turn a keep-mask into a selection: kept runs stay, removed runs become fold notes."""
    selection: Selection = []
    for start, end, kept in mask_runs(keep):
        if kept or end - start < min_fold:
            append_keep(selection, start, end)
        else:
            selection.append(Note(fold_note(end - start, unit), start, end))
    return selection


def mask_runs(mask: Sequence[bool]) -> Iterator[tuple[int, int, bool]]:
    """The runs of equal values in a mask: (start, end, value), in order."""
    i, n = 0, len(mask)
    while i < n:
        j = i
        while j < n and mask[j] == mask[i]:
            j += 1
        yield i, j, mask[i]
        i = j


def append_keep(selection: Selection, start: int, end: int) -> None:
    """Add kept lines [start, end), merging with a Keep that ends where they start."""
    if selection and isinstance(selection[-1], Keep) and selection[-1].end == start:
        selection[-1] = Keep(selection[-1].start, end)
    else:
        selection.append(Keep(start, end))


def render(lines: Sequence[str], selection: Selection, prefixes: Sequence[str] | None = None) -> str:
    """The kept lines (with their original prefixes, e.g. `    12→`) and notes, in order."""
    out: list[str] = []
    for item in selection:
        if isinstance(item, Keep):
            for k in range(item.start, item.end):
                out.append(prefixes[k] + lines[k] if prefixes else lines[k])
        else:
            out.append(item.text)
    return "\n".join(out)


def rendered_chars(lines: Sequence[str], selection: Selection) -> int:
    """Characters the selection renders to (lines plus newlines)."""
    return sum(
        sum(len(lines[k]) + 1 for k in range(item.start, item.end)) if isinstance(item, Keep) else len(item.text) + 1
        for item in selection
    )


def saves_enough(lines: Sequence[str], selection: Selection, min_saving: float) -> bool:
    """Whether the selection renders at least `min_saving` of the original's characters shorter."""
    before = sum(len(line) + 1 for line in lines)
    return before - rendered_chars(lines, selection) >= min_saving * before


def selection_result(
    lines: Sequence[str], selection: Selection, kind: str, prefixes: Sequence[str] | None = None, first_number: int = 1
) -> Result:
    """A Result for a selection; Fold line numbers are 1-based (or the numbers of a numbered read)."""
    if prefixes:  # on numbered reads, say which line numbers a repeat stands for
        selection = [_numbered_repeat(item, first_number) if isinstance(item, Note) else item for item in selection]
    folds = tuple(
        Fold(first_number + item.start, first_number + item.end - 1, item.text) for item in selection if isinstance(item, Note)
    )
    lossless = all(item.lossless for item in selection if isinstance(item, Note))
    return Result(render(lines, selection, prefixes), kind, lossless, folds)


_REPEAT_NOTE = re.compile(r"^\[previous line repeated \d+ more times?\]$")


def _numbered_repeat(note: Note, first_number: int) -> Note:
    if not (note.lossless and note.start > 0 and _REPEAT_NOTE.match(note.text)):
        return note
    first, last = first_number + note.start, first_number + note.end - 1
    return Note(f"[lines {first}-{last} repeat line {first - 1}]", note.start, note.end, True)


def check_selection(selection: Selection, n_lines: int) -> None:
    """Raise if a selection does not cover lines 0..n-1 exactly once and in order."""
    position = 0
    for item in selection:
        if item.start != position or item.end <= item.start:
            raise ValueError(f"selection item {item} does not continue at line {position}")
        position = item.end
    if position != n_lines:
        raise ValueError(f"selection covers {position} of {n_lines} lines")
