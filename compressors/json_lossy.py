"""The lossy half of the JSON compressor: which items of a table to keep, what a fold says,
and how long strings and deep nesting shrink.

Kept items: the first and last few; items with a rare value of a categorical field; numeric
outliers by robust score (median / MAD); items with error words; items naming the user's
query terms or IDs; items with an unusual set of keys. The rest fold into
`[… 412 items folded: status=ok]` notes, whose detail says what the folded items held.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from statistics import median
from typing import Any

from compressors.json_table import Column, Table
from compressors.json_values import dumps, is_number, scalar_text, value_key
from compressors.detect import kind_from_content
from compressors.document_lines import document_selection
from compressors.lines import Note, render
from compressors.notes import fold_note
from compressors.relevance import ERROR_RE, query_terms

HEAD_ITEMS, TAIL_ITEMS = 3, 2
MIN_FOLDABLE = HEAD_ITEMS + TAIL_ITEMS + 4  # smaller tables are kept whole
RARE_SHARE, RARE_COUNT = 0.02, 3  # a value in fewer items than this is rare
RARE_PER_VALUE = 5  # items kept per rare value
CATEGORICAL_MAX = 24  # a field with at most this many distinct values is categorical
OUTLIER_SCORE = 3.5  # modified z-score (Iglewicz and Hoaglin)
OUTLIERS_PER_COLUMN = 5
ERRORS_PER_VALUE = 5  # items kept for one frequent error value ("status": "failed")
QUERY_SHARE = 0.05  # a query term found in more items than this is not distinctive
LONG_STRING = 400  # longer strings are shortened (unless they are content: `content_kind`)
CONTENT_KINDS = ("text", "code")
CONTENT_MIN_LINES = 3  # a one-line summary or message is still shortened
STRING_HEAD, STRING_TAIL = 160, 60
BLOB_HEAD = 24
MAX_STRING_LINES = 12  # error or query lines kept from inside one long string
MAX_LINE = 300  # longer lines are never kept whole for relevance
MIN_GAP = 40  # shorter gaps in a long string are kept
MAX_DEPTH = 5  # containers nested deeper than this are summarised
SUMMARY_MIN = 160  # ...when their JSON is at least this long

_ID_COLUMN = re.compile(r"(^|[._-])(id|uuid|guid|key|sha|number|num|slug|name|login|email|code|ref)$|[a-z]Id$", re.I)
_QUERY_WORD = re.compile(r"[\w][\w.:/@-]*")
_BLOB = re.compile(r"[A-Za-z0-9+/=_\-\r\n]+\Z")  # base64 (maybe wrapped), hex, tokens
# The shared error pattern is case-insensitive; on text lower-cased once, a case-sensitive
# copy finds the same words more than twice as fast.
_ERROR_LOWER = re.compile(ERROR_RE.pattern, ERROR_RE.flags & ~re.IGNORECASE)


def _literal_prefixes(pattern: str) -> tuple[str, ...] | None:
    """The literal start of every alternative of a `\\b(a|b|...)\\b` pattern: a match can only
    begin where one of them occurs. None when the pattern has another shape."""
    match = re.fullmatch(r"\\b\((.*)\)\\b", pattern, re.DOTALL)
    if match is None:
        return None
    alternatives, depth, current = [], 0, ""
    for char in match.group(1):
        depth += (char == "(") - (char == ")")
        if char == "|" and depth == 0:
            alternatives.append(current)
            current = ""
        else:
            current += char
    prefixes = set()
    for alternative in [*alternatives, current]:
        literal = re.match(r"[a-z' ]*", alternative).group(0)
        if alternative[len(literal) : len(literal) + 1] in ("?", "*", "{"):
            literal = literal[:-1]  # the last letter is optional
        if len(literal) < 3:
            return None
        prefixes.add(literal)
    return tuple(sorted(p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)))


_ERROR_PREFIXES = _literal_prefixes(ERROR_RE.pattern)


@dataclass(frozen=True)
class Relevance:
    """What the user asked about: distinctive query terms and every word of the query."""

    terms: frozenset[str]
    words: frozenset[str]

    @classmethod
    def from_query(cls, query: str) -> Relevance:
        words = frozenset(w.strip(".:/-") for w in _QUERY_WORD.findall(query or ""))
        return cls(query_terms(query), frozenset(w for w in words if w))

    def hit(self, text: str) -> bool:
        """Whether a text has an error word or a query term (worth keeping whole)."""
        lower = text.lower()
        return ERROR_RE.search(text) is not None or any(term in lower for term in self.terms)


# --- choosing the items to keep ----------------------------------------------------------


def select_lines(table: Table, texts: list[str], relevance: Relevance) -> list[bool]:
    """Which of a table's lines (items) to keep; `texts` are their lossless renderings."""
    n = len(texts)
    keep = [False] * n
    if n < MIN_FOLDABLE:
        return [True] * n
    for i in (*range(HEAD_ITEMS), *range(n - TAIL_ITEMS, n)):
        keep[i] = True
    blob, starts = _joined(texts)
    lower = blob.lower()
    if len(lower) != len(blob):  # a few Unicode letters change length when lower-cased
        lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in blob)
    _mark_errors(lower, starts, keep)
    _mark_query(lower, starts, relevance.terms, keep)
    _mark_odd_shapes(table, keep)
    if not table.grouped:
        row_line = _row_lines(table)
        for column in table.columns:
            for row in _column_outliers(column, relevance.words):
                keep[row_line[row]] = True
    return keep


def _joined(texts: list[str]) -> tuple[str, list[int]]:
    starts, pos = [], 0
    for text in texts:
        starts.append(pos)
        pos += len(text) + 1
    return "\n".join(texts), starts


def _mark_errors(blob: str, starts: list[int], keep: list[bool]) -> None:
    """Items with error words (in the lower-cased `blob`); a frequent error value (every
    failed item) keeps only a few."""
    by_value: dict[str, list[int]] = {}
    for match in _error_matches(blob, starts):
        line = bisect_right(starts, match.start()) - 1
        end = starts[line + 1] - 1 if line + 1 < len(starts) else len(blob)
        left = blob.rfind('"', starts[line], match.start())
        right = blob.find('"', match.end(), end)
        value = blob[left + 1 : right] if left >= 0 and right >= 0 else match.group(0)
        lines = by_value.setdefault(value, [])
        if not lines or lines[-1] != line:
            lines.append(line)
    for lines in by_value.values():
        for line in lines[:ERRORS_PER_VALUE] if len(lines) > ERRORS_PER_VALUE else lines:
            keep[line] = True


def _error_matches(blob: str, starts: list[int]) -> list[re.Match]:
    """Error-word matches in the lower-cased blob; the regex runs only on lines that hold a
    literal start of the pattern (str.find is far faster than the regex over the whole blob)."""
    if _ERROR_PREFIXES is None:
        return list(_ERROR_LOWER.finditer(blob))
    lines: set[int] = set()
    for prefix in _ERROR_PREFIXES:
        pos = blob.find(prefix)
        while pos >= 0:
            line = bisect_right(starts, pos) - 1
            lines.add(line)
            pos = blob.find(prefix, starts[line + 1] if line + 1 < len(starts) else len(blob))
    matches: list[re.Match] = []
    for line in sorted(lines):
        end = starts[line + 1] - 1 if line + 1 < len(starts) else len(blob)
        matches.extend(_ERROR_LOWER.finditer(blob, starts[line], end))
    return matches


def _mark_query(lower: str, starts: list[int], terms: frozenset[str], keep: list[bool]) -> None:
    """Items naming a query term, unless the term is in so many items that it tells none apart."""
    limit = max(RARE_COUNT, int(QUERY_SHARE * len(starts)))
    for term in sorted(terms):
        hits: list[int] = []
        pos = lower.find(term)
        while pos >= 0 and len(hits) <= limit:
            line = bisect_right(starts, pos) - 1
            hits.append(line)
            pos = lower.find(term, starts[line + 1] if line + 1 < len(starts) else len(lower))
        if len(hits) <= limit:
            for line in hits:
                keep[line] = True


def _mark_odd_shapes(table: Table, keep: list[bool]) -> None:
    odd = [i for i, span in enumerate(table.spans) if span is None]
    if odd and len(odd) < max(RARE_COUNT, RARE_SHARE * table.count):
        for i in odd:
            keep[i] = True


def _row_lines(table: Table) -> list[int]:
    line_of = [0] * table.rows
    for i, span in enumerate(table.spans):
        if span is not None:
            line_of[span[0]] = i
    return line_of


def _column_outliers(column: Column, words: frozenset[str]) -> list[int]:
    """Rows worth keeping for one column: rare values, numeric outliers, IDs the query names."""
    values = column.values
    keys = values if set(map(type, values)) == {str} else [value_key(v) for v in values]
    counts = Counter(keys)
    rows: list[int] = []
    n = len(values)
    if len(counts) <= CATEGORICAL_MAX and len(counts) * 4 <= n:
        rare = {key for key, c in counts.items() if c < RARE_COUNT or c < RARE_SHARE * n}
        taken: Counter = Counter()
        for row, key in enumerate(keys):
            if key in rare and taken[key] < RARE_PER_VALUE:
                taken[key] += 1
                rows.append(row)
    if all(is_number(v) for v in values):
        rows.extend(_numeric_outliers(values))
    if words and _ID_COLUMN.search(column.path[-1]):
        rows.extend(r for r, v in enumerate(values) if type(v) in (str, int) and str(v) in words)
    return rows


def _numeric_outliers(values: list[Any]) -> list[int]:
    xs = [float(v) for v in values]
    center = median(xs)
    spread = median(abs(x - center) for x in xs)
    if spread == 0:
        return []
    scored = [(0.6745 * abs(x - center) / spread, row) for row, x in enumerate(xs)]
    outliers = sorted((s for s in scored if s[0] > OUTLIER_SCORE), key=lambda s: (-s[0], s[1]))
    return [row for _, row in outliers[:OUTLIERS_PER_COLUMN]]


# --- what a fold note says ---------------------------------------------------------------


def fold_detail(table: Table, start: int, end: int) -> str:
    """A short summary of folded lines [start, end): the first field's range and the
    values of the categorical fields (`id 4…415; status=ok; region: eu 300, us 112`)."""
    if table.grouped:
        return ""
    rows = [span[0] for span in table.spans[start:end] if span is not None]
    if not rows or not table.columns:
        return ""
    parts: list[str] = []
    if table.keys is not None:
        low, high = scalar_text(table.keys[start], 40), scalar_text(table.keys[end - 1], 40)
        if low is not None and high is not None:
            parts.append(f"keys {low}…{high}")
    ranged = _range_column(table, rows)
    if ranged is not None and len(rows) > 1:
        low, high = scalar_text(ranged.values[rows[0]]), scalar_text(ranged.values[rows[-1]])
        parts.append(f"{ranged.name} {low}…{high}")
    for column in table.columns:
        if column is ranged:
            continue
        counts = Counter(value_key(column.values[r]) for r in rows)
        if len(counts) > 4 or (len(counts) > 1 and len(counts) * 4 > len(rows)):
            continue
        shown = [(scalar_text(column.values[_first_row(column, rows, key)]), c) for key, c in counts.most_common(3)]
        if any(text is None for text, _ in shown):
            continue
        if len(shown) == 1:
            parts.append(f"{column.name}={shown[0][0]}")
        else:
            parts.append(f"{column.name}: " + ", ".join(f"{text} {c:,}" for text, c in shown))
        if sum(map(len, parts)) > 90:
            break
    return "; ".join(parts)


def _range_column(table: Table, rows: list[int]) -> Column | None:
    """The column whose first and last folded values say best which items went: the first
    column if its values are short, else the first ID-like one."""
    candidates = [table.columns[0], *(c for c in table.columns[1:] if _ID_COLUMN.search(c.path[-1]))]
    for column in candidates:
        if scalar_text(column.values[rows[0]]) is not None and scalar_text(column.values[rows[-1]]) is not None:
            return column
    return None


def _first_row(column: Column, rows: list[int], key: Any) -> int:
    return next(r for r in rows if value_key(column.values[r]) == key)


# --- shrinking values --------------------------------------------------------------------


def shrink(value: Any, depth: int, relevance: Relevance, notes: list[str]) -> Any:
    """A value with long strings shortened and deep, large containers summarised."""
    kind = type(value)
    if kind is str:
        return shorten_string(value, relevance, notes) if len(value) > LONG_STRING else value
    if kind is not dict and kind is not list:
        return value
    if depth > MAX_DEPTH:
        text = dumps(value)
        if len(text) >= SUMMARY_MIN and not relevance.hit(text):
            note = _summary(value, text)
            notes.append(note)
            return note
    if kind is dict:
        return {k: shrink(v, depth + 1, relevance, notes) for k, v in value.items()}
    return [shrink(v, depth + 1, relevance, notes) for v in value]


def _summary(value: dict | list, text: str) -> str:
    if type(value) is dict:
        keys = list(value)
        shown = ", ".join(keys[:6]) + (", …" if len(keys) > 6 else "")
        return fold_note(1, "object", f"{len(keys)} keys ({shown}), {len(text):,} chars")
    return fold_note(len(value), "item", f"{len(text):,} chars")


def content_kind(text: str) -> str | None:
    """The kind ("text" or "code") of a string in a JSON document that is a document in its own
    right: several lines of prose, markdown or source code (an issue's body, a wiki page, a
    memory, a symbol's body); None for any other string. Such a string is read like a file
    (`read_as_file`): cutting it to its head and tail lost the needles the model used next
    (GitHub MCP comments on the Claude Code corpus)."""
    if text.count("\n") < CONTENT_MIN_LINES - 1 or _BLOB.match(text):
        return None
    kind = kind_from_content(text)
    return kind if kind in CONTENT_KINDS else None


def shorten_string(text: str, relevance: Relevance, notes: list[str]) -> str:
    """A long string's head and tail (whole lines where they fit), plus any of its lines with
    errors or query terms; each gap becomes a fold note. Content strings stay whole."""
    if _BLOB.match(text):
        note = fold_note(len(text) - BLOB_HEAD, "char", "base64 or binary data")
        notes.append(note)
        return text[:BLOB_HEAD] + note
    if (kind := content_kind(text)) is not None:
        return read_as_file(text, kind, relevance, notes)
    what = "html" if text.lstrip().startswith("<") and "</" in text else "text"
    out: list[str] = []
    position = 0
    for start, end in _kept_spans(text, relevance):
        if start - position < MIN_GAP:  # a note would cost about as much as the text
            start = position
        if start > position:
            note = fold_note(start - position, "char", what)
            notes.append(note)
            out.append(note + ("\n" if text[start - 1] == "\n" else ""))
        out.append(text[start:end])
        position = end
    return "".join(out)


def read_as_file(text: str, kind: str, relevance: Relevance, notes: list[str]) -> str:
    """A content string under the policy of a file Read: a long prose document keeps its
    opening and ending, headings and lines with the request's words (`document_lines`), as a
    Read of a markdown file does; source code stays whole, as the body of one symbol or a range
    the model chose does."""
    if kind != "text":
        return text
    lines = text.split("\n")
    selection = document_selection(lines, relevance.terms)
    if len(selection) == 1:
        return text
    notes.extend(item.text for item in selection if isinstance(item, Note))
    return render(lines, selection)


def _kept_spans(text: str, relevance: Relevance) -> list[tuple[int, int]]:
    """Character spans of a long string to keep: the head and tail within their budgets (cut
    inside a line only when its first or last line alone is over budget) and short lines
    with errors or query terms in between."""
    lines: list[tuple[int, int]] = []  # each line with its newline
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        lines.append((start, end))
        start = end
    head = 0
    for start, end in lines:
        if end > STRING_HEAD:
            if not head:  # the first line alone is over budget: cut it, unless it matters
                head = end if _relevant_line(text[start:end], relevance) else STRING_HEAD
            break
        head = end
    tail = len(text)
    for start, end in reversed(lines):
        if len(text) - start > STRING_TAIL:
            if tail == len(text):  # likewise for the last line
                tail = start if _relevant_line(text[start:end], relevance) else len(text) - STRING_TAIL
            break
        tail = start
    spans = [(0, head)]
    for start, end in lines:
        if start >= head and end <= tail and _relevant_line(text[start:end], relevance):
            spans.append((start, end))
            if len(spans) > MAX_STRING_LINES:
                break
    spans.append((max(tail, spans[-1][1]), len(text)))
    return spans


def _relevant_line(line: str, relevance: Relevance) -> bool:
    return len(line) <= MAX_LINE and relevance.hit(line)
