"""Content that changes from one request to the next inside a prompt's cacheable front.

A prompt cache is a byte-exact prefix match: a clock in the system prompt makes every request a
cache miss from that byte on. Two tools find such content:

- `scan(text)`: what looks dynamic by its shape (dates, times, timestamps, UUIDs, request and
  session ids, git status lines), for reporting even on a conversation's first request;
- `changes(old, new)`: what did change between two versions of the same text, line by line,
  each change classified by the same shapes, or as a git status or directory listing snapshot,
  or as `None` (a real edit, which no aligner may hide).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?"
# Most specific first: a datetime is not also reported as a date and a time.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("uuid", re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")),
    ("datetime", re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}|\s?UTC)?")),
    ("datetime", re.compile(rf"\b(?:{_DAY}\s+)?{_MONTH}\s+\d{{1,2}}\s+\d{{1,2}}:\d{{2}}:\d{{2}}(?:\s+[A-Z]{{3,4}})?\s+\d{{4}}\b")),
    ("date", re.compile(r"\b\d{4}[-/.]\d{2}[-/.]\d{2}\b")),
    ("date", re.compile(rf"\b(?:{_DAY}\s+)?{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b")),
    ("date", re.compile(rf"\b(?:{_DAY}\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}\b")),
    ("time", re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b|\b\d{1,2}:\d{2}\s?(?:[AaPp]\.?[Mm]\.?)(?![a-z])")),
    ("timestamp", re.compile(r"\b1[5-9]\d{8}(?:\d{3})?(?:\.\d+)?\b")),
    ("request_id", re.compile(r"\b(?:req|msg|sess|session|run|trace|span|chatcmpl|resp|conv|call|toolu)[_-][A-Za-z0-9]{8,}\b")),
    ("hex_id", re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{16,}\b")),
)
_GIT_LINE = re.compile(
    r"^\s*(?:(?:[MADRCU?! ]{2}|modified:|new file:|deleted:|renamed:)\s+\S|(?:On branch|Current branch|Your branch|HEAD detached|"
    r"Changes (?:not )?(?:staged|to be committed)|Untracked files|nothing to commit|Status:|Recent commits:|[0-9a-f]{7,40}\s)\S*)"
)
# A line of a directory listing: one path (with a slash, or a file name with an extension).
_PATH_LINE = re.compile(r"^\s*(?:[-*•]\s+|[│├└─\s]+)?(?:[\w.@~+-]*(?:/[\w.@~+-]*)+/?|[\w@~+-][\w.@~+-]*\.[A-Za-z0-9]{1,6})\s*$")
MAX_NOTE_LINES = 40  # a snapshot larger than this is not worth moving (nor a note to read)


@dataclass(frozen=True)
class DynamicField:
    """One dynamic-looking value: its kind and where it sits in the text."""

    kind: str
    start: int
    end: int
    value: str


@dataclass(frozen=True)
class Change:
    """One changed run of lines between two versions of a text."""

    kind: str | None  # how the change is explained, or None: a real edit
    old_lines: tuple[str, ...]
    new_lines: tuple[str, ...]
    new_start: int  # character offset of the run in the new text


# All patterns in one pass: at each position the first alternative that matches wins, and
# PATTERNS lists the most specific first (a datetime is not also a date and a time).
_ANY = re.compile("|".join(f"(?P<k{i}>{pattern.pattern})" for i, (_, pattern) in enumerate(PATTERNS)))
_KINDS = {f"k{i}": kind for i, (kind, _) in enumerate(PATTERNS)}


# Every kind holds a digit: only lines with one are searched (prose lines are most of a prompt).
_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=64)  # the same system prompt is scanned for the report, the thread key and the diff
def scan(text: str) -> tuple[DynamicField, ...]:
    """Dynamic-looking values in text, in order, none overlapping."""
    found: list[DynamicField] = []
    pos = 0
    while (digit := _DIGIT.search(text, pos)) is not None:
        start = text.rfind("\n", 0, digit.start()) + 1
        end = text.find("\n", digit.start())
        end = len(text) if end < 0 else end
        found += [DynamicField(_KINDS[m.lastgroup or ""], m.start(), m.end(), m.group()) for m in _ANY.finditer(text, start, end)]
        pos = end + 1
    return tuple(found)


def normalise(text: str) -> str:
    """The text with each dynamic-looking value replaced by its kind: equal for two versions
    of a text that differ only in such values."""
    out, cursor = [], 0
    for field in scan(text):
        out.append(text[cursor : field.start])
        out.append(f"\u27e8{field.kind}\u27e9")
        cursor = field.end
    out.append(text[cursor:])
    return "".join(out)


def changes(old: str, new: str) -> list[Change]:
    """The runs of lines that differ between two versions of a text, each classified."""
    if old == new:
        return []
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    # The lines both versions start and end with are equal: only the middle goes to difflib
    # (a long system prompt with one clock line changed is a one-line diff, not a 400-line one).
    head = 0
    while head < min(len(old_lines), len(new_lines)) and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while tail < min(len(old_lines), len(new_lines)) - head and old_lines[-1 - tail] == new_lines[-1 - tail]:
        tail += 1
    old_mid, new_mid = old_lines[head : len(old_lines) - tail], new_lines[head : len(new_lines) - tail]
    offset = sum(len(line) for line in new_lines[:head])
    offsets = [offset]
    for line in new_mid:
        offsets.append(offsets[-1] + len(line))
    out = []
    matcher = difflib.SequenceMatcher(None, old_mid, new_mid, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        was, now = tuple(old_mid[i1:i2]), tuple(new_mid[j1:j2])
        out.append(Change(_classify(was, now), was, now, offsets[j1]))
    return out


def _classify(was: tuple[str, ...], now: tuple[str, ...]) -> str | None:
    """What explains a changed run: its lines pair up as the same line with other dynamic
    values, and whatever does not pair is snapshot lines (git status, a listing); else None."""
    if len(was) > MAX_NOTE_LINES or len(now) > MAX_NOTE_LINES:
        return None
    unpaired = [line for line in was if line.strip()]
    kinds: list[str] = []
    leftover: list[str] = []
    for line in (line for line in now if line.strip()):
        shape = normalise(line)
        twin = next((i for i, old in enumerate(unpaired) if old != line and normalise(old) == shape), None)
        if twin is None:
            leftover.append(line)
        else:
            del unpaired[twin]
            kinds += [f.kind for f in scan(line)]
    leftover += unpaired
    if leftover and all(_GIT_LINE.match(line) for line in leftover):
        kinds.append("git_status")
    elif leftover and all(_PATH_LINE.match(line) for line in leftover):
        kinds.append("listing")
    elif leftover:
        return None
    return kinds[0] if kinds else None


def explained(found: list[Change]) -> bool:
    """Whether every change is a dynamic value or snapshot, so the text is the same prompt."""
    return bool(found) and all(change.kind is not None for change in found)


@lru_cache(maxsize=256)  # a thread re-sends the same system prompt every turn
def skeleton(text: str) -> str:
    """What stays of a text when its dynamic values and snapshot lines (git status, listings)
    are taken out: two versions of one system prompt share it."""
    kept = []
    for line in normalise(text).splitlines():
        if line.strip() and (_GIT_LINE.match(line) or _PATH_LINE.match(line)):
            continue
        kept.append(line)
    return "\n".join(kept)
