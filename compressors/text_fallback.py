"""Plain prose, statistically: keep the clauses that carry the most, fold the rest.

The fast extractive compressor for text with no structure (documentation, issue threads, pasted
chat), and the model's stand-in when the model is absent or the input is too long for it. It never
rewrites: the text is cut into units (clauses of prose sentences, whole lines otherwise), the best
are kept verbatim in their original order until the budget is spent, and every removed run becomes
one fold note (`[… 3 sentences folded]`).

Scores: what an agent quotes back is a name or a value, so each unit is worth the terms it holds,
weighed by shape (paths, dotted names, snake_case and camelCase identifiers above numbers and
CONSTANTS, those above plain words, stopwords nothing), each term counted once: a unit whose terms
are already kept elsewhere earns nothing for them (a greedy set cover, so the kept text is diverse,
not ten copies of the same traceback frame). Lines that report an error or name the user's query
terms, and the text's opening, paragraph starts and end, add a bonus. The result lands at the keep
ratio (fold notes included).

The segmentation, the cover, the bonuses and the budget fitting are shared with the model path
(`compressors.text_model`), which gives each term the worth its head scores there.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from compressors.notes import fold_note
from compressors.relevance import is_error_line, mentions, query_terms
from compressors.types import Context, Fold, Result

# A removed run shorter than this (chars) is kept: its note would cost about as much.
MIN_FOLD_CHARS = 48
# Below this many chars a text is returned as it is: too little to gain.
MIN_TEXT_CHARS = 400
# Compression must save at least this share, or the text is returned whole.
MIN_SAVING = 0.2
DOMINANT_UNIT = 0.5  # a unit holding more than this share of the text leaves the text whole
# How far above its keep ratio (share of the text's chars) a result may land.
_SLACK = 0.02

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9`*_-])")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|\s+(?=(?:but|however|although|because|which|while|whereas)\b)")
WORD_RE = re.compile(r"[A-Za-z_][\w'\-]*[\w]|[A-Za-z_]|\d[\d.,:]*")

_STOP = frozenset(
    """a an and are as at be been but by for from has have he her his i if in into is it its of on or our
    she so that the their them then there these they this to was we were what when which who will with
    would you your can could should may might do does did not no than also just more most some such
    any all each other about over after before very""".split()
)

# The terms a unit holds: words, numbers, and names with their dots, slashes and dashes kept whole.
TERM_RE = re.compile(r"\w[\w./@:#%+\-]*\w|\w")
_NUMERIC = re.compile(r"[\d.,:]+")
_CAMEL = re.compile(r"[a-z][A-Z]|^[A-Z][a-z0-9]+[A-Z]")
_CONSTANT = re.compile(r"[A-Z0-9_]{2,}")
# What each shape of term is worth (chosen on the dev split; within a point of each other there,
# since the cover, not the weights, does most of the work).
NAME_WEIGHT, VALUE_WEIGHT, CAPITALISED_WEIGHT, WORD_WEIGHT = 1.5, 1.0, 0.6, 0.5
# Bonuses on top of a unit's terms: an error line or a line naming the query is worth about one more
# identifier; a first unit, a paragraph start or the last unit a little (a bonus, not a first claim:
# on dev, keeping them first cost 4-6 points of needles, as tracebacks are error lines throughout).
ERROR_BONUS, QUERY_BONUS, POSITION_WEIGHT = 1.0, 1.0, 0.3


@dataclass(frozen=True)
class Unit:
    """A span of the text that is kept or folded as a whole: [start, end) in characters."""

    start: int
    end: int
    whole_line: bool  # the unit is a full line (folded runs of these count as lines)


def segment(text: str, clauses: bool = False) -> list[Unit]:
    """Units covering every non-blank stretch of `text`: sentences of prose paragraphs (wrapped
    lines joined, so a sentence across a line break is one unit), whole lines otherwise; with
    `clauses`, long sentences are cut further at commas and conjunctions."""
    units: list[Unit] = []
    for start, end, prose in _blocks(text):
        pieces = _split(text, start, end, _SENTENCE_END) if prose else [(start, end)]
        if clauses:
            pieces = [c for s, e in pieces for c in _split_clauses(text, s, e)]
        for s, e in pieces:
            whole = (s == 0 or text[s - 1] == "\n") and (e == len(text) or text[e] == "\n") and "\n" not in text[s:e]
            units.append(Unit(s, e, whole))
    return units


def _blocks(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_prose) spans: each prose paragraph (consecutive wrapped prose lines) is one
    block, every other non-blank line is a block of its own. Spans exclude edge whitespace."""
    blocks: list[tuple[int, int, bool]] = []
    offset, in_fence, joinable = 0, False, False
    for line in text.split("\n"):
        stripped = line.strip()
        start, end = offset + len(line) - len(line.lstrip()), offset + len(line.rstrip())
        offset += len(line) + 1
        if stripped.startswith("```"):
            in_fence = not in_fence
        prose = bool(stripped) and not in_fence and _is_prose(stripped)
        if not stripped:
            joinable = False
            continue
        if prose and joinable and not stripped.startswith(("- ", "* ")):
            blocks[-1] = (blocks[-1][0], end, True)  # a wrapped continuation of the paragraph
        else:
            blocks.append((start, end, prose))
        joinable = prose
    return blocks


def _is_prose(line: str) -> bool:
    """A line of running text (several words, mostly letters), not a table row or code."""
    if line[:2] in ("| ", "$ ", ">>") or line.startswith("#"):
        return False
    return len(line) >= 40 and line.count(" ") >= 5 and sum(c.isalpha() or c == " " for c in line) >= 0.7 * len(line)


def _split(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    pieces, cursor = [], start
    for match in pattern.finditer(text, start, end):
        if match.start() > cursor:
            pieces.append((cursor, match.start()))
        cursor = match.end()
    if cursor < end:
        pieces.append((cursor, end))
    return pieces


def _split_clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut a sentence at clause boundaries, but only into clauses of 5+ words (shorter ones
    stay with their neighbour: a note would cost more than they hold)."""
    if end - start < 80:
        return [(start, end)]
    out: list[tuple[int, int]] = []
    spaces = 0  # spaces in the last clause of `out`, kept up to date as it grows (no recount)
    for s, e in _split(text, start, end, _CLAUSE_END):
        if out and (spaces < 4 or text.count(" ", s, e) < 4):
            spaces += text.count(" ", out[-1][1], e)
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
            spaces = text.count(" ", s, e)
    return out


@lru_cache(maxsize=1 << 16)
def term_weight(term: str) -> float:
    """How likely an agent is to quote `term` back, by its shape alone."""
    if len(term) < 2:
        return 0.0
    if term.isdigit() or _NUMERIC.fullmatch(term):
        return VALUE_WEIGHT
    if "/" in term or "_" in term or ("." in term and not term.replace(".", "").isdigit()) or _CAMEL.search(term):
        return NAME_WEIGHT
    if _CONSTANT.fullmatch(term):
        return VALUE_WEIGHT
    if term.lower() in _STOP:
        return 0.0
    if term[0].isupper():
        return CAPITALISED_WEIGHT
    return VALUE_WEIGHT if any(c.isdigit() for c in term) else WORD_WEIGHT


def cover(costs: Sequence[int], terms: Sequence[Collection[str]], bonus: Sequence[float], budget: int,
          length_power: float = 0.5) -> list[bool]:
    """The units to keep within `budget` chars, greedily: each step takes the unit with the most
    not-yet-kept term weight (plus its bonus) per cost**length_power that still fits. A unit's
    terms are a set (each weighed by its shape, `term_weight`) or a mapping from term to its worth
    in that unit (the model's scores). A unit's gain only shrinks as others are kept, so stale heap
    entries are re-scored lazily."""
    keep = [False] * len(costs)
    covered: set[str] = set()
    spent = 0

    def priority(i: int) -> float:
        mine = terms[i]
        if isinstance(mine, Mapping):
            gain = bonus[i] + sum(w for t, w in mine.items() if t not in covered)
        else:
            gain = bonus[i] + sum(term_weight(t) for t in mine if t not in covered)
        return -gain / max(costs[i], 20) ** length_power

    heap = [(priority(i), i) for i in range(len(costs))]
    heapq.heapify(heap)
    while heap:
        _, i = heapq.heappop(heap)
        current = (priority(i), i)
        if heap and current > heap[0]:  # it lost gain since it was pushed: queue it again
            heapq.heappush(heap, current)
            continue
        if spent + costs[i] <= budget:
            keep[i] = True
            spent += costs[i]
            covered.update(terms[i])
    return keep


def position_bonus(text: str, units: Sequence[Unit]) -> list[float]:
    """Openings and endings carry topic and conclusion: first/last unit, paragraph starts."""
    bonus = [0.0] * len(units)
    if not units:
        return bonus
    bonus[0] += 1.0
    bonus[-1] += 0.5
    for i in range(1, len(units)):
        gap = text[units[i - 1].end : units[i].start]
        if gap.count("\n") >= 2:  # a blank line: a new paragraph
            bonus[i] += 0.4
    return bonus


def fit_selection(text: str, units: Sequence[Unit], keep_ratio: float, choose: Callable[[int], Sequence[bool]],
                  kind: str = "text") -> Result:
    """The text cut to about `keep_ratio` of its characters, fold notes included: choose units
    for a budget (chars), render, and while the rendered text (notes, kept short runs, gaps)
    overshoots, shrink the budget by the overshoot and choose again."""
    target = keep_ratio * len(text)
    budget = keep_ratio * sum(u.end - u.start for u in units)
    result = Result(text, kind, True, ())
    for _ in range(6):
        result = render(text, units, choose(int(budget)), kind)
        over = len(result.text) - target
        if over <= _SLACK * len(text) or budget <= 0:
            break
        budget -= over
    return result


def render(text: str, units: Sequence[Unit], keep: Sequence[bool], kind: str) -> Result:
    """The text with each run of unkept units replaced by one fold note; short runs stay."""
    keep = list(keep)
    runs = _runs(units, keep)
    for first, last in runs:  # a run too short to be worth a note is kept
        if units[last].end - units[first].start < MIN_FOLD_CHARS:
            keep[first : last + 1] = [True] * (last - first + 1)
    runs = _runs(units, keep)
    if not runs:
        return Result(text, kind, True, ())
    pieces, folds, cursor = [], [], 0
    newlines = 0  # newlines in text[:cursor], counted on as the runs advance (linear, not per run)
    for first, last in runs:
        start, end = units[first].start, units[last].end
        count = last - first + 1
        unit = "line" if all(u.whole_line for u in units[first : last + 1]) else "sentence"
        note = fold_note(count, unit)
        pieces.append(text[cursor:start])
        pieces.append(note)
        line_first = newlines + text.count("\n", cursor, start) + 1
        inside = text.count("\n", start, end)
        folds.append(Fold(line_first, line_first + inside, note))
        newlines = line_first - 1 + inside
        cursor = end
    pieces.append(text[cursor:])
    return Result("".join(pieces), kind, False, tuple(folds))


def _runs(units: Sequence[Unit], keep: Sequence[bool]) -> list[tuple[int, int]]:
    runs, i = [], 0
    while i < len(units):
        if keep[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(units) and not keep[j + 1]:
            j += 1
        runs.append((i, j))
        i = j + 1
    return runs


def one_unit_dominates(text: str, units: Sequence[Unit]) -> bool:
    """Whether a single unit holds most of the text (a line that is one long JSON array or list
    of names, under a short heading): any cut to the keep ratio drops that unit whole, and with
    it all the data, so the text is better left whole."""
    return max((u.end - u.start for u in units), default=0) > DOMINANT_UNIT * len(text)


def finish(text: str, result: Result) -> Result:
    """Return the text whole unless the result saves at least MIN_SAVING of it."""
    if len(result.text) > (1 - MIN_SAVING) * len(text):
        return Result(text, result.kind, True, ())
    return result


def compress_text_fallback(text: str, context: Context, keep_ratio: float = 0.5) -> Result:
    """Keep about `keep_ratio` of the text's characters (fold notes included), whole clauses and
    lines in order, chosen to cover the most distinct names and values; lossy."""
    if len(text) < MIN_TEXT_CHARS or keep_ratio >= 1:
        return Result(text, "text", True, ())
    units = segment(text, clauses=True)
    if len(units) < 3 or one_unit_dominates(text, units):
        return Result(text, "text", True, ())
    chunks = [text[u.start : u.end] for u in units]
    terms = [frozenset(TERM_RE.findall(chunk)) for chunk in chunks]
    query = query_terms(context.query)
    bonus = unit_bonus(text, units, chunks, query, POSITION_WEIGHT)
    costs = [u.end - u.start for u in units]
    return finish(text, fit_selection(text, units, keep_ratio, lambda budget: cover(costs, terms, bonus, budget)))


def unit_bonus(text: str, units: Sequence[Unit], chunks: Sequence[str], query: frozenset[str],
               position_weight: float) -> list[float]:
    """What a unit earns besides its terms: reporting an error, naming the query, its position."""
    return [
        position_weight * p + ERROR_BONUS * is_error_line(chunk) + QUERY_BONUS * mentions(chunk, query)
        for chunk, p in zip(chunks, position_bonus(text, units))
    ]
