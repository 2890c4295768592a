"""Lossless first pass: strip terminal escape codes and fold runs of identical lines."""

from __future__ import annotations

import re
from bisect import bisect_right

from compressors.notes import NOTE_PATTERN
from compressors.numbered_lines import split_numbered
from compressors.types import Fold, Result

# CSI sequences (colours, cursor moves) and OSC sequences (titles, hyperlinks).
# An OSC sequence never spans lines here, so an unterminated one cannot swallow text.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)")
# Text that already holds a line shaped like a fold note could not be told apart from a real
# fold afterwards, so such text is left as it is and not claimed lossless.
_NOTE = re.compile(r"^\[(previous (line|\d+ lines) repeated \d+ more times?|lines \d+-\d+ repeat line \d+)\]$", re.M)
MIN_RUN = 3  # shorter runs of one line cost about as much to describe as to keep
MAX_PERIOD = 60  # longest block of lines looked for as a repeat
# Periods tried from one line: its next few occurrences. A block whose first line recurs more
# often inside it is found from a later line of it (its folds start there); trying every
# occurrence cost 3x on a log that alternates one line with a counter.
MAX_CANDIDATES = 8
# A repeat note that counts the written lines before it (a numbered one names its lines).
_COUNTING_NOTE = re.compile(r"^\[previous (?:line|(\d+) lines) repeated \d+ more times?\]$")


def strip_ansi(text: str) -> str:
    """Remove terminal colour and cursor codes, which carry nothing for a model."""
    return _ANSI.sub("", text) if "\x1b" in text else text


def fold_repeated_lines(text: str) -> Result:
    """Fold each run of MIN_RUN or more identical consecutive lines into the line plus a count,
    and each block of lines repeated back to back (a stack trace logged once per test) into the
    block plus a count.

    Numbered file reads keep the first line's number and say which line numbers repeat it,
    so line numbers stay exact.
    """
    if has_repeat_notes(text):
        return Result(text, "repeated_lines", False, ())
    numbered = split_numbered(text)
    if numbered is not None:
        return _fold_numbered(text, numbered)
    clean = strip_ansi(text)
    out, folds = fold_repeated_blocks(clean.split("\n"))
    changed = bool(folds) or clean != text
    return Result("\n".join(out) if changed else text, "repeated_lines", True, tuple(folds))


def has_repeat_notes(text: str) -> bool:
    """Whether a text already holds lines shaped like this module's notes, once its terminal
    codes are stripped (then folding it again could not be undone unambiguously)."""
    return _NOTE.search(strip_ansi(text)) is not None


def fold_repeated_blocks(lines: list[str]) -> tuple[list[str], list[Fold]]:
    """The lines with each back-to-back repeat folded into a note: a single line repeated
    (MIN_RUN or more in a run) or a block of up to MAX_PERIOD lines repeated. A note replaces
    only what costs more than itself; lines that are fold notes never join a block. Folds give
    1-based line numbers of the input."""
    ids: dict[str, int] = {}
    code = [ids.setdefault(line, len(ids)) for line in lines]  # compare small ints, not strings
    positions: list[list[int]] = [[] for _ in ids]
    for k, c in enumerate(code):
        positions[c].append(k)
    notes_before = [0]  # notes_before[k]: fold-note lines among lines[:k]
    for line in lines:
        notes_before.append(notes_before[-1] + _is_note_line(line))
    counted_before = [0]  # counted_before[k]: lines among lines[:k] that a later repeat note counts
    counted = _counted_by_notes(lines)
    for flag in counted:
        counted_before.append(counted_before[-1] + flag)
    out: list[str] = []
    folds: list[Fold] = []
    i, n = 0, len(lines)
    while i < n:
        at = positions[code[i]]
        if len(at) == 1:  # a line seen once starts no repeat (most lines: keep this loop cheap)
            out.append(lines[i])
            i += 1
            continue
        period, copies, note = _best_repeat(lines, code, i, at, notes_before, counted_before)
        out.extend(lines[i : i + period])
        if copies:
            out.append(note)
            folds.append(Fold(i + period + 1, i + period * (copies + 1), note))
        i += period * (copies + 1)
    return out, folds


def _counted_by_notes(lines: list[str]) -> list[bool]:
    """The lines an earlier pass's repeat note counts (`[previous 4 lines repeated …]` the 4
    written lines before it, `[previous line …]` the one): folding any of them again would
    make that note count lines that are no longer written."""
    counted = [False] * len(lines)
    for q, line in enumerate(lines):
        if line.startswith("[") and (m := _COUNTING_NOTE.match(line)):
            span = int(m.group(1) or 1)
            for k in range(max(0, q - span), q):
                counted[k] = True
    return counted


def _best_repeat(
    lines: list[str], code: list[int], i: int, at: list[int], notes_before: list[int], counted_before: list[int]
) -> tuple[int, int, str]:
    """(period, extra copies, note) of the repeat that saves most from line i; (1, 0, "") for none."""
    if not lines[i].strip() or notes_before[i + 1] > notes_before[i]:
        return 1, 0, ""
    best = (0, 1, 0, "")  # saved characters, period, copies, note
    first = bisect_right(at, i)
    for index in range(first, min(len(at), first + MAX_CANDIDATES)):  # no slice: `at` may hold every line
        j = at[index]
        period = j - i
        if period > MAX_PERIOD:
            break
        if notes_before[j] > notes_before[i]:
            break  # this and every longer block holds a fold note
        copies = 0
        while _same(code, i, i + period * (copies + 1), period):
            copies += 1
        if not copies or (period == 1 and copies + 1 < MIN_RUN):
            continue
        end = i + period * (copies + 1)
        if counted_before[end] > counted_before[j] or (end < len(lines) and lines[end].startswith("[") and _COUNTING_NOTE.match(lines[end])):
            continue  # would fold lines an existing note counts, or put a note before one
        if period == 1:
            note = f"[previous line repeated {copies} more times]"
        else:
            note = f"[previous {period} lines repeated {copies} more time{'s' if copies > 1 else ''}]"
        replaced = copies * sum(len(line) + 1 for line in lines[i:j])
        worth = len(note) < replaced if period == 1 else 2 * len(note) <= replaced
        if worth and replaced - len(note) > best[0]:
            best = (replaced - len(note), period, copies, note)
    return best[1], best[2], best[3]


def _same(code: list[int], a: int, b: int, length: int) -> bool:
    """Whether code[b:b+length] equals code[a:a+length] (stops at the first difference)."""
    if b + length > len(code):
        return False
    for k in range(length):
        if code[a + k] != code[b + k]:
            return False
    return True


def _is_note_line(line: str) -> bool:
    return "[" in line and bool(_NOTE.match(line) or NOTE_PATTERN.search(line))


def _fold_numbered(text, numbered) -> Result:
    out: list[str] = []
    folds: list[Fold] = []
    i = 0
    while i < len(numbered):
        j = i
        while j + 1 < len(numbered) and numbered[j + 1].content == numbered[i].content:
            j += 1
        first = numbered[i]
        out.append(first.prefix + first.content)
        run = j - i + 1
        note = f"[lines {numbered[i + 1].number}-{numbered[j].number} repeat line {first.number}]" if run > 1 else ""
        if run >= MIN_RUN and first.content.strip() and len(note) < (run - 1) * (len(first.prefix) + len(first.content) + 1):
            out.append(note)
            folds.append(Fold(numbered[i + 1].number, numbered[j].number, note))
        else:
            out.extend(n.prefix + n.content for n in numbered[i + 1 : j + 1])
        i = j + 1
    if not folds:
        return Result(text, "repeated_lines", True, ())
    tail = "\n" if text.endswith("\n") else ""
    return Result("\n".join(out) + tail, "repeated_lines", True, tuple(folds))
