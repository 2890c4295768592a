"""Conservative folding for HTML whose markup is the subject (generated pages under test,
files being read, script output): every tag and attribute stays, only bulky low-value parts
fold.

Two passes: the bodies of long `<script>`, `<style>` and `<svg>` blocks, long comments and long
`data:` URIs are replaced in place by a fold note (the tags around them stay); then long runs of
lines with the same tag skeleton (`<option value="…">…</option>` ×300) keep their first and last
lines and any line that mentions the query, an error or a selected state.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from compressors.html_blocks import BlockPattern, replace_tags
from compressors.notes import NOTE_PATTERN, fold_note
from compressors.relevance import is_error_line, mentions, query_terms
from compressors.types import Context, Fold, Result

_BLOCK = re.compile(
    r"(<!--)(.*?)(-->)"
    r"|(<(script|style|svg)\b[^>]*(?<!/)>)(.*?)(</\5\s*>)"
    r"|(data:[\w.+-]+/[\w.+-]+;base64,)([A-Za-z0-9+/=]+)",
    re.S | re.I,
)
BLOCKS = BlockPattern(_BLOCK, ("script", "style", "svg"), others=("data:",))  # _BLOCK.finditer in linear time
_NEWLINE = re.compile("\n")
_ATTR_VALUE = re.compile(r"""=\s*("[^"]*"|'[^']*'|[^\s>]+)""")
_TEXT = re.compile(r">[^<]*<")
_TAG_NAME = re.compile(r"<(/?[A-Za-z][\w:-]*)")
_SALIENT = re.compile(r"\b(selected|checked|aria-current|active|current)\b", re.I)
RUN_HEAD = 3
RUN_TAIL = 2


@dataclass(frozen=True)
class MarkupPolicy:
    """How bulky a block or how long a run must be before it folds (0 runs: never)."""

    min_block: int = 400
    min_data_uri: int = 200
    min_run: int = 20
    min_run_saving: int = 600  # chars a run fold must save to be worth a note


GENERAL = MarkupPolicy()
FILE_READ = MarkupPolicy(min_block=2000, min_data_uri=1000, min_run=0)  # a file the model may edit


def fold_markup(text: str, context: Context, policy: MarkupPolicy = GENERAL) -> Result:
    """Fold bulky blocks and long repetitive runs, keeping all other lines verbatim."""
    newlines = [m.start() for m in _NEWLINE.finditer(text)]
    folded, starts, folds = _fold_blocks(text, newlines, policy)
    total_lines = len(newlines) + 1
    if policy.min_run:
        folded, run_folds = _fold_runs(folded, starts, total_lines, context, policy)
        folds = sorted(folds + run_folds, key=lambda f: (f.first_line, f.last_line))
    return Result(folded, "html", not folds, tuple(folds))


def _line_of(newlines: list[int], pos: int) -> int:
    """1-based line number of character `pos`."""
    return bisect.bisect_left(newlines, pos) + 1


def _fold_blocks(text: str, newlines: list[int], policy: MarkupPolicy) -> tuple[str, list[int], list[Fold]]:
    """Replace bulky block bodies by notes. Returns the new text, the original line number at
    which each of its lines starts, and the folds."""
    pieces: list[str] = []
    starts = [1]
    folds: list[Fold] = []
    kept_from = 0

    def keep(a: int, b: int) -> None:
        pieces.append(text[a:b])
        for nl in newlines[bisect.bisect_left(newlines, a) : bisect.bisect_left(newlines, b)]:
            starts.append(_line_of(newlines, nl + 1))

    for match in BLOCKS.finditer(text):
        if match.group(1):
            body_group, unit = 2, "comment"
            detail = f"{len(match.group(2).split()):,} words"
            minimum = policy.min_block
        elif match.group(4):
            body_group, unit = 6, match.group(5).lower()
            detail = f"{len(match.group(6)):,} chars"
            minimum = policy.min_block
        else:
            body_group, unit = 9, "data URI"
            detail = f"{len(match.group(9)):,} chars"
            minimum = policy.min_data_uri
        a, b = match.span(body_group)
        if b - a < minimum:
            continue
        note = fold_note(1, unit, detail)
        keep(kept_from, a)
        pieces.append(note)
        folds.append(Fold(_line_of(newlines, a), _line_of(newlines, max(a, b - 1)), note))
        kept_from = b
    if not folds:
        return text, list(range(1, len(newlines) + 2)), []
    keep(kept_from, len(text))
    return "".join(pieces), starts, folds


def skeleton(line: str) -> str:
    """A line's tag structure with attribute values and text removed ("" for tagless lines)."""
    first, last = line.find("<"), line.rfind(">")
    if first < 0 or last < first:
        return ""
    shape = _ATTR_VALUE.sub("=", line[first : last + 1])
    return _TEXT.sub("><", shape)


def _fold_runs(
    text: str, starts: list[int], total_lines: int, context: Context, policy: MarkupPolicy
) -> tuple[str, list[Fold]]:
    """Fold the middle of each long run of same-skeleton lines, keeping salient lines."""
    lines = text.split("\n")
    shapes = [skeleton(line) if _tag_dominated(line) and not NOTE_PATTERN.search(line) else "" for line in lines]
    terms = query_terms(context.query)
    out: list[str] = []
    folds: list[Fold] = []
    i = 0
    while i < len(lines):
        j = _run_end(shapes, lines, i)
        members = [k for k in range(i, j) if lines[k].strip()]
        if len(members) >= policy.min_run:
            keep = set(members[:RUN_HEAD] + members[-RUN_TAIL:])
            keep.update(k for k in members if _salient(lines[k], terms))
            out.extend(_fold_gaps(lines, i, j, keep, shapes[i], starts, total_lines, folds, policy))
        else:
            out.extend(lines[i:j])
        i = max(j, i + 1)
    return "\n".join(out), folds


def _run_end(shapes: list[str], lines: list[str], i: int) -> int:
    """End of the run of same-skeleton lines (blank lines allowed inside) starting at i."""
    shape = shapes[i]
    if not shape:
        return i + 1
    j = i + 1
    last = i
    while j < len(lines) and (shapes[j] == shape or not lines[j].strip()):
        if shapes[j] == shape:
            last = j
        j += 1
    return last + 1


def _tag_dominated(line: str) -> bool:
    """Whether a line is mostly markup: lines that are mostly text are content and never fold."""
    text = replace_tags(line, "").strip()
    return len(text) <= 0.6 * len(line.strip())


def _salient(line: str, terms: frozenset[str]) -> bool:
    """A selected/current item, an error, or the user's words in a value or text (tag names,
    which every line of a run shares, do not count)."""
    if _SALIENT.search(line) or is_error_line(line):
        return True
    values = " ".join(_ATTR_VALUE.findall(line)) + " " + replace_tags(line, " ")
    return mentions(values, terms)


def _fold_gaps(
    lines: list[str],
    i: int,
    j: int,
    keep: set[int],
    shape: str,
    starts: list[int],
    total_lines: int,
    folds: list[Fold],
    policy: MarkupPolicy,
) -> list[str]:
    """Lines i..j of a run: kept lines as they are, each gap between them as one note (added
    to `folds` with the original line numbers from `starts`)."""
    out: list[str] = []
    k = i
    tag = _TAG_NAME.search(shape)
    label = f"<{tag.group(1)}>" if tag else "similar line"
    while k < j:
        if k in keep:
            out.append(lines[k])
            k += 1
            continue
        m = k
        while m < j and m not in keep:
            m += 1
        gap = lines[k:m]
        n_items = sum(1 for line in gap if line.strip())
        if sum(len(line) + 1 for line in gap) < policy.min_run_saving or n_items < 2:
            out.extend(gap)
        else:
            note = fold_note(m - k, "line", f"{label} ×{n_items:,}")
            out.append(note)
            first = starts[k]
            last = (starts[m] - 1) if m < len(starts) else total_lines
            folds.append(Fold(first, last, note))
        k = m
    return out

