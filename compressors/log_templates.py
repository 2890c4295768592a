"""Log template mining and the fold plan shared by the log and test compressors.

A line's template is the line with its variable parts (timestamps, UUIDs, hex, numbers,
durations, progress bars) masked as `<*>`, so "served in 12ms" and "served in 340ms" match.
A `Plan` records, per line, whether it must be kept and why it may be folded; `assemble`
turns a plan into a Selection, folding exact consecutive repeats losslessly on the way.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from compressors.lines import Note, Selection, append_keep
from compressors.notes import fold_note

WILDCARD = "<*>"
# Most specific first: a timestamp must be masked whole before its digits are.
_MASKS = (
    re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"),
    re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[a-f]*\d)[0-9a-f]{7,}\b"),
    re.compile(r"\|[█▉▊▋▌▍▎▏ #]*\||\[[=#>\-. ]{5,}\]|\[\s*\d+(?:\.\d+)?%\]"),  # progress bars
    re.compile(r"\d+(?:[.,:]\d+)*"),
)
_VARIABLE = re.compile(r"[\d|\[]")  # lines without these have nothing to mask
_COLLAPSE = re.compile(r"(?:<\*>[ ./:,\-]*)+<\*>")
_NOTE_LIKE = re.compile(r"^\[(previous (line|\d+ lines) repeated \d+ more times?|lines \d+-\d+ repeat line \d+)\]$")
TEMPLATE_DETAIL_CHARS = 100  # a note quotes at most this much of a template


def template(line: str) -> str:
    """The line with variable parts masked; equal templates mean 'the same message'."""
    if not _VARIABLE.search(line):
        return line
    for mask in _MASKS:
        line = mask.sub(WILDCARD, line)
    return _COLLAPSE.sub(WILDCARD, line)


@dataclass(frozen=True)
class Reason:
    """Why a line may be folded: the unit its note counts and a short detail."""

    unit: str
    detail: str = ""
    alone: bool = False  # gets a note of its own, not merged with neighbouring folds


TRIMMED = Reason("line")  # folded only to fit the budget


def similar(tmpl: str) -> Reason:
    """The reason for lines folded as instances of one template."""
    shown = tmpl.strip()
    if len(shown) > TEMPLATE_DETAIL_CHARS:
        shown = shown[: TEMPLATE_DETAIL_CHARS - 1] + "…"
    return Reason("similar line", f'"{shown}"')


@dataclass
class Plan:
    """Per-line decisions: `must` lines are always kept; `fold[i]` marks a line foldable (unless
    must); `soft` lines (context, head, tail) survive trimming; the rest are kept by default."""

    lines: list[str]
    must: list[bool]
    soft: list[bool]
    fold: list[Reason | None]
    owned: list[bool]  # decided by a structure (traceback, stack, test block): generic rules skip it

    @classmethod
    def empty(cls, lines: list[str]) -> Plan:
        n = len(lines)
        return cls(lines, [False] * n, [False] * n, [None] * n, [False] * n)

    def keep(self, i: int) -> bool:
        return self.must[i] or self.fold[i] is None

    def mark_must(self, start: int, end: int) -> None:
        for k in range(max(0, start), min(end, len(self.lines))):
            self.must[k] = True

    def mark_soft(self, start: int, end: int) -> None:
        for k in range(max(0, start), min(end, len(self.lines))):
            self.soft[k] = True

    def mark_owned(self, start: int, end: int) -> None:
        for k in range(max(0, start), min(end, len(self.lines))):
            self.owned[k] = True

    def mark_fold(self, start: int, end: int, reason: Reason) -> None:
        for k in range(max(0, start), min(end, len(self.lines))):
            if self.fold[k] is None:
                self.fold[k] = reason


@dataclass(frozen=True)
class Run:
    """Consecutive similar lines [start, end), their shared template, and the lines whose
    varying token is an outlier (one odd value where the rest agree): those stay."""

    start: int
    end: int
    template: str
    outliers: frozenset[int] = frozenset()


def similar_runs(lines: list[str], templates: list[str], skip: list[bool], min_run: int = 4) -> list[Run]:
    """Runs of `min_run`+ consecutive lines that share a template, or whose templates differ
    in at most one token position per four (like "writing output... <*>"). Runs of identical
    lines are left to `assemble`."""
    runs: list[Run] = []
    n, i = len(lines), 0
    while i < n:
        if skip[i] or len(lines[i].strip()) <= 3:
            i += 1
            continue
        run = _run_from(templates, skip, i)
        if not any(lines[k] != lines[i] for k in range(i + 1, run.end)):
            # All identical: a run from any later line of it ends at the same place and is
            # identical too, so none starts inside it (skipping it keeps this linear).
            i = run.end
        elif run.end - i >= min_run:
            runs.append(run)
            i = run.end
        else:
            i += 1
    return runs


def _run_from(templates: list[str], skip: list[bool], i: int) -> Run:
    n = len(templates)
    tokens = templates[i].split()
    if len(tokens) < 3:
        j = i + 1
        while j < n and not skip[j] and templates[j] == templates[i]:
            j += 1
        return Run(i, j, templates[i])
    budget = max(1, len(tokens) // 4)
    diff: set[int] = set()
    rows = [tokens]
    j = i + 1
    while j < n and not skip[j]:
        other = templates[j].split()
        if len(other) != len(tokens) or other[0] != tokens[0]:
            break
        changed = diff | {p for p, (a, b) in enumerate(zip(tokens, other)) if a != b}
        if len(changed) > budget:
            break
        diff, j = changed, j + 1
        rows.append(other)
    if not diff:
        return Run(i, j, templates[i])
    shown = " ".join(WILDCARD if p in diff else t for p, t in enumerate(tokens))
    return Run(i, j, shown, _outliers(rows, diff, i))


def _outliers(rows: list[list[str]], positions: set[int], offset: int) -> frozenset[int]:
    """Lines whose token at a varying position is rare where one value dominates."""
    odd: set[int] = set()
    for p in positions:
        values = Counter(row[p] for row in rows)
        common, count = values.most_common(1)[0]
        if count * 2 < len(rows):
            continue
        odd.update(offset + r for r, row in enumerate(rows) if row[p] != common and values[row[p]] * 10 <= len(rows))
    return frozenset(odd)


def fold_similar_runs(plan: Plan, templates: list[str], skip: list[bool], min_run: int = 4) -> None:
    """Fold the middle of each run of similar lines, keeping its first and last line and
    its outliers."""
    for run in similar_runs(plan.lines, templates, skip, min_run):
        reason = similar(run.template)
        for k in range(run.start + 1, run.end - 1):
            if k not in run.outliers:
                plan.mark_fold(k, k + 1, reason)


def fold_global_repeats(plan: Plan, templates: list[str], eligible: list[bool], min_total: int = 4) -> None:
    """A template seen `min_total`+ times across the output keeps its first and last line;
    other eligible occurrences fold (scattered repeats: warnings, retries, per-item lines)."""
    counts = Counter(templates)
    last = {t: k for k, t in enumerate(templates)}
    seen: set[str] = set()
    for k, tmpl in enumerate(templates):
        if tmpl in seen and eligible[k] and counts[tmpl] >= min_total and last[tmpl] != k and len(plan.lines[k].strip()) > 3:
            plan.mark_fold(k, k + 1, similar(tmpl))
        seen.add(tmpl)


def repeat_run(lines: list[str], i: int) -> int:
    """Index past the run of lines identical to lines[i]."""
    j = i + 1
    while j < len(lines) and lines[j] == lines[i]:
        j += 1
    return j


def _repeat_note(line: str, repeats: int) -> str | None:
    """repeated_lines' wording for a lossless fold, when it is shorter than the repeats."""
    note = f"[previous line repeated {repeats} more times]"
    if repeats >= 2 and line.strip() and len(note) < repeats * (len(line) + 1):
        return note
    return None


def _fold_text(count: int, reasons: list[Reason]) -> str:
    distinct = list(dict.fromkeys(reasons))
    first = distinct[0]
    if len(distinct) == 1:
        return fold_note(count, first.unit, first.detail)
    if TRIMMED in distinct:  # trimmed lines among others: no one detail fits
        return fold_note(count, "line")
    if len({reason.unit for reason in distinct}) == 1:  # e.g. several templates
        more = f" and {len(distinct) - 1} more" if first.detail else ""
        return fold_note(count, first.unit, first.detail + more)
    labels = dict.fromkeys(reason.detail if reason.unit == "line" else f"{reason.unit}s" for reason in distinct)
    return fold_note(count, "line", ", ".join(list(labels)[:3]))


def assemble(plan: Plan) -> Selection:
    """Build the selection: kept lines (exact repeats folded losslessly) and one note per
    folded run. A folded run is kept instead when its note would be no shorter."""
    lines, n = plan.lines, len(plan.lines)
    # Text already holding a line shaped like a repeat note could not be told apart from a
    # real one: its repeats fold as ordinary (lossy, retrievable) notes instead.
    lossless_ok = not any(_NOTE_LIKE.match(line) for line in lines)
    selection: Selection = []
    i = 0
    while i < n:
        if plan.keep(i):
            j = repeat_run(lines, i)
            note = _repeat_note(lines[i], j - i - 1)
            append_keep(selection, i, i + 1 if note else j)
            if note:
                text = note if lossless_ok else fold_note(j - i - 1, "repeated line")
                selection.append(Note(text, i + 1, j, lossless=lossless_ok))
            i = j
            continue
        j = i + 1
        while j < n and not plan.keep(j) and not _apart(plan.fold[j - 1], plan.fold[j]):
            j += 1
        text = _fold_text(j - i, [plan.fold[k] for k in range(i, j)])  # type: ignore[misc]
        if len(text) + 1 >= sum(len(lines[k]) + 1 for k in range(i, j)):
            append_keep(selection, i, j)
        else:
            selection.append(Note(text, i, j))
        i = j
    return selection


def _apart(previous: Reason | None, current: Reason | None) -> bool:
    return previous != current and bool((previous and previous.alone) or (current and current.alone))




def trim_to_budget(plan: Plan, budget: int, head: int, tail: int, edge: int = 2) -> None:
    """Fold the middles of the longest stretches between must-keep lines until the kept text
    fits `budget` chars: default lines first, then soft ones. `edge` lines next to each kept
    line, and the first `head` and last `tail` lines, stay."""
    lines, n = plan.lines, len(plan.lines)
    excess = sum(len(lines[k]) + 1 for k in range(n) if plan.keep(k)) - budget
    for include_soft in (False, True):
        if excess <= 0:
            return
        runs = _trim_runs(plan, head, tail, edge, include_soft)
        for size, start, end in sorted(runs, key=lambda r: (-r[0], r[1])):
            if excess <= 0:
                return
            if size > excess + 40:  # fold only the part of this run that is needed
                start, end = _centre(plan, start, end, excess + 40)
            for k in range(start, end):
                if plan.keep(k):
                    excess -= len(lines[k]) + 1
                plan.mark_fold(k, k + 1, TRIMMED)
            excess += 40  # the note


def _trim_runs(plan: Plan, head: int, tail: int, edge: int, include_soft: bool) -> list[tuple[int, int, int]]:
    """(kept chars, start, end) of each stretch that may be trimmed."""
    lines, n = plan.lines, len(plan.lines)
    free = [not plan.must[k] and (include_soft or not plan.soft[k]) for k in range(n)]
    runs: list[tuple[int, int, int]] = []
    i = 0
    while i < n:
        if not free[i]:
            i += 1
            continue
        j = i
        while j < n and free[j]:
            j += 1
        start = max(i + edge if i > 0 else 0, head)
        end = min(j - edge if j < n else n, n - tail)
        size = sum(len(lines[k]) + 1 for k in range(start, end) if plan.keep(k))
        if end - start >= 3 and size > 120:
            runs.append((size, start, end))
        i = j
    return runs


def _centre(plan: Plan, start: int, end: int, want: int) -> tuple[int, int]:
    """The smallest sub-range of [start, end) holding about `want` kept chars, placed so that
    twice as much of the run survives after it as before it (the end of output matters more)."""
    lo = hi = start + (end - start) // 3
    got = 0
    while got < want and (lo > start or hi < end):
        for _ in range(2):
            if hi < end and got < want:
                got += len(plan.lines[hi]) + 1 if plan.keep(hi) else 0
                hi += 1
        if got < want and lo > start:
            lo -= 1
            got += len(plan.lines[lo]) + 1 if plan.keep(lo) else 0
    return lo, hi
