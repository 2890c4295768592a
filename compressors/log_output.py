"""Logs, tracebacks, script and generic shell output: keep what a model acts on, fold the rest.

Kept: errors and warnings with a little context (the first and last line of each repeated
message), Python tracebacks (runs of frames already shown above, and runs of library frames,
fold), Java/JS `at` frames (project frames, the first and last, and every `Caused by:`), Go
panics, lines naming the user's own identifiers, the first lines and more of the last lines.
Folded: runs of lines that differ only in numbers, IDs, timestamps or one word (one note quoting
the template; an odd one out stays), scattered repeats of a message, exact repeats (losslessly),
carriage-return progress lines. Output still large after that is trimmed toward half its size
from the middle of its longest unremarkable stretches.
"""

from __future__ import annotations

import re

from compressors.lines import Keep, Selection, rendered_chars
from compressors.log_templates import (
    Plan,
    Reason,
    assemble,
    fold_global_repeats,
    fold_similar_runs,
    template,
    trim_to_budget,
)
from compressors.relevance import is_error_line, mentions, query_terms
from compressors.types import Context

HEAD_LINES = 5
TAIL_LINES = 15  # the end of a script's output (final error, summary) matters most
TRIM_MIN_CHARS = 2000  # outputs that fold to more than this are trimmed toward...
TRIM_RATIO = 0.5  # ...this share of their size (what errors, tracebacks and failures need stays)
MIN_SAVING = 0.2  # below this, the original is returned unchanged
ERROR_BEFORE, ERROR_AFTER = 1, 2
JAVA_MAX_FRAMES, JAVA_KEEP_FIRST, JAVA_KEEP_LAST = 20, 8, 4

TRACEBACK_START = re.compile(r"^\s*Traceback \(most recent call last\):")
_FRAME = re.compile(r'^\s*File "([^"]*)", line \d+')
_CHAINED = re.compile(r"^\s*(During handling of the above exception|The above exception was the direct cause)")
_LIBRARY = re.compile(r"site-packages/|dist-packages/|/lib/python\d[\d.]*/|^<frozen |/usr/lib/")
# Java (`at com.x.Y.m(Y.java:12)`) and JavaScript (`at fn (/app/x.js:3:9)`) stack frames.
_AT_FRAME = re.compile(r"^\s+at (?:(?:async|new) )?[\w$.<>\[\]/@:\\-]+(?: \[as [^\]]+\])?(?: ?\(.*\))?\s*$")
_JAVA_LIBRARY = re.compile(
    r"^\s+at (?:(?:async|new) )?(java\.|javax\.|jdk\.|sun\.|com\.sun\.|kotlin\.|kotlinx\.|scala\.|org\.junit\.|junit\.|"
    r"org\.apache\.maven\.|org\.gradle\.|org\.springframework\.|java\.base/|node:|internal/|.*node_modules/)"
)
_CAUSED = re.compile(r"^\s*(Caused by:|Suppressed:|\.\.\. \d+ (more|common frames omitted))")
_GO_PANIC = re.compile(r"^(panic: |fatal error: )")
_STRONG_ERROR = re.compile(r"\b(ERROR|FATAL|CRITICAL|Error|Exception|Traceback|panic)\b|^E\s|\w+(Error|Exception):")
_IDENT_TERM = re.compile(r"[_./\d]")


def select_log(lines: list[str], context: Context) -> Selection:
    """Select the lines of a log or command output to keep; fold predictable lines."""
    if len(lines) < 8:
        return [Keep(0, len(lines))] if lines else []
    plan = log_plan(without_crlf(lines), context)
    return finish(plan)


def without_crlf(lines: list[str]) -> list[str]:
    """Lines of CRLF text without their trailing CR, so patterns anchored at `$` match. The
    selection indexes the original lines, which are what gets rendered."""
    body = [line for line in lines[:-1] if line]
    if body and all(line.endswith("\r") for line in body):
        return [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines


def finish(plan: Plan, ratio: float = TRIM_RATIO, min_chars: int = TRIM_MIN_CHARS) -> Selection:
    """Trim a plan to budget and assemble it; return everything unchanged when folding
    saves too little."""
    lines = plan.lines
    original = sum(len(line) + 1 for line in lines)
    budget = max(min_chars, int(ratio * original))
    trim_to_budget(plan, budget, HEAD_LINES, TAIL_LINES)
    selection = assemble(plan)
    if rendered_chars(lines, selection) > (1 - MIN_SAVING) * original:
        return [Keep(0, len(lines))]
    return selection


def log_plan(lines: list[str], context: Context, plan: Plan | None = None) -> Plan:
    """The plan for log-like output: structure first, then errors, relevance, ends, and
    finally folding of similar runs and scattered repeats among the lines left free."""
    plan = plan or Plan.empty(lines)
    templates = [template(line) for line in lines]
    mark_tracebacks(plan)
    mark_java_frames(plan)
    mark_go_panics(plan)
    mark_progress(plan)
    mark_tables(plan)
    mark_errors(plan, templates)
    mark_query(plan, context)
    mark_ends(plan)
    fold_similar_runs(plan, templates, plan.owned)  # must lines inside a run still stay
    fold_global_repeats(plan, templates, [not (m or o) for m, o in zip(plan.must, plan.owned)])
    return plan


def mark_ends(plan: Plan, head: int = HEAD_LINES, tail: int = TAIL_LINES) -> None:
    """Keep the first and last lines unless something more specific folds them."""
    n = len(plan.lines)
    plan.mark_soft(0, head)
    plan.mark_soft(n - tail, n)
    # The very first and last non-blank lines survive unless known to be noise.
    nonblank = [k for k, line in enumerate(plan.lines) if line.strip() and plan.fold[k] is None]
    if nonblank:
        plan.mark_must(nonblank[0], nonblank[0] + 1)
        plan.mark_must(nonblank[-1], nonblank[-1] + 1)


def mark_errors(plan: Plan, templates: list[str]) -> None:
    """Error and warning lines are kept with a little context: the first and the last line of
    each error template. Other repeats of a template are left free to fold."""
    lines = plan.lines
    errors = [k for k, line in enumerate(lines) if not plan.owned[k] and is_error_line(line)]
    last = {templates[k]: k for k in errors}
    seen: set[str] = set()
    for k in errors:
        tmpl = templates[k]
        if tmpl in seen and last[tmpl] != k:
            continue
        seen.add(tmpl)
        plan.mark_must(k, k + 1)
        before = ERROR_BEFORE + (1 if _STRONG_ERROR.search(lines[k]) else 0)
        plan.mark_soft(k - before, k)
        plan.mark_soft(k + 1, k + 1 + ERROR_AFTER)


def salient_terms(context: Context, lines: list[str]) -> frozenset[str]:
    """Query terms specific enough to keep a line for: identifier-like (dots, underscores,
    paths, digits) or long words, and not present on most lines."""
    terms = [t for t in query_terms(context.query) if _IDENT_TERM.search(t) or len(t) >= 9]
    if not terms:
        return frozenset()
    text = "\n".join(lines).lower()
    limit = max(3, len(lines) // 10)
    return frozenset(t for t in terms if text.count(t) <= limit)


def mark_query(plan: Plan, context: Context) -> None:
    """Lines naming the user's own identifiers are kept."""
    terms = salient_terms(context, plan.lines)
    for k, line in enumerate(plan.lines):
        if not plan.owned[k] and mentions(line, terms):
            plan.mark_must(k, k + 1)


_BOX_ROW = re.compile(r"[│┃║|].*[│┃║|].*[│┃║|]")  # three bars or more: cells between them
_RULE_ROW = re.compile(r"^[\s─━═┼╋╬┬┴├┤┌┐└┘╔╗╚╝╠╣╦╩+|:=-]+$")  # a border: only rule characters
_ALIGNED_GAP = re.compile(r"\S(\s{2,})(?=\S)")


def _is_header(line: str) -> bool:
    """A column-aligned table opens with a header of words (NAME  READY  STATUS): a run of
    aligned log lines (timestamps, levels) has none, and stays free to fold."""
    return len(_column_starts(line)) >= 2 and not any(c.isdigit() for c in line) and len(line) <= 200


def _column_starts(line: str) -> frozenset[int]:
    return frozenset(m.end(1) for m in _ALIGNED_GAP.finditer(line))


def table_rows(lines: list[str], min_rows: int = 3) -> list[tuple[int, int]]:
    """Runs of table rows: box-drawn or pipe tables (rows with three bars or more, and their
    border lines) and column-aligned text under a header of words (lines whose columns start at
    the header's offsets)."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and (_BOX_ROW.search(lines[j]) or (j > i and _RULE_ROW.match(lines[j]) and lines[j].strip())):
            j += 1
        if j - i < min_rows and _is_header(lines[i]):
            starts = _column_starts(lines[i])
            j = i + 1
            while len(starts) >= 2 and j < len(lines) and len(starts & _column_starts(lines[j])) >= 2:
                j += 1
            if j - i < min_rows:
                j = i
        if j - i >= min_rows:
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def mark_tables(plan: Plan) -> None:
    """A table's rows are data (a count per row, a status per name): never folded as similar
    lines. They stay whole (a lossless pass may still fold exact repeats)."""
    for start, end in table_rows(plan.lines):
        plan.mark_must(start, end)
        plan.mark_owned(start, end)


def mark_progress(plan: Plan) -> None:
    """A line redrawn with carriage returns (spinner, progress bar) folds to its final state."""
    for k, line in enumerate(plan.lines):
        body = line.rstrip("\r")  # a CRLF line end is not a redraw
        if "\r" not in body:
            continue
        parts = [p for p in body.split("\r") if p.strip()]
        final = parts[-1].strip() if parts else ""
        unit = f"progress line ({len(parts):,} redraws)"
        plan.fold[k] = Reason(unit, f"last: {final}" if len(final) <= 120 else "")
        plan.mark_owned(k, k + 1)


def traceback_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """[start, end) of each Python traceback, from its header (or, when the output was cut,
    its first frame) through the exception line."""
    blocks: list[tuple[int, int]] = []
    n, i = len(lines), 0
    while i < n:
        if TRACEBACK_START.match(lines[i]):
            indent = " " * (len(lines[i]) - len(lines[i].lstrip()) + 1)
        elif _FRAME.match(lines[i]) and lines[i].startswith(" "):
            indent = " "
        else:
            i += 1
            continue
        j = i + 1
        while j < n and lines[j].startswith(indent) and not TRACEBACK_START.match(lines[j]):
            j += 1
        if j < n and lines[j].strip() and not _starts_block(lines[j]):
            j += 1  # the exception line
        blocks.append((i, j))
        i = j
    return blocks


def _starts_block(line: str) -> bool:
    return bool(TRACEBACK_START.match(line) or _CHAINED.match(line))


def _frames(lines: list[str], start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) of each `File "…", line N` frame with its source and caret lines."""
    frames: list[tuple[int, int]] = []
    k = start
    while k < end:
        if _FRAME.match(lines[k]):
            m = k + 1
            while m < end and lines[m].startswith(" ") and not _FRAME.match(lines[m]):
                m += 1
            frames.append((k, m))
            k = m
        else:
            k += 1
    return frames


def mark_tracebacks(plan: Plan) -> None:
    """Keep Python tracebacks whole, except runs of frames already shown above (chained
    exceptions, recursion, the same failure in many tests) and runs of library frames."""
    lines = plan.lines
    seen: set[tuple[str, ...]] = set()
    for start, end in traceback_blocks(lines):
        if plan.owned[start] and plan.fold[start] is not None:
            continue  # inside what a structure already folds (a passing test's stderr)
        plan.mark_owned(start, end)
        plan.mark_must(start, start + 1)
        frames = _frames(lines, start, end)
        plan.mark_must(frames[-1][1] if frames else start + 1, end)  # the exception line
        plan.mark_soft(start - 2, start)  # what was running
        repeated = []
        for a, b in frames:  # recursion repeats frames within one traceback too
            key = tuple(lines[a:b])
            repeated.append(key in seen)
            seen.add(key)
        _fold_frame_runs(plan, frames, repeated, Reason("line", "frames repeated from above"))
        # Runs of library frames (site-packages, the standard library) say little; the
        # frame that raised is kept.
        inner = frames[:-1]
        library = [_is_library(lines[a]) for a, _ in inner]
        _fold_frame_runs(plan, inner, library, Reason("line", "library frames"))
        for a, b in frames:
            if plan.fold[a] is None:
                plan.mark_must(a, b)


def _is_library(frame_line: str) -> bool:
    match = _FRAME.match(frame_line)
    return bool(match and _LIBRARY.search(match.group(1)))


def _fold_frame_runs(plan: Plan, frames: list[tuple[int, int]], flags: list[bool], reason: Reason) -> None:
    """Fold runs of two or more consecutive flagged frames."""
    k = 0
    while k < len(frames):
        if not flags[k]:
            k += 1
            continue
        m = k
        while m < len(frames) and flags[m]:
            m += 1
        if m - k >= 2:
            plan.mark_fold(frames[k][0], frames[m - 1][1], reason)
        k = m


def mark_java_frames(plan: Plan) -> None:
    """Java/JS `at …` frames: the first and last frame of each run, every frame in the
    project's own code, and every `Caused by:` are kept; runs of library frames fold, and so
    does the middle of a run still longer than JAVA_MAX_FRAMES."""
    lines, n, i = plan.lines, len(plan.lines), 0
    while i < n:
        if not _AT_FRAME.match(lines[i]):
            if _CAUSED.match(lines[i]):
                plan.mark_must(i, i + 1)
            i += 1
            continue
        j = i
        while j < n and _AT_FRAME.match(lines[j]):
            j += 1
        if plan.owned[i] and plan.fold[i] is not None:
            i = j  # inside what a structure already folds (a passing test's stderr)
            continue
        plan.mark_owned(i, j)
        plan.mark_must(i - 1, i)  # the exception line heading the frames
        library = [k for k in range(i + 1, j - 1) if _JAVA_LIBRARY.search(lines[k])]
        _fold_index_runs(plan, library, Reason("line", "library frames"))
        own = [k for k in range(i, j) if plan.fold[k] is None]
        if len(own) > JAVA_MAX_FRAMES:
            _fold_index_runs(plan, own[JAVA_KEEP_FIRST:-JAVA_KEEP_LAST], Reason("stack frame"))
        for k in range(i, j):
            if plan.fold[k] is None:
                plan.mark_must(k, k + 1)
        i = j


def _fold_index_runs(plan: Plan, indices: list[int], reason: Reason) -> None:
    """Fold runs of two or more consecutive line indices."""
    k = 0
    while k < len(indices):
        m = k + 1
        while m < len(indices) and indices[m] == indices[m - 1] + 1:
            m += 1
        if m - k >= 2:
            plan.mark_fold(indices[k], indices[m - 1] + 1, reason)
        k = m


def mark_go_panics(plan: Plan) -> None:
    """A Go panic is kept with its first goroutine's stack (up to the next blank line)."""
    lines, n = plan.lines, len(plan.lines)
    for i, line in enumerate(lines):
        if not _GO_PANIC.match(line):
            continue
        j, seen_goroutine = i + 1, False
        while j < n and j - i < 60:
            if lines[j].startswith("goroutine "):
                if seen_goroutine:
                    break
                seen_goroutine = True
            elif not lines[j].strip() and seen_goroutine:
                break
            j += 1
        plan.mark_must(i, j)
        plan.mark_owned(i, j)
