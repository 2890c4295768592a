"""Web search results as records: WebSearch's `Links: [{title, url}…]` and the Title/URL/Content
records of search tools (Tavily-, Exa-, book-search-style MCP tools).

A model cites what it found next: titles, URLs, ids, dates and scores. Those lines are kept
every one, as is the `Links:` list; only a record's long content (a page extract, a snippet, a
summary paragraph) is trimmed, to its first sentence and the sentences that use the request's
words, the rest folded into a note on the same line. Everything else stays as it was.
"""

from __future__ import annotations

import re

from compressors.notes import fold_note
from compressors.relevance import mentions, query_terms
from compressors.types import Context, Fold, Result

FIELD = re.compile(
    r"^\s*(?:[-*]\s*)?(title|url|link|links|source|id|published(?: date)?|date|author|score|relevance|domain)\s*:", re.IGNORECASE
)
URL = re.compile(r"https?://\S+")
RECORD_START = re.compile(r"^\s*(?:[-*]\s*)?(title|url)\s*:", re.IGNORECASE)
WEB_SEARCH = re.compile(r"\AWeb search results for query:|^Links: \[\{", re.MULTILINE)
CONTENT_MIN_CHARS = 320  # shorter content lines are kept whole
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def looks_like_records(text: str) -> bool:
    """WebSearch output, or at least two Title/URL records with a link in them."""
    if WEB_SEARCH.search(text[:4096]):
        return True
    head = text[:20000].split("\n")
    return sum(bool(RECORD_START.match(line)) for line in head) >= 4 and URL.search(text[:20000]) is not None


def compress_records(text: str, context: Context) -> Result:
    """Keep every field and link line; trim long content lines to their useful sentences."""
    terms = query_terms(context.query)
    out: list[str] = []
    folds: list[Fold] = []
    for number, line in enumerate(text.split("\n"), 1):
        if len(line) < CONTENT_MIN_CHARS or FIELD.match(line) or line.lstrip().startswith("Links: ["):
            out.append(line)
            continue
        trimmed, dropped = _trim(line, terms)
        if not dropped:
            out.append(line)
            continue
        note = fold_note(dropped, "sentence")
        out.append(f"{trimmed} {note}")
        folds.append(Fold(number, number, note))
    return Result("\n".join(out), "records", not folds, tuple(folds))


def _trim(line: str, terms: frozenset[str]) -> tuple[str, int]:
    """The line's first sentence and those with the request's words (or a link); how many went."""
    sentences = _SENTENCE.split(line)
    if len(sentences) < 3:
        return line, 0
    kept = [s for k, s in enumerate(sentences) if k == 0 or mentions(s, terms) or URL.search(s)]
    return " ".join(kept), len(sentences) - len(kept)
