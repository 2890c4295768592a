"""`finditer` and `sub` for the block patterns of the HTML compressors, in linear time.

Patterns like `<!--(.*?)-->|<(script|style)\\b[^>]*(?<!/)>(.*?)</\\2\\s*>` scan, from every
opener, to the end of the text when its closer is missing, and scan `[^>]*` to the next `>`
from every tag: an unclosed `<script>` or `<!--` repeated 30,000 times took over a minute.
Here each opener is checked first: the first `>` after it and the first closer after that are
looked up with memory (once a closer is missing from some point on, it is missing for every
later opener), and only an opener sure to match is handed to the pattern itself, which then
scans just the text it matches. The matches are the pattern's own, the same as `finditer`'s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator


class BlockPattern:
    """A pattern whose alternatives are `<!--…-->` (if `comments`), `<NAME\\b[^>]*(?<!/)>…</NAME\\s*>`
    for each of `names` (case-insensitive), and optionally others that start with one of
    `others` (literal prefixes, matched by the pattern itself, with no unbounded lazy scan)."""

    def __init__(self, pattern: re.Pattern[str], names: Iterable[str], comments: bool = True, others: Iterable[str] = ()) -> None:
        self.pattern = pattern
        self.names = tuple(n.lower() for n in names)
        starts = ["<!--"] if comments else []
        starts.append("<(" + "|".join(map(re.escape, self.names)) + r")\b")
        starts += [re.escape(o) for o in others]
        self._start = re.compile("|".join(starts), re.I)
        self._closers = {name: re.compile(r"</" + re.escape(name) + r"\s*>", re.I) for name in self.names}

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """The same matches as `self.pattern.finditer(text)`."""
        pos = 0
        gt_from, gt = len(text) + 1, -1  # the first ">" at or after gt_from is at gt (-1: none)
        missing: set[str] = set()  # closers absent after the last search for them
        while (start := self._start.search(text, pos)) is not None:
            p = start.start()
            name = start.group(1)
            sure = True
            if start.group(0).startswith("<!--"):
                sure = "--" not in missing and text.find("-->", p + 4) >= 0
                if not sure:
                    missing.add("--")
            elif name is not None:
                key = name.lower()
                end = start.end()
                if not (gt_from <= end and (gt == -1 or end <= gt)):
                    gt_from, gt = end, text.find(">", end)
                if gt < 0 or text[gt - 1] == "/" or key in missing:
                    sure = False
                elif self._closers[key].search(text, gt + 1) is None:
                    missing.add(key)
                    sure = False
            match = self.pattern.match(text, p) if sure else None
            if match is None:
                pos = p + 1
                continue
            yield match
            pos = match.end() if match.end() > p else p + 1

    def sub(self, repl: str | Callable[[re.Match[str]], str], text: str) -> str:
        """The same text as `self.pattern.sub(repl, text)` for a function or a literal `repl`
        (one without backslashes: it is not expanded)."""
        pieces: list[str] = []
        cursor = 0
        for match in self.finditer(text):
            pieces.append(text[cursor : match.start()])
            pieces.append(repl(match) if callable(repl) else repl)
            cursor = match.end()
        if not cursor:
            return text
        pieces.append(text[cursor:])
        return "".join(pieces)


_TAG = re.compile(r"<[^>]*>")


def replace_tags(text: str, repl: str) -> str:
    """`re.sub(r"<[^>]*>", repl, text)` in linear time (`repl` without backslashes). No `<` after
    the last `>` can match, yet the regex scans to the end of the text from each of them."""
    last = text.rfind(">") + 1
    return _TAG.sub(repl, text[:last]) + text[last:]
