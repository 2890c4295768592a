"""Version-control output: `git diff`/`git show`, `git log`, `git status` and `git blame`.

What a model acts on is the change itself, so every file header, hunk header and +/- line of
a diff stays; unchanged context is trimmed to a line or two around the changes, lock files and
hunks past a generous budget fold with their +/- counts. Logs keep each commit's hash, author,
date and subject and fold long messages; status keeps every changed path and folds long
untracked lists by directory; long blames keep the lines around query matches.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from compressors.lines import Keep, Note, Selection, saves_enough
from compressors.notes import fold_note
from compressors.relevance import is_error_line, mentions, query_terms
from compressors.types import Context

CONTEXT_KEPT = 2  # unchanged lines kept on each side of a change
MIN_DIFF_FOLD = 3  # a shorter run of unchanged lines stays
CHANGED_BUDGET = 800  # changed lines kept before further hunks fold (files stay visible)
MESSAGE_KEPT = 3  # message lines kept per commit after the subject
META_COMMITS = 20  # commits that keep their Author/Date lines; later ones fold them
LIST_HEAD, LIST_TAIL = 40, 10  # a long `--oneline` log or blame keeps this many first and last lines
UNTRACKED_KEPT = 10  # untracked paths kept before the rest fold by directory
BLAME_WINDOW = 3  # lines kept around a blame line that mentions the query
MIN_SAVING = 0.2  # below this, the output is returned whole

_FILE_HEADER = re.compile(
    r"^(diff --(git|cc|combined) |index [0-9a-f]+|--- (a/|/dev/null|\S)|\+\+\+ (b/|/dev/null|\S)|"
    r"(new|deleted) file mode |old mode |new mode |similarity index |dissimilarity index |"
    r"rename (from|to) |copy (from|to) |Binary files .* differ$)"
)
_HUNK = re.compile(r"^@@ -\d+(,\d+)? \+\d+(,\d+)? @@")
_COMMIT = re.compile(r"^commit [0-9a-f]{7,64}\b")
_META = re.compile(r"^(Author|AuthorDate|Commit|CommitDate|Date|Merge|Reflog|Signed-off-by):\s")
_ONELINE = re.compile(r"^(\*\s+)?[0-9a-f]{7,40} \S")
# The first date is the one to try: when the line number after it is missing, no later date
# has one either, so the atomic group keeps the regex from retrying at each (quadratic).
_BLAME = re.compile(r"^\^?[0-9a-f]{7,40} (\S+ )?\((?>.*?\d{4}-\d\d-\d\d ).*?\s\d+\)")
_STATUS_CHANGE = re.compile(
    r"^\t(modified|new file|deleted|renamed|copied|typechange|both modified|both added|both deleted|"
    r"added by us|added by them|deleted by us|deleted by them):\s"
)
_SHORT_STATUS = re.compile(r"^([ MADRCUT?!]{2}) (\S.*)$")
_LOCK_FILE = re.compile(
    r"(^|/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|Cargo\.lock|poetry\.lock|Pipfile\.lock|uv\.lock|"
    r"composer\.lock|Gemfile\.lock|go\.sum)$|\.min\.(js|css)$"
)


@dataclass
class Line:
    """What one line of VCS output is, and the file or commit it belongs to."""

    role: str  # file, hunk, add, del, ctx, commit, meta, subject, body, change, untracked, blame, item, other
    owner: str = ""  # the diff's file path or the commit's hash


@dataclass
class Plan:
    """The lines, what each is, and what is folded so far (a note per folded run's start)."""

    lines: list[str]
    roles: list[Line]
    terms: frozenset[str]
    keep: list[bool] = field(default_factory=list)
    notes: dict[int, str] = field(default_factory=dict)

    def fold(self, start: int, end: int, note: str) -> None:
        """Fold lines [start, end) into one note (replacing notes inside the run)."""
        for k in range(start, end):
            self.keep[k] = False
            self.notes.pop(k, None)
        self.notes[start] = note


def select_vcs(lines: list[str], context: Context) -> Selection:
    """Keep what changed and where; fold unchanged context, long messages and long lists."""
    if not lines:
        return []
    plan = Plan(lines, classify(lines), query_terms(context.query), [True] * len(lines))
    _trim_context(plan)
    _budget_hunks(plan)
    _fold_messages(plan)
    _fold_lists(plan)
    if sum(r.role == "blame" for r in plan.roles) > LIST_HEAD + LIST_TAIL:
        _fold_blame(plan)
    selection = _selection(lines, plan.keep, plan.notes)
    return selection if saves_enough(lines, selection, MIN_SAVING) else [Keep(0, len(lines))]


# --- classifying -----------------------------------------------------------------------------


def classify(lines: list[str]) -> list[Line]:
    """Label each line: diff headers and bodies, commits, status entries, blame lines."""
    roles: list[Line] = []
    old = new = 0  # lines of the current hunk still to come, from its @@ header
    path = commit = ""
    message = -1  # lines of the current commit message seen so far (-1: not in a message)
    section = ""  # git status section ("Untracked files:", ...)
    for line in lines:
        if (old > 0 or new > 0) and line[:1] not in (" ", "+", "-", "\\", ""):
            old = new = 0  # a hunk shorter than its header said (a truncated or edited diff)
        if old > 0 or new > 0:
            mark = line[:1]
            old -= mark in (" ", "-", "")
            new -= mark in (" ", "+", "")
            roles.append(Line({"+": "add", "-": "del", "\\": "mark"}.get(mark, "ctx"), path))
        elif m := _HUNK.match(line):
            old, new = _hunk_size(m.group(1)), _hunk_size(m.group(2))
            roles.append(Line("hunk", path))
        elif _FILE_HEADER.match(line):
            path = _diff_path(line) or path
            message = -1
            roles.append(Line("file", path))
        elif _COMMIT.match(line):
            commit, message = line.split()[1], 0
            roles.append(Line("commit", commit))
        elif message >= 0 and _META.match(line):
            roles.append(Line("meta", commit))
        elif message >= 0 and (line.startswith("    ") or not line.strip()):
            roles.append(Line("body" if message or not line.strip() else "subject", commit))
            message += bool(line.strip())
        else:
            message = -1
            section = line if line.endswith(":") and not line.startswith("\t") else section
            roles.append(_other(line, section))
    return roles


def _hunk_size(count: str | None) -> int:
    return 1 if count is None else int(count[1:])


def _diff_path(line: str) -> str:
    if line.startswith("diff --git "):
        parts = line.split(" b/", 1)
        return parts[1] if len(parts) == 2 else line.split()[-1]
    if line.startswith("+++ ") and not line.startswith("+++ /dev/null"):
        return line[4:].removeprefix("b/").split("\t")[0]
    return ""


def _other(line: str, section: str) -> Line:
    if _STATUS_CHANGE.match(line):
        return Line("change", line.split(":", 1)[1].strip())
    if section.startswith("Untracked files") and line.startswith("\t"):
        return Line("untracked", line.strip())
    if m := _SHORT_STATUS.match(line):
        return Line("untracked" if m.group(1) == "??" else "change", m.group(2))
    if _BLAME.match(line):
        return Line("blame", line.split()[0])
    if _ONELINE.match(line):
        return Line("item", line.split()[0])
    return Line("other")


# --- diffs -----------------------------------------------------------------------------------


def _trim_context(plan: Plan) -> None:
    """Fold the middle of each long run of unchanged lines, keeping CONTEXT_KEPT on each side
    of a change and any line that mentions the query."""
    roles = plan.roles
    i, n = 0, len(roles)
    while i < n:
        if roles[i].role != "ctx":
            i += 1
            continue
        j = i
        while j < n and roles[j].role == "ctx":
            j += 1
        lead = CONTEXT_KEPT if i > 0 and roles[i - 1].role in ("add", "del") else 0
        trail = CONTEXT_KEPT if j < n and roles[j].role in ("add", "del") else 0
        _fold_run(plan, range(i + lead, j - trail), "unchanged line")
        i = j


def _fold_run(plan: Plan, span: range, unit: str) -> None:
    """Fold the lines of span except query matches, in runs of at least MIN_DIFF_FOLD."""
    start = None
    for k in [*span, span.stop]:
        inside = k < span.stop and not mentions(plan.lines[k], plan.terms)
        if inside and start is None:
            start = k
        elif not inside and start is not None:
            if k - start >= MIN_DIFF_FOLD:
                plan.fold(start, k, fold_note(k - start, unit))
            start = None


@dataclass
class _FoldedHunks:
    start: int
    end: int
    path: str
    hunks: int
    added: int
    removed: int


def _budget_hunks(plan: Plan) -> None:
    """Fold whole hunks of lock/minified files, and every hunk once CHANGED_BUDGET changed lines
    are shown; file headers stay so each changed file is still named. Consecutive folded hunks
    of one file share a note."""
    used = 0
    folded: list[_FoldedHunks] = []
    for start, end in _hunks(plan.roles):
        path = plan.roles[start].owner
        count = Counter(r.role for r in plan.roles[start:end])
        changed = count["add"] + count["del"]
        if not _LOCK_FILE.search(path) and used + changed <= CHANGED_BUDGET:
            used += changed
        elif folded and folded[-1].end == start and folded[-1].path == path:
            last = folded[-1]
            last.end, last.hunks = end, last.hunks + 1
            last.added, last.removed = last.added + count["add"], last.removed + count["del"]
        else:
            folded.append(_FoldedHunks(start, end, path, 1, count["add"], count["del"]))
    for f in folded:
        plan.fold(f.start, f.end, fold_note(f.hunks, "hunk", f"+{f.added:,} -{f.removed:,} in {f.path}"))


def _hunks(roles: list[Line]) -> list[tuple[int, int]]:
    """[start, end) of each hunk: its @@ line and the body lines after it."""
    spans: list[tuple[int, int]] = []
    for i, r in enumerate(roles):
        if r.role == "hunk":
            j = i + 1
            while j < len(roles) and roles[j].role in ("add", "del", "ctx", "mark"):
                j += 1
            spans.append((i, j))
    return spans


# --- logs, status, blame ---------------------------------------------------------------------


def _fold_messages(plan: Plan) -> None:
    """Each commit keeps its subject and a few message lines; later commits drop Author/Date."""
    lines, roles = plan.lines, plan.roles
    commits = 0
    i, n = 0, len(lines)
    while i < n:
        role = roles[i].role
        commits += role == "commit"
        if role not in ("meta", "body"):
            i += 1
            continue
        j = i
        while j < n and roles[j].role == role:
            j += 1
        if role == "meta" and commits > META_COMMITS and j - i >= 2:
            plan.fold(i, j, fold_note(j - i, "header line", "Author/Date"))
        elif role == "body":
            end = j
            while end > i and not lines[end - 1].strip():
                end -= 1  # the blank line before the next commit stays
            shown = [k for k in range(i, end) if lines[k].strip()][:MESSAGE_KEPT]
            _fold_run(plan, range(shown[-1] + 1 if shown else i, end), "message line")
        i = j


def _fold_lists(plan: Plan) -> None:
    """One-line commits keep a head and tail; untracked paths keep the first few and fold the
    rest, counted by directory."""
    roles = plan.roles
    items = [i for i, r in enumerate(roles) if r.role == "item"]
    if len(items) > LIST_HEAD + LIST_TAIL:
        _fold_members(plan, items[LIST_HEAD:-LIST_TAIL], "commit", lambda k: "")
    untracked = [i for i, r in enumerate(roles) if r.role == "untracked"]
    if len(untracked) > UNTRACKED_KEPT + MIN_DIFF_FOLD:
        _fold_members(plan, untracked[UNTRACKED_KEPT:], "untracked path", lambda k: _top_dir(roles[k].owner))


def _top_dir(path: str) -> str:
    return path.split("/", 1)[0] + "/" if "/" in path else "."


def _fold_members(plan: Plan, members: list[int], unit: str, key: Callable[[int], str]) -> None:
    """Fold runs of consecutive member lines that do not mention the query; the note counts
    them per key (a directory, a commit)."""
    runs: list[list[int]] = []
    for k in members:
        if mentions(plan.lines[k], plan.terms):
            continue
        if runs and runs[-1][-1] == k - 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    for run in runs:
        if len(run) >= MIN_DIFF_FOLD:
            counts = Counter(key(k) for k in run)
            detail = ", ".join(f"{c} in {d}" for d, c in counts.most_common(6) if d)
            plan.fold(run[0], run[-1] + 1, fold_note(len(run), unit, detail))


def _fold_blame(plan: Plan) -> None:
    """A long blame keeps its head, tail, and a window around lines that mention the query."""
    blame = [i for i, r in enumerate(plan.roles) if r.role == "blame"]
    near: set[int] = set()
    for i in blame:
        if mentions(plan.lines[i], plan.terms) or is_error_line(plan.lines[i]):
            near.update(range(i - BLAME_WINDOW, i + BLAME_WINDOW + 1))
    middle = [i for i in blame[LIST_HEAD:-LIST_TAIL] if i not in near]
    _fold_members(plan, middle, "blame line", lambda k: plan.roles[k].owner[:8])


# --- output ----------------------------------------------------------------------------------


def _selection(lines: list[str], keep: list[bool], notes: dict[int, str]) -> Selection:
    """Kept runs verbatim; each folded run is replaced by the note registered at its start."""
    selection: Selection = []
    i, n = 0, len(lines)
    while i < n:
        if keep[i]:
            j = i
            while j < n and keep[j]:
                j += 1
            selection.append(Keep(i, j))
        else:
            j = i + 1
            while j < n and not keep[j] and j not in notes:
                j += 1
            selection.append(Note(notes.get(i) or fold_note(j - i, "line"), i, j))
        i = j
    return selection

