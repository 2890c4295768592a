"""Search results and listings: grep/rg/ag matches, find/fd paths, ls (-l, -R) and tree output.

A model reads these to learn where things are, so paths matter most. Lines are grouped by file
(matches) or directory (listings); each group keeps its first few lines, lines that mention the
user's words, define something or report an error, and folds the rest with a count naming the
group. Every file with matches stays visible; a listing too long for its budget keeps its
shallow and query-relevant directories and folds the others whole.
"""

from __future__ import annotations

import re

from compressors.lines import Keep, Note, Selection, append_keep, mask_runs, saves_enough
from compressors.notes import fold_note
from compressors.relevance import is_error_line, mentions, query_terms
from compressors.search_listing import (
    TAG,
    TREE,
    Layout,
    is_long_listing,
    is_ls_header,
    parse_flat,
    parse_ls_recursive,
    parse_paths,
    parse_tree,
    select_long_listing,
    structure,
)
from compressors.types import Context

HUGE_LINE = 500  # a longer line (minified code) is folded whole unless it mentions the query
# Share of grouped lines a long output keeps (query matches, definitions and errors come on
# top): the rest of a long match list or listing shows the shape, not news. On the corpus
# 0.15/25 (was 0.35/40) cut search tokens by 17% and lost no needle.
KEEP_SHARE = 0.15
MIN_BUDGET = 25  # ...but never fewer than this many
FLAT_WHOLE = 300  # a single directory's names are kept whole up to this many
LISTING_MIN_CAP = 10  # a listing shows at least this many names of a directory, or none
GREP_MIN_CAP = 2  # a grep output shows at least this many lines of every file
RELEVANT_CAP = 30  # lines kept of a file or directory that mentions the query
NOTE_WORTH = 1.5  # fold a run only when it is this many times longer than its note
MIN_SAVING = 0.2  # below this, the output is returned whole
# A file's first hunk of a search run with context stays whole up to this many lines (Claude
# Code held-out sessions: Grep needles kept 94.9% -> 100%, Grep tokens cut 47.3% -> 43.5%).
FIRST_HUNK_WHOLE = 120
COMMON_TERM, COMMON_LINES = 0.05, 10  # a query term on more lines than this (share, count) tells nothing

# grep/rg asked for the names of matching files: -l, --files-with-matches, rg --files
_FILES_WITH_MATCHES = re.compile(r"(^|[\s;&|(])(grep|egrep|rg|ag|git grep)\b[^|;&]*\s(-[a-zA-Z]*l[a-zA-Z]*|--files-with-matches|--files)\b")
_MATCH = re.compile(r"^([^\s:]+):(\d+):")  # path:12:text
_CONTEXT = re.compile(r"-(\d+)-")  # path-12-text (the path may hold dashes)
_NUMBERED = re.compile(r"^(\d+)(:|-(?!\d))")  # 12:text in one file, or under an rg heading
# The lookahead (the first run of non-space non-colon chars ends with a word char and a colon)
# is what the rest needs anyway; checked first, possessively, it spares the rest from
# backtracking over every "/" or "." of a long line that has no such colon (quadratic).
_PATH_TEXT = re.compile(r"^(?=[^\s:]*+(?<=\w):)([^\s:]*[/.][^\s:]*\w):")  # path:text (grep -r without -n)
_GREP_ANY = re.compile(r"^(?=[^\s:]*+(?<=\w):)([^\s:]*[/.][^\s:]*\w):|^[^\s:]+?-\d+-")  # path:text, path-12-text
_PATHY = re.compile(r"^(?:\.{0,2}/)?[\w.@+~-][^\s:]*$")
_DEFINITION = re.compile(
    r"\b(def|class|function|func|fn|interface|struct|enum|trait|impl|module|type)\s+[A-Za-z_]"
)


def select_search(lines: list[str], context: Context) -> Selection:
    """Group search results or a listing per file/directory, cap each group, fold the rest."""
    if not lines:
        return []
    if lists_matching_files(context) and len(lines) <= FLAT_WHOLE:
        return [Keep(0, len(lines))]
    terms = _telling_terms(lines, query_terms(context.query))
    if is_long_listing(lines):
        selection = select_long_listing(lines, terms)
        return selection if saves_enough(lines, selection, MIN_SAVING) else [Keep(0, len(lines))]
    layout = _parse(lines)
    keep = _choose(lines, layout, terms)
    _keep_structure(lines, layout, keep)
    selection = _fold(lines, layout, keep)
    return selection if saves_enough(lines, selection, MIN_SAVING) else [Keep(0, len(lines))]


def lists_matching_files(context: Context) -> bool:
    """A search that answers with the files that match (Claude Code's Grep in its default
    `files_with_matches` mode, `grep -l`, `rg -l`): every path is an answer the model may open
    next. On the training sessions, folding such lists kept 12 of 14 needles where head+tail
    of the same size kept 13."""
    if context.tool_name == "Grep":
        return context.tool_args.get("output_mode", "files_with_matches") == "files_with_matches"
    command = context.command or ""
    return bool(_FILES_WITH_MATCHES.search(command))


# --- parsing ---------------------------------------------------------------------------------


def _parse(lines: list[str]) -> Layout:
    body = [line for line in lines if line.strip() and line != "--" and not TAG.search(line)]
    n = max(1, len(body))
    if sum(bool(TREE.match(line)) for line in body) >= 0.3 * n:
        return parse_tree(lines)
    greppy = sum(bool(_MATCH.match(line) or _NUMBERED.match(line) or _GREP_ANY.match(line)) for line in body)
    if greppy >= 0.5 * n:
        return _parse_grep(lines)
    if sum(is_ls_header(lines, i) for i in range(len(lines))) >= 2:
        return parse_ls_recursive(lines)
    if sum(bool(_PATHY.match(line)) and "/" in line for line in body) >= 0.6 * n:
        return parse_paths(lines)
    return parse_flat(lines, "line")


def _parse_grep(lines: list[str]) -> Layout:
    layout = Layout([None] * len(lines), "matching line", listing=False)
    known = {m.group(1) for line in lines if (m := _MATCH.match(line))}
    heading: str | None = None
    for i, line in enumerate(lines):
        if structure(layout, lines, i):
            heading = None if not line.strip() else heading
            continue
        if m := _MATCH.match(line):
            layout.group[i] = m.group(1)
        elif m := _NUMBERED.match(line):
            layout.group[i] = heading or ""
            if m.group(2) == "-":
                layout.context.add(i)
        elif path := _context_path(line, known):
            layout.group[i] = path
            layout.context.add(i)
        elif m := _PATH_TEXT.match(line):
            layout.group[i] = m.group(1)
        elif _PATHY.match(line) and i + 1 < len(lines) and _NUMBERED.match(lines[i + 1]):
            heading = line  # rg's heading mode: the path, then its numbered lines
            layout.headers[i] = line
            layout.group[i] = line
        else:
            layout.always.add(i)  # "Binary file x matches", "grep: x: Is a directory", ...
    return layout


def _context_path(line: str, known: set[str]) -> str | None:
    """The known path a `path-12-text` context line starts with (paths may contain dashes)."""
    for m in _CONTEXT.finditer(line, 1):
        if line[: m.start()] in known:
            return line[: m.start()]
        if " " in line[: m.start()]:
            break
    return None


# --- choosing --------------------------------------------------------------------------------


def _telling_terms(lines: list[str], terms: frozenset[str]) -> frozenset[str]:
    """Query terms that pick out few lines (a repository's name on every path tells nothing)."""
    if not terms:
        return terms
    # `codegen.ast` in the query names the path codegen/ast.py: match the parts as well
    terms = terms | query_terms(" ".join(re.split(r"[./_]", " ".join(terms))))
    limit = max(3, min(COMMON_TERM * len(lines), COMMON_LINES))
    lowered = "\n".join(lines).lower()
    return frozenset(t for t in terms if lowered.count(t) <= limit)


def _score(line: str, relevant: bool) -> int:
    return 4 * relevant + 2 * bool(_DEFINITION.search(line)) + is_error_line(line)


def _choose(lines: list[str], layout: Layout, terms: frozenset[str]) -> list[bool]:
    """Which lines to keep: a share of each group under a common cap (query-relevant groups get
    more), headers of shown groups, and lines always kept."""
    keep = [i in layout.always for i in range(len(lines))]
    groups: dict[str, list[int]] = {}
    for i, g in enumerate(layout.group):
        if g is not None and i not in layout.headers:
            groups.setdefault(g, []).append(i)
    relevant = {i for i, line in enumerate(lines) if mentions(line, terms)} if terms else set()
    hit = {g for g, members in groups.items() if any(i in relevant for i in members) or mentions(g, terms)}
    total = sum(len(m) for m in groups.values())
    budget = _budget(layout, total, len(groups))
    level = _water_level([len(m) for m in groups.values()], budget - len(layout.headers))  # headers cost too
    cap = max(level, LISTING_MIN_CAP if layout.listing else GREP_MIN_CAP)
    hiding = cap > level  # even the minimum cap is over budget: whole directories fold
    shown = _shown_groups(layout, groups, hit, cap, budget) if hiding else set(groups)
    for g, members in groups.items():
        group_cap = max(cap, RELEVANT_CAP) if g in hit else cap
        tail = len(groups) == 1 and layout.listing
        cap_g = group_cap if g in shown else 0
        if layout.context:
            picked = _pick_around_matches(lines, members, cap_g, relevant, layout.context)
        else:
            picked = _pick(lines, members, cap_g, relevant, tail)
        for i in picked:
            keep[i] = True
    for i, g in layout.headers.items():  # an empty directory's header is shown unless hiding
        keep[i] = not hiding or g in shown or any(keep[m] for m in groups.get(g, ()))
    return keep


def _budget(layout: Layout, total: int, n_groups: int) -> int:
    """Member lines to keep: a share of the output, never fewer than a screenful."""
    if layout.listing and n_groups <= 1:
        return max(FLAT_WHOLE, int(KEEP_SHARE * total))  # one directory: names are all news
    return max(MIN_BUDGET, int(KEEP_SHARE * total))


def _water_level(sizes: list[int], budget: int) -> int:
    """The largest per-group cap with sum(min(size, cap)) within budget: small groups stay
    whole and only the big ones (a locale folder, a file matching everywhere) are cut."""
    if sum(sizes) <= budget:
        return max(sizes, default=0)
    low, high = 0, max(sizes)
    while low < high:
        mid = (low + high + 1) // 2
        if sum(min(s, mid) for s in sizes) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def _shown_groups(layout: Layout, groups: dict[str, list[int]], hit: set[str], cap: int, budget: int) -> set[str]:
    """A grep output shows every file. A listing over budget even at its minimum cap shows the
    directories that mention the query, then others by depth and order while the budget lasts,
    and folds the rest whole (cheaper than a note in every directory)."""
    if not layout.listing:
        return set(groups)
    shown = set(hit)  # query matches come on top of the budget
    used = sum(min(len(groups[g]), RELEVANT_CAP) + 1 for g in hit)
    for g in sorted(set(groups) - hit, key=lambda g: (layout.depth.get(g, 0), groups[g][0])):
        used += min(len(groups[g]), cap) + 1
        if shown and used > budget:
            break  # strict priority: no deep trivia in place of a skipped shallower directory
        shown.add(g)
    return shown


def _pick(lines: list[str], members: list[int], cap: int, relevant: set[int], tail: bool) -> list[int]:
    """The first lines of a group (and its last, for a lone listing), the best-scoring ones,
    and every query match (up to 3×cap)."""
    small = [i for i in members if len(lines[i]) <= HUGE_LINE or i in relevant]
    if len(small) <= cap:
        return small
    n_tail = cap // 4 if tail else 0
    picked = small[: (cap + 1) // 2] + (small[-n_tail:] if n_tail else [])
    taken = set(picked)
    scores = {i: _score(lines[i], i in relevant) for i in small if i not in taken}
    scored = sorted((i for i, score in scores.items() if score), key=lambda i: -scores[i])
    picked += scored[: max(0, cap - len(picked))]
    taken = set(picked)
    picked += [i for i in small if i not in taken][: max(0, cap - len(picked))]
    taken = set(picked)
    extra = [i for i in members if i in relevant and i not in taken]
    return picked + extra[: max(0, 3 * max(cap, 4) - len(picked))]


def _pick_around_matches(lines: list[str], members: list[int], cap: int, relevant: set[int], context: set[int]) -> list[int]:
    """For a search run with context (-A/-B/-C): a file's first hunk (a match with the
    context the model asked for: a range it chose) whole, up to FIRST_HUNK_WHOLE lines; then
    whole hunks in order up to the cap. A hunk that does not fit keeps its match lines and the
    context lines nearest to them (after before before, at the same distance), so a `-C 30`
    around one definition keeps the definition's body, not the lines before it. Every query
    match stays too."""
    small = [i for i in members if len(lines[i]) <= HUGE_LINE or i in relevant]
    if len(small) <= cap:
        return small
    picked: list[int] = []
    for n, hunk in enumerate(_hunks(small)):
        room = cap - len(picked) if n else max(cap, min(len(hunk), FIRST_HUNK_WHOLE))
        if room <= 0:
            break
        picked += hunk if len(hunk) <= room else _nearest(hunk, room, context)
    taken = set(picked)
    extra = [i for i in small if i in relevant and i not in taken]
    return sorted(picked + extra[: max(0, 3 * max(cap, 4) - len(picked))])


def _hunks(indices: list[int]) -> list[list[int]]:
    """Runs of consecutive line indices (grep parts hunks with `--` or a gap)."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _nearest(hunk: list[int], room: int, context: set[int]) -> list[int]:
    """`room` lines of a hunk: its match lines first, then context lines by distance to the
    nearest match, a line after a match before one before it (one sweep each way: linear)."""
    matches = [i for i in hunk if i not in context]
    if not matches:
        return hunk[:room]
    far = len(hunk) + 1
    after = [far] * len(hunk)  # distance to the nearest match above (the line comes after it)
    before = [far] * len(hunk)  # distance to the nearest match below
    last = None
    for k, i in enumerate(hunk):
        last = k if i not in context else last
        after[k] = k - last if last is not None else far
    last = None
    for k in range(len(hunk) - 1, -1, -1):
        last = k if hunk[k] not in context else last
        before[k] = last - k if last is not None else far
    rank = {i: min((after[k], 0), (before[k], 1)) + (i,) for k, i in enumerate(hunk) if i in context}
    return (matches + sorted(rank, key=rank.__getitem__))[:room]


def _keep_structure(lines: list[str], layout: Layout, keep: list[bool]) -> None:
    """Blanks and `--` stay when a kept line is beside them, else they fold with their run."""
    n = len(keep)
    for i in range(n):
        if layout.group[i] is None and i not in layout.always:
            before = i > 0 and keep[i - 1]
            after = i + 1 < n and keep[i + 1]
            keep[i] = before or after
    for i in range(n):  # a lone folded line costs what its note would: keep it (unless huge)
        if not keep[i] and len(lines[i]) <= HUGE_LINE and (i == 0 or keep[i - 1]) and (i + 1 == n or keep[i + 1]):
            keep[i] = True


# --- folding ---------------------------------------------------------------------------------


def _fold(lines: list[str], layout: Layout, keep: list[bool]) -> Selection:
    selection: Selection = []
    for i, j, kept in mask_runs(keep):
        if kept:
            append_keep(selection, i, j)
            continue
        note = _note(lines, layout, i, j)
        if sum(len(lines[k]) + 1 for k in range(i, j)) > NOTE_WORTH * (len(note) + 1):
            selection.append(Note(note, i, j))
        else:  # the note would cost about what it hides
            append_keep(selection, i, j)
    return selection


def _note(lines: list[str], layout: Layout, start: int, end: int) -> str:
    members = [i for i in range(start, end) if layout.group[i] is not None and i not in layout.headers]
    groups = list(dict.fromkeys(layout.group[i] for i in range(start, end) if layout.group[i] is not None))
    if end - start == 1 and len(lines[start]) > HUGE_LINE:
        where = f" in {groups[0]}" if groups and groups[0] else ""
        return fold_note(1, "line", f"{len(lines[start]):,} chars{where}")
    if not members:
        return fold_note(end - start, "line", _where(layout, groups))
    unit = layout.unit
    if unit == "matching line" and any(i in layout.context for i in members):
        unit = "line"
    return fold_note(len(members), unit, _where(layout, groups))


def _where(layout: Layout, groups: list[str | None]) -> str:
    names = [g for g in groups if g]
    if not names:
        return ""
    if len(names) == 1:
        return f"in {names[0]}"
    if not layout.listing:
        return f"in {len(names)} files"
    prefix = _common_dir(names)
    return f"{len(names)} directories under {prefix}" if prefix else f"{len(names)} directories"


def _common_dir(paths: list[str]) -> str:
    parts = [p.split("/") for p in paths]
    common: list[str] = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return "/".join(common)

