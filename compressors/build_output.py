"""Build, lint and install output: tsc, eslint, ruff, mypy, flake8, pylint, gcc/clang, cargo,
make, pip, npm, apt.

Every distinct diagnostic stays with its location and code frame; a diagnostic repeated (same
rule, same message) at many locations keeps its first occurrences and folds the rest into a
note listing where they were. Progress noise (Compiling, Downloading, Collecting, Requirement
already satisfied, apt's Get/Unpacking...) folds into counts per kind; summaries and anything
unrecognised stay.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from compressors.lines import Keep, Note, Selection, saves_enough
from compressors.notes import fold_note, plural
from compressors.relevance import mentions, query_terms
from compressors.types import Context

REPEAT_KEPT = 2  # occurrences of one diagnostic kept before the rest fold
MIN_NOISE_RUN = 3  # shorter runs of progress lines stay
LOCATIONS_SHOWN = 5  # locations a fold note lists per diagnostic
SUBJECTS_SHOWN = 8  # package/crate names a progress note lists per kind
MIN_SAVING = 0.2  # below this, the output is returned whole

_SEVERITY = r"(?P<sev>fatal error|error|warning|warn|note|info|hint|remark|ERROR|WARNING|Error|Warning)"
# path:line[:col]: severity: message [rule]   (gcc, clang, mypy, sphinx, go vet, swiftc, ...)
_LOCATED = re.compile(
    rf"^(?P<loc>[^\s:()][^:()]*?:\d+(?::\d+)?(?:-\d+(?::\d+)?)?):?\s+{_SEVERITY}:?\s+"
    r"(?P<msg>.*?)(?:\s+\[(?P<rule>[\w./=-]+)\])?$"
)
# path:line:col: CODE message   (ruff, flake8, pycodestyle; pylint writes `CODE: message`)
_CODED = re.compile(
    r"^(?P<loc>[^\s:()][^:()]*?:\d+(?::\d+)?):\s+(?P<rule>[A-Z]{1,4}\d{2,5}):?\s+(?:\[\*\]\s+)?(?P<msg>.*)$"
)
# tsc: file(12,5): error TS2322: message   and   file:12:5 - error TS2322: message
_TSC = re.compile(
    r"^(?P<loc>\S+?(?:\(\d+,\d+\)|:\d+:\d+))(?::| -) (?P<sev>error|warning) (?P<rule>TS\d+): (?P<msg>.*)$"
)
# golangci-lint, go vet: path:line:col: message (linter), then the source line and a caret
_GO_LINT = re.compile(r"^(?P<loc>[^\s:()][^:()]*?\.go:\d+(?::\d+)?): (?P<msg>.*) \((?P<rule>[a-z][\w-]*)\)$")
_CARET = re.compile(r"^\s*\^\s*$")
# rustc/cargo: error[E0308]: message, followed by "  --> src/main.rs:12:5"
_RUST_HEAD = re.compile(r"^(?P<sev>error|warning)(?:\[(?P<rule>[\w:]+)\])?: (?P<msg>.*)$")
_RUST_ARROW = re.compile(r"^\s*--> (?P<loc>\S+)")
# eslint's stylish format: a path line, then "  12:5  error  message  rule-id"
_ESLINT = re.compile(r"^\s+(?P<loc>\d+:\d+)\s+(?P<sev>error|warning)\s+(?P<msg>.*?)(?:\s{2,}(?P<rule>[@\w/-]+))?$")
_ESLINT_FILE = re.compile(r"^(/|[A-Za-z]:\\|\.{0,2}/)?[^\s:]+\.\w+$")
_FRAME = re.compile(r"^\s*(\d+\s*)?[|│]|^\s*-->|^\s*= (note|help):|^\s*[~^]+[~^ -]*$|^\s+\d+ +\S|^\s*\.\.\.$")

_SUMMARY = re.compile(
    r"(^Found \d+ errors?|\b\d+ (errors?|warnings?|problems?) (generated|found)|^✖ \d+ problems?|"
    r"\bcould not compile\b|generated \d+ warnings?|^\s*Finished\b|^make(\[\d+\])?: \*\*\*|"
    r"^Successfully (installed|built)|^added \d+ packages?|\bbuild (succeeded|failed|finished)|"
    r"BUILD (SUCCESSFUL|FAILED)|^Success: no issues found|^All checks passed|Your code has been rated|"
    r"\d+ fixable with|^\d+ upgraded, \d+ newly installed|aborting due to)",
    re.IGNORECASE,
)
_NOISE = re.compile(
    r"^\s*(?P<kind>Requirement already satisfied|Collecting|Downloading|Using cached|Obtaining|Processing|"
    r"Preparing metadata|Preparing editable metadata|Installing build dependencies|Getting requirements to build|"
    r"Checking if build backend|Building wheels? for|Building editable for|Created wheel for|Stored in directory|"
    r"Attempting uninstall|Found existing installation|Uninstalling|Successfully uninstalled|Looking in indexes|"
    r"Compiling|Checking|Downloaded|Fresh|Updating|Locking|Adding|Blocking|Documenting|Packaging|Verifying|"
    r"Get:\d+|Hit:\d+|Ign:\d+|Selecting previously unselected package|Preparing to unpack|Unpacking|Setting up|"
    r"Processing triggers for|\(Reading database|npm WARN deprecated|npm notice|"
    r"make(?:\[\d+\])?: (?:Entering|Leaving) directory|\[\s*\d+%\]|\[\d+/\d+\]|"
    r"(?:CC|CXX|LD|AR|GEN|CCLD|CXXLD|AS)\s{2,}|(?:gcc|g\+\+|cc|c\+\+|clang|clang\+\+)(?=\s.*\s-c\s)|"
    r"reading sources\.\.\.|writing output\.\.\.|highlighting module code\.\.\.|copying \w+ files|"
    r"[a-z][\w ]{2,40}\.\.\. (?:done|\[\s*\d+%\]))"
    r"|^\s*\|?[━█▉▊▋▌▍▎▏╸╺]{5,}"  # pip's progress bars
)

# progress kinds followed by a package, crate or apt package name, which the note lists
_NAMED = frozenset(
    (
        "Requirement already satisfied", "Collecting", "Downloading", "Using cached", "Building wheel for",
        "Created wheel for", "Attempting uninstall", "Found existing installation", "Uninstalling",
        "Successfully uninstalled", "Compiling", "Checking", "Downloaded", "Fresh", "Documenting", "Unpacking",
        "Setting up", "Selecting previously unselected package",
    )
)  # fmt: skip
_MODULE_HEADER = re.compile(r"^\*{5,} Module \S+$")  # pylint groups diagnostics under these
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`")
_DIGITS = re.compile(r"\d+")
_NAME = re.compile(r"[A-Za-z][\w.+-]*(?=[\s<>=!~;,\[(:]|$)(?!://)")  # a package or crate name


@dataclass(frozen=True)
class Diagnostic:
    """One diagnostic's head line: where, which rule, what it says."""

    line: int
    location: str
    rule: str
    message: str
    error: bool

    @property
    def path(self) -> str:
        """The file part of the location."""
        return re.split(r"[:(]\d", self.location, maxsplit=1)[0]

    @property
    def key(self) -> tuple[str, str]:
        """Same rule and message: an error's exact text, a warning's with numbers and quoted
        names blurred (a "line too long (88 > 79)" or a `Disallowed name "foo"` is one problem
        however long the line or whatever the name; the kept occurrences show real ones)."""
        if self.error:
            return self.rule, self.message
        return self.rule, _DIGITS.sub("#", _QUOTED.sub("'…'", self.message))


def select_build(lines: list[str], context: Context) -> Selection:
    """Keep every distinct diagnostic and the summary; fold repeats and progress noise."""
    if not lines:
        return []
    diagnostics, owner = parse_diagnostics(lines)
    terms = query_terms(context.query)
    keep = [True] * len(lines)
    _fold_repeats(lines, diagnostics, owner, terms, keep)
    _fold_file_headers(lines, owner, keep)
    _fold_noise(lines, keep)
    selection = _selection(lines, keep, diagnostics, owner)
    return selection if saves_enough(lines, selection, MIN_SAVING) else [Keep(0, len(lines))]


# --- parsing ---------------------------------------------------------------------------------


def parse_diagnostics(lines: list[str]) -> tuple[list[Diagnostic], list[int]]:
    """The diagnostics, and for each line the index of the diagnostic it belongs to (its head,
    code frame, notes) or -1."""
    diagnostics: list[Diagnostic] = []
    owner = [-1] * len(lines)
    eslint_file = ""
    current = -1  # diagnostic whose frame may continue
    for i, line in enumerate(lines):
        found = _diagnostic(lines, i, eslint_file)
        if found and not (current >= 0 and _is_note(line)):
            diagnostics.append(found)
            current = len(diagnostics) - 1
            owner[i] = current
        elif current >= 0 and (_FRAME.match(line) or _is_note(line) or (i + 1 < len(lines) and _CARET.match(lines[i + 1]))):
            owner[i] = current  # code frame, `--> file:line`, mypy/gcc notes, the line a caret points at
        else:
            current = -1
            if _ESLINT_FILE.match(line) and i + 1 < len(lines) and _ESLINT.match(lines[i + 1]):
                eslint_file = line
    return diagnostics, owner


def diagnostic_share(lines: list[str], min_diagnostics: int = 3) -> float:
    """The share of lines that are diagnostics, their code frames or the file lines heading
    them; 0 with fewer than `min_diagnostics` diagnostics."""
    diagnostics, owner = parse_diagnostics(lines)
    if not lines or len(diagnostics) < min_diagnostics:
        return 0.0
    return sum(o >= 0 or _is_file_header(lines, k) for k, o in enumerate(owner)) / len(lines)


def _is_note(line: str) -> bool:
    m = _LOCATED.match(line)
    return bool(m and m.group("sev").lower() in ("note", "info", "hint"))


def _diagnostic(lines: list[str], i: int, eslint_file: str) -> Diagnostic | None:
    found = _match_diagnostic(lines, i, eslint_file)
    # A summary line ("Found 3 errors") is not a diagnostic; the check is costly, so it runs
    # only on the few lines that look like one.
    if found is not None and _SUMMARY.search(lines[i]) and not _TSC.match(lines[i]):
        return None
    return found


def _match_diagnostic(lines: list[str], i: int, eslint_file: str) -> Diagnostic | None:
    line = lines[i]
    if m := _TSC.match(line):
        return Diagnostic(i, m.group("loc"), m.group("rule"), m.group("msg"), m.group("sev") == "error")
    if m := _CODED.match(line):
        return Diagnostic(i, m.group("loc"), m.group("rule"), m.group("msg"), False)
    if m := _GO_LINT.match(line):
        return Diagnostic(i, m.group("loc"), m.group("rule"), m.group("msg"), m.group("rule") == "typecheck")
    if m := _LOCATED.match(line):
        error = m.group("sev").lower() in ("error", "fatal error")
        return Diagnostic(i, m.group("loc"), m.group("rule") or "", m.group("msg"), error)
    if m := _RUST_HEAD.match(line):
        arrow = next((a for line in lines[i + 1 : i + 3] if (a := _RUST_ARROW.match(line))), None)
        location = arrow.group("loc") if arrow else ""
        return Diagnostic(i, location, m.group("rule") or "", m.group("msg"), m.group("sev") == "error")
    if eslint_file and (m := _ESLINT.match(line)):
        location = f"{eslint_file}:{m.group('loc')}"
        return Diagnostic(i, location, m.group("rule") or "", m.group("msg"), m.group("sev") == "error")
    return None


# --- folding ---------------------------------------------------------------------------------


def _fold_repeats(
    lines: list[str], diagnostics: list[Diagnostic], owner: list[int], terms: frozenset[str], keep: list[bool]
) -> None:
    """Past REPEAT_KEPT occurrences of one diagnostic, later ones fold with their frames, unless
    they mention the query."""
    seen: Counter[tuple[str, str]] = Counter()
    folded: set[int] = set()
    for d, diagnostic in enumerate(diagnostics):
        seen[diagnostic.key] += 1
        if seen[diagnostic.key] > REPEAT_KEPT and not mentions(lines[diagnostic.line], terms):
            folded.add(d)
    for i, d in enumerate(owner):
        if d in folded:
            keep[i] = False


def _fold_file_headers(lines: list[str], owner: list[int], keep: list[bool]) -> None:
    """A header naming the file its diagnostics come from (pylint's `************* Module x`,
    eslint's path line) folds with its diagnostics when all of them fold, and so does the blank
    line that parts it from the group before (each diagnostic names its file anyway); it stays
    while any of them is shown."""
    for i, line in enumerate(lines):
        if not _is_file_header(lines, i):
            continue
        j = i + 1
        while j < len(lines) and owner[j] >= 0:
            j += 1
        if j > i + 1 and not any(keep[i + 1 : j]):
            keep[i] = False
            owner[i] = owner[i + 1]  # noted with the diagnostics it heads
            if i > 1 and not lines[i - 1].strip() and owner[i - 2] >= 0 and not keep[i - 2]:  # between two folded groups
                keep[i - 1] = False
                owner[i - 1] = owner[i]


def _is_file_header(lines: list[str], i: int) -> bool:
    line = lines[i]
    return bool(_MODULE_HEADER.match(line)) or bool(
        _ESLINT_FILE.match(line) and i + 1 < len(lines) and _ESLINT.match(lines[i + 1])
    )


def _fold_noise(lines: list[str], keep: list[bool]) -> None:
    """Runs of progress lines (blank lines inside a run count with it) fold."""
    i, n = 0, len(lines)
    while i < n:
        if not (keep[i] and _is_noise(lines[i])):
            i += 1
            continue
        j = i
        while j < n and keep[j] and (_is_noise(lines[j]) or _blank_before_noise(lines, j)):
            j += 1
        if sum(_is_noise(lines[k]) for k in range(i, j)) >= MIN_NOISE_RUN:
            for k in range(i, j):
                keep[k] = False
        i = j


def _blank_before_noise(lines: list[str], j: int) -> bool:
    return not lines[j].strip() and j + 1 < len(lines) and _is_noise(lines[j + 1])


def _is_noise(line: str) -> bool:
    # no error-word check: package names such as pytest-timeout or error-chain are not errors
    return bool(_NOISE.match(line)) and not _SUMMARY.search(line)


# --- output ----------------------------------------------------------------------------------


def _selection(lines: list[str], keep: list[bool], diagnostics: list[Diagnostic], owner: list[int]) -> Selection:
    """Kept runs verbatim; folded runs (repeats apart from noise) as notes, unless a note would
    be as long as the lines it stands for."""
    selection: Selection = []
    i, n = 0, len(lines)
    while i < n:
        j = i
        while j < n and keep[j] == keep[i] and (keep[i] or (owner[j] >= 0) == (owner[i] >= 0)):
            j += 1
        note = ""
        if not keep[i]:
            heads = [diagnostics[owner[k]] for k in range(i, j) if owner[k] >= 0 and diagnostics[owner[k]].line == k]
            note = _diagnostics_note(heads) if heads else _noise_note(lines[i:j])
        if note and len(note) < sum(len(line) + 1 for line in lines[i:j]):
            selection.append(Note(note, i, j))
        elif selection and isinstance(selection[-1], Keep):  # a note as long as the lines: keep them
            selection[-1] = Keep(selection[-1].start, j)
        else:
            selection.append(Keep(i, j))
        i = j
    return selection


def _diagnostics_note(heads: list[Diagnostic]) -> str:
    groups: dict[tuple[str, str], list[Diagnostic]] = {}
    for d in heads:
        groups.setdefault(d.key, []).append(d)
    parts = []
    for same in sorted(groups.values(), key=len, reverse=True)[:3]:
        first = same[0]
        # where quoted names differ, the first message with them blurred (`Unused argument '…'`)
        names_differ = len({_QUOTED.sub("", d.message) for d in same}) < len({d.message for d in same})
        message = _QUOTED.sub("'…'", first.message) if names_differ else first.message
        label = f"{first.rule} {message}".strip()
        label = label if len(label) <= 80 else label[:79] + "…"  # the kept occurrences show it whole
        where = ", ".join(d.location for d in same[:LOCATIONS_SHOWN] if d.location)
        rest = same[LOCATIONS_SHOWN:]
        more = f" +{len(rest)} more in {plural(len({d.path for d in rest}), 'file')}" if rest else ""
        parts.append(f"{label} ×{len(same)}" + (f" at {where}{more}" if where else ""))
    if len(groups) > 3:
        parts.append(f"+{plural(len(groups) - 3, 'other kind')}")
    return fold_note(len(heads), "repeated diagnostic", "; ".join(parts))


def _noise_note(run: list[str]) -> str:
    kinds: dict[str, list[str]] = {}
    for line in run:
        m = _NOISE.match(line)
        if not m:
            continue
        kind = re.sub(r"\d+", "N", re.sub(r":\d+$", "", (m.group("kind") or "progress").strip(" (:")))
        name = _NAME.match(line[m.end() :].lstrip(" :")) if kind in _NAMED else None
        kinds.setdefault(kind, []).append(name.group(0) if name else "")
    parts = []
    for rank, (kind, subjects) in enumerate(sorted(kinds.items(), key=lambda kv: -len(kv[1]))):
        names = list(dict.fromkeys(s for s in subjects if s))
        shown = ", ".join(names[:SUBJECTS_SHOWN]) + (", …" if len(names) > SUBJECTS_SHOWN else "")
        named = rank < 2 or len(subjects) <= 2  # the main kinds, and one-offs (what was uninstalled)
        parts.append(f"{kind} ×{len(subjects)}" + (f" ({shown})" if shown and named else ""))
    return fold_note(len(run), "line", "; ".join(parts[:6]))

