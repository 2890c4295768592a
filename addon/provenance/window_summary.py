"""One context window summed up from its composition (addon/provenance/composition.py): tokens by
role and type and by tool, what compression did and why it left the rest whole, which folds the
model retrieved, and what the window holds more than once. Shared by `headroom trace` and the
mitmweb Headroom view."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

REPEAT_MIN_TOKENS = 50  # identical texts smaller than this are not worth listing


def summarize(records: list[dict[str, Any]], retrieved: dict[str, str]) -> dict[str, Any]:
    """Tokens by type and by tool, fates, repeats and retrievals of one window's records."""
    segments = []
    for record in records:
        got = [i for i in record.get("ids") or [] if i in retrieved]
        segments.append(record | ({"retrieved": got} if got else {}))
    by_type: dict[str, dict[str, int]] = defaultdict(lambda: {"units": 0, "tokens": 0, "sent": 0})
    by_tool: dict[str, dict[str, int]] = defaultdict(lambda: {"units": 0, "tokens": 0, "sent": 0})
    fates: dict[str, dict[str, int]] = defaultdict(lambda: {"units": 0, "tokens": 0, "sent": 0})
    whole_because: dict[str, dict[str, int]] = defaultdict(lambda: {"units": 0, "tokens": 0})
    for r in segments:
        for table, key in ((by_type, f"{r.get('role')}/{r.get('type')}"), (fates, str(r.get("fate")))):
            _add(table[key], r)
        if r.get("type") == "tool_result":
            _add(by_tool[tool_of(r.get("source") or "")], r)
        if r.get("fate") == "whole":
            whole_because[str(r.get("reason") or "")]["units"] += 1
            whole_because[str(r.get("reason") or "")]["tokens"] += int(r.get("tokens") or 0)
    return {
        "tokens": {
            "client": sum(int(r.get("tokens") or 0) for r in segments),
            "forwarded": sum(int(r.get("sent") or 0) for r in segments),
            "new": sum(int(r.get("tokens") or 0) for r in segments if r.get("new")),
        },
        "by_type": _sorted(by_type),
        "by_tool": _sorted(by_tool),
        "fates": _sorted(fates),
        "whole_because": _sorted(whole_because),
        "repeats": repeats(segments),
        "retrieved": [{"pos": r["pos"], "ids": r["retrieved"], "source": r.get("source", "")} for r in segments if r.get("retrieved")],
        "segments": segments,
    }


def repeats(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool outputs and pasted texts the window holds more than once: the same content, or the
    same source (a file read again after an edit), largest first."""
    out = []
    # the same content matters from a size worth a look; the same source at any size (a client
    # may answer a re-read with a short "unchanged" note: the read was still asked for twice)
    for field, what, least in (("content", "same content", REPEAT_MIN_TOKENS), ("source", "same source", 0)):
        groups: dict[str, list[dict]] = defaultdict(list)
        for r in records:
            if r.get("type") in ("tool_result", "text") and r.get("role") != "assistant" and r.get(field) and int(r.get("tokens") or 0) >= least:
                groups[r[field]].append(r)
        for key, group in groups.items():
            if len(group) > 1:
                out.append({
                    "what": what, field: key, "count": len(group), "positions": [r["pos"] for r in group],
                    "tokens": sum(int(r.get("tokens") or 0) for r in group), "sent": sum(int(r.get("sent") or 0) for r in group),
                    "source": group[0].get("source", ""),
                })  # fmt: skip
    return sorted(out, key=lambda g: -g["tokens"])


def tool_of(source: str) -> str:
    """The tool part of a source line: `Read src/a.py` → `Read`, `mcp github/get_issue …` → `mcp github/get_issue`."""
    words = source.split(" ")
    return " ".join(words[:2]) if words[0] == "mcp" and len(words) > 1 else words[0] or "(unknown tool)"


def _add(figures: dict[str, int], record: dict[str, Any]) -> None:
    figures["units"] += 1
    figures["tokens"] += int(record.get("tokens") or 0)
    if "sent" in figures:
        figures["sent"] += int(record.get("sent") or 0)


def _sorted(groups: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    return [{"name": name, **figures} for name, figures in sorted(groups.items(), key=lambda kv: -kv[1]["tokens"])]
