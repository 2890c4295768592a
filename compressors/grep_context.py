"""Grep/rg context lines without the path their match line already names.

With `-n` and context (`-A`/`-B`/`-C`), grep and rg print every context line with its file's
path: `src/app.py-41-    return x` under `src/app.py:40:def f(x):`. An absolute path is 10-25
tokens a line, and a match with `-A 5 -B 2` repeats it seven times. A context line that follows
a line naming the same file in full (its match line, or the first line of its group) keeps only
its number and text, `41-    return x`, the way rg's `--heading` mode prints it: lossless, the
path is on the line above. Match lines stay as they are, byte for byte: the model cites
`path:line` from them. Only outputs of a search run with context are touched (a branch list
like `feature/issue-363-x` merely looks like context lines).
"""

from __future__ import annotations

import re

from compressors.types import Context

_MATCH = re.compile(r"^([^\s:]*[/.][^\s:]*):(\d+):")  # path:12:text (a path with a / or a .)
_CONTEXT_TAIL = re.compile(r"\d+-")  # after `path-`: `12-text`
_CONTEXT_FLAG = re.compile(r"(?:^|\s)(-[ABC]\s*\d+|-[a-zA-Z]*[ABC]\d+|--(?:after-|before-)?context(?:[=\s]\d+)?)\b")
GROUP_BREAK = "--"  # grep and rg print it between groups of context


def asks_for_context(context: Context) -> bool:
    """Whether the call printed context lines: Grep's `-A`/`-B`/`-C`, or such a flag in the command."""
    if any(context.tool_args.get(flag) for flag in ("-A", "-B", "-C")):
        return True
    return bool(context.command and _CONTEXT_FLAG.search(context.command))


def shorten_context_paths(text: str) -> str:
    """`text` with each context line after one naming its file in full reduced to `12-text`."""
    lines = text.split("\n")
    ahead = _next_match_files(lines)
    out = list(lines)
    current: str | None = None  # the file of the line above, when that line named it in full
    for i, line in enumerate(lines):
        if (m := _MATCH.match(line)) is not None:
            current = m.group(1)
        elif current is not None and _is_context_of(line, current):
            out[i] = line[len(current) + 1 :]
        else:  # a group's first (before-)context line names its match line's file in full
            upcoming = ahead[i + 1] if i + 1 < len(lines) else None
            current = upcoming if upcoming is not None and _is_context_of(line, upcoming) else None
    return "\n".join(out)


def _is_context_of(line: str, path: str) -> bool:
    return line.startswith(path) and line[len(path) : len(path) + 1] == "-" and _CONTEXT_TAIL.match(line, len(path) + 1) is not None


def _next_match_files(lines: list[str]) -> list[str | None]:
    """For each line, the file of the first match line at or after it in its group (one pass back)."""
    out: list[str | None] = [None] * len(lines)
    upcoming: str | None = None
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if line == GROUP_BREAK or not line:
            upcoming = None
        elif (m := _MATCH.match(line)) is not None:
            upcoming = m.group(1)
        out[i] = upcoming
    return out
