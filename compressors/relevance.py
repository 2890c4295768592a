"""What makes a line worth keeping whatever the compressor: errors, and the user's own words."""

from __future__ import annotations

import re

# Words that mark a line a model will need: failures, errors, refusals.
ERROR_RE = re.compile(
    r"\b(error|errors|exception|traceback|fail|failed|failure|failures|fatal|panic|panicked|critical|"
    r"denied|forbidden|unauthori[sz]ed|timeout|timed out|refused|abort(ed)?|segfault|warning|warn|"
    r"assert(ion)?(error)?|not found|no such|cannot|can't|unable|invalid|undefined|missing|deprecated)\b",
    re.IGNORECASE,
)
_TERM_RE = re.compile(r"[A-Za-z_][\w.\-/]*[\w]|\d{3,}")
_STOPWORDS = frozenset(
    """this that with from have what when where which there their about would could should into
    than then them they were been being does done also just like make made only some such very
    will your you the and for are not but can all any how its our out use used using file files
    code line lines test tests error errors issue issues function functions class value values
    return returns none true false self string number list dict type types data name names
    expected actual output input example description problem currently following""".split()
)


def query_terms(query: str, limit: int = 64) -> frozenset[str]:
    """Distinctive words of the user's query (identifiers, paths, numbers), lower-cased."""
    terms: list[str] = []
    for match in _TERM_RE.finditer(query or ""):
        term = match.group(0).lower().strip(".-/")
        if len(term) >= 4 and term not in _STOPWORDS and term not in terms:
            terms.append(term)
            if len(terms) >= limit:
                break
    return frozenset(terms)


def mentions(line: str, terms: frozenset[str]) -> bool:
    """Whether a line contains any of the terms (case-insensitive substring)."""
    if not terms:
        return False
    lower = line.lower()
    return any(term in lower for term in terms)


def is_error_line(line: str) -> bool:
    """Whether a line reports an error, failure or warning."""
    return ERROR_RE.search(line) is not None
