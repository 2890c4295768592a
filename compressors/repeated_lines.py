"""Lossless first pass: strip terminal escape codes and fold runs of identical lines."""

from __future__ import annotations

import re

from compressors.numbered_lines import split_numbered
from compressors.types import Fold, Result

# CSI sequences (colours, cursor moves) and OSC sequences (titles, hyperlinks).
# An OSC sequence never spans lines here, so an unterminated one cannot swallow text.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)")
# Text that already holds a line shaped like a fold note could not be told apart from a real
# fold afterwards, so such text is left as it is and not claimed lossless.
_NOTE = re.compile(r"^\[(previous line repeated \d+ more times|lines \d+-\d+ repeat line \d+)\]$", re.M)
MIN_RUN = 3  # shorter runs cost about as much to describe as to keep


def strip_ansi(text: str) -> str:
    """Remove terminal colour and cursor codes, which carry nothing for a model."""
    return _ANSI.sub("", text) if "\x1b" in text else text


def fold_repeated_lines(text: str) -> Result:
    """Fold each run of MIN_RUN or more identical consecutive lines into the line plus a count.

    Numbered file reads keep the first line's number and say which line numbers repeat it,
    so line numbers stay exact.
    """
    if _NOTE.search(text):
        return Result(text, "repeated_lines", False, ())
    numbered = split_numbered(text)
    if numbered is not None:
        return _fold_numbered(text, numbered)
    clean = strip_ansi(text)
    lines = clean.split("\n")
    out: list[str] = []
    folds: list[Fold] = []
    i = 0
    while i < len(lines):
        j = i
        while j + 1 < len(lines) and lines[j + 1] == lines[i]:
            j += 1
        out.append(lines[i])
        run = j - i + 1
        note = f"[previous line repeated {run - 1} more times]"
        if run >= MIN_RUN and lines[i].strip() and len(note) < (run - 1) * (len(lines[i]) + 1):
            out.append(note)
            folds.append(Fold(i + 2, j + 1, note))
        else:
            out.extend(lines[i + 1 : j + 1])
        i = j + 1
    changed = bool(folds) or clean != text
    return Result("\n".join(out) if changed else text, "repeated_lines", True, tuple(folds))


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
