"""The retrieve tool: its description and schema, the marker format, and its answers.

A compressor's fold note (`[… 1,240 lines folded]`, see compressors/notes.py) becomes a marker
by naming the stored original: `[… 1,240 lines folded · retrieve id=0123456789abcdef01234567]`.
One format, parsed by MARKER_ID. Each provider writes the tool in its own format
(`Provider.tool_definition`) as a constant string, so every request of a conversation
carries exactly the same bytes (prompt caches are byte-keyed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from compressors.notes import NOTE_PATTERN


TOOL_NAME = "headroom_retrieve"
ID_RE = r"[0-9a-f]{24}"
MARKER_ID = re.compile(r"\[… [^\]\n]* folded(?::[^\]\n]*)? · retrieve id=(" + ID_RE + r")\]")
MAX_ANSWER_CHARS = 200_000  # a whole original can be large; beyond this, ask for a query
QUERY_CONTEXT_LINES = 1

DESCRIPTION = (
    "Fetch content that was folded out of an earlier tool result to save context. Folded parts "
    "are marked like `[… 120 lines folded · retrieve id=<id>]`. Call this with that id to get the "
    "original text back; pass `query` to get only the lines that contain it (with line numbers)."
)
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "The id from a `retrieve id=…` marker."},
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


def add_markers(text: str, original_id: str) -> str:
    """Turn every fold note in a compressor's output into a marker naming the original."""
    return NOTE_PATTERN.sub(lambda m: m.group(0)[:-1] + f" · retrieve id={original_id}]", text)


def marker_ids(text: str) -> list[str]:
    """The original ids named by markers in a text, in order, without repeats."""
    return list(dict.fromkeys(MARKER_ID.findall(text)))


def answer(text: str | None, query: str | None, status: str) -> str:
    """The tool result the model gets: the original, the lines matching `query`, or why not."""
    if status == "forbidden":
        return "This id was stored for another user; it cannot be retrieved with this key."
    if status != "ok" or text is None:
        return "The original has expired or the id is unknown. Re-run the tool to see its output again."
    if query:
        return _matching_lines(text, query)
    if len(text) > MAX_ANSWER_CHARS:
        return (
            text[:MAX_ANSWER_CHARS]
            + f"\n[… the original continues for {len(text) - MAX_ANSWER_CHARS:,} more characters; call again with a query]"
        )
    return text


def _matching_lines(text: str, query: str) -> str:
    lines = text.split("\n")
    needle = query.lower()
    hits = [i for i, line in enumerate(lines) if needle in line.lower()]
    if not hits:
        return f"No line of the original ({len(lines):,} lines) contains {query!r}."
    shown: set[int] = set()
    for i in hits:
        shown.update(range(max(0, i - QUERY_CONTEXT_LINES), min(len(lines), i + QUERY_CONTEXT_LINES + 1)))
    out, previous = [], None
    for i in sorted(shown):
        if previous is not None and i != previous + 1:
            out.append("…")
        out.append(f"{i + 1}: {lines[i]}")
        previous = i
    result = "\n".join(out)
    if len(result) > MAX_ANSWER_CHARS:
        result = result[:MAX_ANSWER_CHARS] + "\n[… more matches; use a narrower query]"
    return f"{len(hits):,} matching lines of {len(lines):,}:\n{result}"
