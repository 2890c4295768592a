"""A prose or markdown file read with its line numbers (Claude Code's Read of a README, a plan,
notes): keep its opening and ending, every heading and every line that uses the request's
words; fold the runs between them, each note saying which lines it stands for.

The line numbers travel with every kept line (the router puts them back), so the model can cite
a line, Read a range again or fetch a fold by its id. Files of at most MIN_LINES lines are kept
whole. Tuned on the training sessions of the Claude Code corpus (prose Reads of at least 4,000
characters): with 100 opening and 20 closing lines it kept 10 of 11 needles where a head+tail
cut of the same size kept 9 (38% fewer tokens); held out, 21 of 21 against 20 (22% fewer).
Shorter openings saved more and lost to head+tail on one split or the other.
"""

from __future__ import annotations

import re

from compressors.lines import Keep, Selection, fold_unkept
from compressors.relevance import mentions, query_terms
from compressors.types import Context

HEAD_LINES = 100
TAIL_LINES = 20
MIN_LINES = 150  # shorter files are kept whole
MIN_FOLD = 3  # a shorter run between kept lines is kept too
_HEADING = re.compile(r"^\s{0,3}(#{1,6}\s|[-=]{3,}\s*$)|^\s*\S[^.!?]{0,80}:\s*$")


def select_document(lines: list[str], context: Context) -> Selection:
    """Keep the ends, the headings and the lines with the request's words; fold the rest."""
    return document_selection(lines, query_terms(context.query))


def document_selection(lines: list[str], terms: frozenset[str]) -> Selection:
    """The selection for a prose document's lines given the request's distinctive terms (also
    used for a document held in a JSON string: an issue's body, a wiki page)."""
    if len(lines) <= MIN_LINES:
        return [Keep(0, len(lines))]
    n = len(lines)
    keep = [i < HEAD_LINES or i >= n - TAIL_LINES or bool(_HEADING.match(line)) or mentions(line, terms) for i, line in enumerate(lines)]
    return fold_unkept(lines, keep, min_fold=MIN_FOLD)
