"""The retrieve tool: its description and schema, the marker format, and its answers.

A compressor's fold note (`[… 1,240 lines folded]`, see compressors/notes.py) becomes a marker
by naming the stored original: `[… 1,240 lines folded · retrieve id=0123456789abcdef01234567]`.
One format, parsed by MARKER_ID. Each provider writes the tool in its own format
(`Provider.tool_definition`) as a constant string, so every request of a conversation
carries exactly the same bytes (prompt caches are byte-keyed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from compressors.notes import NOTE_PATTERN
from compressors.numbered_lines import split_numbered
from compressors.types import Fold


TOOL_NAME = "headroom_retrieve"
ID_RE = r"[0-9a-f]{24}"
RANGE_RE = r"\d+-\d+"
# A marker names the stored original and, for a fold whose lines are known, the fold's own id:
# `<original id>:<first>-<last>`, whose answer is exactly the lines it folded.
MARKER_ID = re.compile(r"\[… [^\]\n]* folded(?::[^\]\n]*)? · retrieve id=(" + ID_RE + r")(?::" + RANGE_RE + r")?\]")
RETRIEVE_ID = re.compile(r"retrieve id=(" + ID_RE + r")")  # any note naming an original (folds, images)
FOLD_ID = re.compile(r"\A(" + ID_RE + r")(?::(\d+)-(\d+))?\Z")
LINES = re.compile(r"\A\s*(\d+)\s*(?:-\s*(\d+)\s*)?\Z")
MAX_ANSWER_TOKENS = 8_000  # one answer at most (≈ chars / 4); the rest is asked for by range
CHARS_PER_TOKEN = 4
QUERY_CONTEXT_LINES = 1

DESCRIPTION = (
    "Fetch content that was folded out of an earlier tool result to save context. Folded parts "
    "are marked like `[… 120 lines folded · retrieve id=<id>]`. Call this with that id to get "
    "exactly the folded lines back, with their line numbers in the original. Pass `lines` (e.g. "
    "`200-260`) for a range of the original, or `query` for only the lines that contain it. Long "
    "answers come in parts, each saying which range to ask for next."
)
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "The id from a `retrieve id=…` marker."},
        "lines": {"type": "string", "description": "Optional: a line range of the original, like 200-260."},
        "query": {"type": "string", "description": "Optional: return only lines containing this text."},
    },
    "required": ["id"],
}


def unique_name(existing: Iterable[str]) -> str:
    """headroom_retrieve, or a distinct variant when the client already uses that name."""
    taken = set(existing)
    if TOOL_NAME not in taken:
        return TOOL_NAME
    n = 2
    while f"{TOOL_NAME}_{n}" in taken:
        n += 1
    return f"{TOOL_NAME}_{n}"


def add_markers(text: str, original_id: str, folds: Sequence[Fold] = ()) -> str:
    """Turn every fold note in a compressor's output into a marker naming the original. A note
    whose fold (in order, by its note text) says which lines it stands for gets that fold's own
    id, `<original id>:<first>-<last>`."""
    pending = list(folds)

    def marker(match: re.Match) -> str:
        note = match.group(0)
        fold_id = original_id
        while pending and pending[0].note != note:  # a fold whose note was merged or reworded
            pending.pop(0)
        if pending:
            fold = pending.pop(0)
            if 0 < fold.first_line <= fold.last_line:
                fold_id = f"{original_id}:{fold.first_line}-{fold.last_line}"
        return note[:-1] + f" · retrieve id={fold_id}]"

    return NOTE_PATTERN.sub(marker, text)


def marker_ids(text: str) -> list[str]:
    """The original ids named by markers in a text, in order, without repeats."""
    return list(dict.fromkeys(MARKER_ID.findall(text)))


def parse_fold_id(value: str) -> tuple[str, tuple[int, int] | None]:
    """`<original id>` or `<original id>:<first>-<last>` → (original id, line range or None);
    anything else comes back as it is (the store answers that it does not know it)."""
    match = FOLD_ID.match(value.strip())
    if match is None:
        return value, None
    if match.group(2) is None:
        return match.group(1), None
    return match.group(1), (int(match.group(2)), int(match.group(3)))


def parse_lines(value: str | None) -> tuple[int, int] | None:
    """`200-260` or `200` → (200, 260) / (200, 200); None for no or an unreadable range."""
    match = LINES.match(value or "")
    if match is None:
        return None
    first = int(match.group(1))
    return first, int(match.group(2) or first)


def answer(text: str | None, query: str | None, status: str, lines: tuple[int, int] | None = None, fold_id: str = "") -> str:
    """The tool result the model gets: a range of the original's lines (numbered), the lines
    matching `query` (within the range, if one is given), or why not. An answer stops at
    MAX_ANSWER_TOKENS and says which range to ask for next."""
    if status != "ok" or text is None:  # "forbidden" too: whether another key's id exists is not said
        return "The original has expired or the id is unknown. Re-run the tool to see its output again."
    all_lines = text.split("\n")
    first, last = lines or (1, len(all_lines))
    first, last = max(1, first), min(len(all_lines), last)
    if first > last:
        return f"The original has {len(all_lines):,} lines; ask for a range within 1-{len(all_lines)}."
    if query:
        return _matching_lines(all_lines, query, first, last)
    return _line_range(all_lines, first, last, fold_id)


def _line_range(lines: list[str], first: int, last: int, fold_id: str) -> str:
    budget = MAX_ANSWER_TOKENS * CHARS_PER_TOKEN
    numbered = split_numbered("\n".join(lines[first - 1 : last]))  # a Read's lines carry their own numbers
    out: list[str] = []
    used = 0
    for n in range(first, last + 1):
        line = lines[n - 1] if numbered else f"{n}: {lines[n - 1]}"
        if out and used + len(line) + 1 > budget:
            rest = f"{n}-{last}"
            return _head(first, n - 1, len(lines)) + "\n".join(out) + (
                f"\n[… lines {rest} follow; call again with lines={rest}" + (f" and id={fold_id}" if fold_id else "") + "]"
            )
        out.append(line if len(line) <= budget else line[:budget] + " [… line cut]")
        used += len(out[-1]) + 1
    return _head(first, last, len(lines)) + "\n".join(out)


def _head(first: int, last: int, total: int) -> str:
    return f"lines {first}-{last} of {total:,}:\n"


def _matching_lines(lines: list[str], query: str, first: int, last: int) -> str:
    needle = query.lower()
    hits = [i for i in range(first - 1, last) if needle in lines[i].lower()]
    where = f"lines {first}-{last}" if (first, last) != (1, len(lines)) else f"the original ({len(lines):,} lines)"
    if not hits:
        return f"No line of {where} contains {query!r}."
    shown: set[int] = set()
    for i in hits:
        shown.update(range(max(first - 1, i - QUERY_CONTEXT_LINES), min(last, i + QUERY_CONTEXT_LINES + 1)))
    out, previous, used = [], None, 0
    budget = MAX_ANSWER_TOKENS * CHARS_PER_TOKEN
    for i in sorted(shown):
        if previous is not None and i != previous + 1:
            out.append("…")
        line = f"{i + 1}: {lines[i]}"
        if used + len(line) > budget:
            out.append(f"[… more matches after line {i}; ask for lines={i + 1}-{last} with this query]")
            break
        out.append(line)
        used += len(line) + 1
        previous = i
    return f"{len(hits):,} matching lines of {len(lines):,}:\n" + "\n".join(out)
