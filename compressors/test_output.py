"""Test-runner output: keep failures, failing test names and summaries; fold passes and setup.

Understands pytest (progress, -v, FAILURES/ERRORS, warnings summary, short summary), unittest
and Django's runtests.py (dots, `... ok`, ERROR:/FAIL: blocks), sympy's bin/test, go test,
cargo test, jest/vitest and Maven surefire. Tracebacks, errors, query matches and the ends
of the output are then handled as in a log (compressors.log_output). In a run that passed,
what the tests wrote to stderr folds (on Claude Code's sessions it was most of a passing
vitest run, and held none of the needles).
"""

from __future__ import annotations

import re
from collections import Counter

from compressors.lines import Keep, Selection
from compressors.log_output import finish, log_plan, without_crlf
from compressors.log_templates import Plan, Reason, template
from compressors.types import Context

# A test run is trimmed harder than a log: once failures, failing names, tracebacks and
# summaries are kept (never trimmed), what is left is passing chatter and captured output.
# On the corpus, 0.25/1200 instead of the log's 0.5/2000 cut 9% more tokens, no needle lost.
TRIM_RATIO, TRIM_MIN_CHARS = 0.25, 1200
MESSAGE_CHARS = 1500  # an assertion message and diff kept whole up to about this size
PASSED = Reason("passing test line")
SETUP = Reason("line", "test setup")
WARNINGS = Reason("line", "repeated warnings and their locations")

# A line that reports one passing (or skipped) test.
_PASS_LINE = re.compile(
    r"^(\S+::\S.*? (PASSED|SKIPPED|XFAIL|XPASS)\b.*"  # pytest -v
    r"|PASSED \S+::\S.*"  # pytest -rA summary
    r"|.*\S \.\.\. (ok|skipped\b.*|expected failure)"  # unittest, Django, cargo (`test x ... ok`)
    r"|\s*--- (PASS|SKIP): .*|=== (RUN|PAUSE|CONT|NAME) .*|ok\s+\S+\s+(\(cached\)|[\d.]+s).*|PASS"  # go
    r"|\s*[✓√✔] .*|PASS \S.*"  # jest, vitest, mocha
    r"|(\[INFO\] )?Tests run: \d+, Failures: 0, Errors: 0, Skipped: \d+, Time elapsed: .*"  # surefire, per class
    r"|(\[INFO\] )?Running [\w.$]+)$"
)
# pytest progress (`tests/test_x.py ....s.   [ 40%]`), sympy (`path[12] ....`), bare dots.
_PROGRESS = re.compile(r"^(\S+(\[\d+\])? )?[.sxXFEfu]+\s*(\[\s*\d+%\]|\[(OK|FAIL)\])?$")
_SETUP = re.compile(
    r"^(=+ test (session|process) starts =+|platform \w+ -- Python|cachedir:|plugins:|libraries:|base tempdir:|"
    r"hypothesis profile|Using --randomly-seed|django: |asyncio: mode|"
    r"executable: |architecture: |cache: |ground types: |numpy: |random seed: |hash randomization: |"
    r"(Creating|Cloning|Destroying) test database for alias|Testing against Django installed in|"
    r"System check identified no issues|Using existing (test database|clone)|Importing application |"
    r"Skipping setup of unused database|Operations to perform:|Synchroniz|Running migrations:|"
    r"\s+(Apply all migrations|Synchronize unmigrated apps|Creating tables?|Running deferred SQL|Applying \S+\.\.\. OK)|"
    r"\s+(Compiling|Finished|Doc-tests|Downloaded|Downloading|Updating|Locking|Blocking) |"
    r"\[INFO\] (Download(ing|ed) from|-+< |Building |-{20,}$|$))"
)
_SUMMARY = re.compile(
    r"^(=+ .*\b(passed|failed|errors?|skipped|deselected|xfailed|xpassed|no tests ran|warnings?)\b.* in [\d.]+m?s\b.*=+"
    r"|\d+ (passed|failed|errors?)\b.* in [\d.]+m?s.*|Ran \d+ tests? in .*|OK( \(.*\))?|FAILED \(.*\)"
    r"|(Tests|Test Suites|Snapshots|Time|Test Files|Duration):\s.*|test result: .*|.*\btests finished: .*"
    r"|collected \d+ items?.*|Found \d+ test.*|running \d+ tests?|FAIL\s*|FAIL\s+\S+\s+[\d.]+s"
    r"|(\[\w+\] )?Tests run: \d+, Failures: \d+, Errors: \d+, Skipped: \d+\s*|(\[\w+\] )?BUILD (SUCCESS|FAILURE).*"
    r"|\s*(Test Files|Tests|Duration)\s{2,}\S.*|\s*\d+ (passing|failing|pending)\b.*)$"  # vitest, mocha
)
# Lines naming a failing test or pointing into a failure (always kept).
_FAILING = re.compile(
    r"^(\S+::\S.*? (FAILED|ERROR)\b.*|(FAILED|ERROR) \S.*|(ERROR|FAIL|UNEXPECTED SUCCESS): .*"
    r"|.* \.\.\. (FAIL|ERROR|FAILED|unexpected success)"
    r"|_{3,} .+ _{3,}|E   .*|>   .*|\S+:\d+: (in \S+|\w*(Error|Exception|Failed|Failure)\b.*)"
    r"|\s*--- FAIL: .*|---- \S+ stdout ----|thread '.*' panicked at .*|\s*[✕×✗] .*|FAIL \S.*|\s*● .*"
    r"|.*<<< (FAILURE|ERROR)!.*)$"
)
# Headers of a failure's own output: go's `--- FAIL:`, cargo's `---- name stdout ----`, jest's `●`.
_BLOCK_HEAD = re.compile(r"^(\s*--- FAIL: |---- \S+ stdout ----|\s*● )")
BLOCK_MUST_LINES = 15  # the first lines of such a block (message, expected/received) always stay
# vitest's console output captured from one test, up to a blank line: `stderr | file > suite > test`.
_CAPTURED_STDERR = re.compile(r"^stderr \| \S")
CAPTURED = Reason("line", "stderr of passing tests")
_FAILED_COUNT = re.compile(r"\b[1-9]\d* (failed|failing|errors?)\b", re.IGNORECASE)
_PASSED_COUNT = re.compile(r"\b\d+ (passed|passing)\b")
_SECTION = re.compile(r"^(=+|-+) (.+?) (=+|-+)$")
_SEPARATOR = re.compile(r"^(=|-){20,}$")
_WARNING_MESSAGE = re.compile(r"^\s+\S.*?(\w*Warning): (.*)$")
_LONG_DOTS = re.compile(r"^[.sxXFEfu]{30,}$")
# What each progress mark stands for, singular and plural.
_MARKS = {".": ("passed", "passed"), "F": ("failed", "failed"), "E": ("error", "errors"), "s": ("skipped", "skipped"),
          "x": ("expected failure", "expected failures"), "f": ("expected failure", "expected failures"),
          "X": ("unexpected pass", "unexpected passes"), "u": ("unexpected success", "unexpected successes")}  # fmt: skip


def select_test(lines: list[str], context: Context) -> Selection:
    """Select the lines of a test run to keep: failures with their tracebacks and diffs,
    failing test names, summaries; passing tests, setup chatter and repeated warnings fold."""
    if len(lines) < 8:
        return [Keep(0, len(lines))] if lines else []
    lines = without_crlf(lines)
    plan = Plan.empty(lines)
    mark_test_lines(plan)
    mark_sections(plan)
    mark_unittest_blocks(plan)
    mark_failure_blocks(plan)
    mark_passing_stderr(plan)
    return finish(log_plan(lines, context, plan), TRIM_RATIO, TRIM_MIN_CHARS)


def mark_test_lines(plan: Plan) -> None:
    """Classify single lines: failing (kept), summary (kept), passing and setup (folded)."""
    for k, line in enumerate(plan.lines):
        if _FAILING.match(line) or _SUMMARY.match(line):
            plan.mark_must(k, k + 1)
        elif _PASS_LINE.match(line):
            plan.fold[k] = PASSED
        elif _SETUP.match(line):
            plan.fold[k] = SETUP
        elif _LONG_DOTS.match(line):
            plan.fold[k] = _dots_reason(line)
        elif _PROGRESS.match(line):
            if any(c in line.split(" ", 1)[-1] for c in "FE"):
                plan.mark_must(k, k + 1)  # names a file with failures: never trimmed
                continue
            plan.fold[k] = PASSED
        else:
            continue
        plan.mark_owned(k, k + 1)
    _unfold_short_runs(plan, (PASSED, SETUP))


def _unfold_short_runs(plan: Plan, reasons: tuple[Reason, ...], min_run: int = 3) -> None:
    """A lone passing or setup line is kept: it may name the only file or test involved."""
    lines, n, i = plan.lines, len(plan.lines), 0
    while i < n:
        if plan.fold[i] not in reasons:
            i += 1
            continue
        j = i
        while j < n and (plan.fold[j] in reasons or (not lines[j].strip() and j + 1 < n and plan.fold[j + 1] in reasons)):
            j += 1
        if sum(plan.fold[k] is not None for k in range(i, j)) < min_run:
            for k in range(i, j):
                plan.fold[k] = None
        i = j


def _dots_reason(line: str) -> Reason:
    """A runner's line of progress marks, as counts (`309 passed, 1 error, 1 skipped`)."""
    counts = Counter(line)
    detail = ", ".join(f"{n:,} {_MARKS[c][n != 1]}" for c, n in counts.most_common())
    return Reason("progress line", detail, alone=True)


def mark_sections(plan: Plan) -> None:
    """pytest sections: failures kept (their captured output left to log folding), the
    warnings summary reduced to the first occurrence of each distinct warning."""
    name = ""
    warnings: list[int] = []
    for k, line in enumerate(plan.lines):
        section = _SECTION.match(line)
        if section:
            if plan.fold[k] is None:  # not the session banner, folded with the setup
                plan.mark_must(k, k + 1)
            plan.mark_owned(k, k + 1)
            if line.startswith("="):
                name = section.group(2).lower()
            elif "captured" in section.group(2).lower():
                name = "captured"
            continue
        if name in ("failures", "errors"):
            plan.mark_soft(k, k + 1)
        elif name == "warnings summary":
            warnings.append(k)
    _mark_warnings(plan, warnings)


def _mark_warnings(plan: Plan, indices: list[int]) -> None:
    """Keep each distinct warning message once (with its source line); fold the rest."""
    lines = plan.lines
    seen: set[str] = set()
    keep_source = False
    for k in indices:
        line = lines[k]
        message = _WARNING_MESSAGE.match(line)
        key = template(line)
        if message and key not in seen:
            seen.add(key)
            plan.mark_must(k, k + 1)
            keep_source = True
        elif keep_source and line.startswith("    ") and line.strip():
            plan.mark_must(k, k + 1)
        else:
            keep_source = False
            plan.fold[k] = WARNINGS
        plan.mark_owned(k, k + 1)


def mark_unittest_blocks(plan: Plan) -> None:
    """unittest/Django `ERROR:`/`FAIL:` blocks: header kept; after the traceback, the
    assertion message and diff are kept up to the next separator."""
    lines, n = plan.lines, len(plan.lines)
    for k, line in enumerate(lines):
        if not (k + 1 < n and _SEPARATOR.match(lines[k + 1]) and re.match(r"^(ERROR|FAIL|UNEXPECTED SUCCESS): ", line)):
            continue
        j = k + 2
        while j < n and not _SEPARATOR.match(lines[j]) and j - k < 400:
            j += 1
        plan.mark_soft(k, j)
        # The exception message and diff: from the first unindented line after the traceback.
        m = j - 1
        while m > k + 2 and (lines[m].strip() == "" or not lines[m].startswith(" ")):
            m -= 1
        budget = MESSAGE_CHARS
        for q in range(m + 1, min(j, m + 41)):
            budget -= len(lines[q]) + 1
            if budget < 0 and q > m + 2:
                break
            plan.mark_must(q, q + 1)


def mark_failure_blocks(plan: Plan) -> None:
    """go, cargo and jest failures: the output under a failure header is kept (its first
    lines always). go -v prints a test's output before its `--- FAIL:`, from `=== RUN` on."""
    lines, n = plan.lines, len(plan.lines)
    for k, line in enumerate(lines):
        if not _BLOCK_HEAD.match(line):
            continue
        j = k + 1
        while j < n and j - k < 400 and not _BLOCK_HEAD.match(lines[j]) and _in_block(line, lines[j]):
            j += 1
        plan.mark_soft(k, j)
        plan.mark_must(k, min(j, k + BLOCK_MUST_LINES))
        if line.lstrip().startswith("--- FAIL: "):
            name = line.split()[2]
            start = next((m for m in range(k - 1, max(-1, k - 200), -1) if lines[m].lstrip().startswith(f"=== RUN   {name}")), k)
            plan.mark_must(start + 1, k)


def mark_passing_stderr(plan: Plan) -> None:
    """In a run whose summary reports passes and no failure, what tests wrote to stderr
    (vitest's `stderr | file > test` blocks: errors the code under test logs on the paths the
    tests exercise) folds, header and all. What they wrote to stdout (often the agent's own
    debug prints) stays, and nothing folds in a run with a failure."""
    lines, n = plan.lines, len(plan.lines)
    if not any(_CAPTURED_STDERR.match(line) for line in lines) or not _run_passed(lines):
        return  # the cheap test first: most runs hold no such block
    for k, line in enumerate(lines):
        if not _CAPTURED_STDERR.match(line):
            continue
        j = k + 1
        while j < n and lines[j].strip() and not _CAPTURED_STDERR.match(lines[j]):
            j += 1
        if j < n and not lines[j].strip():
            j += 1  # the blank line that ends the block goes with it
        for q in range(k, j):
            if not plan.must[q]:
                plan.fold[q] = CAPTURED
        plan.mark_owned(k, j)


def _run_passed(lines: list[str]) -> bool:
    """Whether the output holds a summary that counts passes and no failing test or error."""
    summaries = [line for line in lines if _SUMMARY.match(line)]
    return (
        any(_PASSED_COUNT.search(line) for line in summaries)
        and not any(_FAILED_COUNT.search(line) for line in summaries)
        and not any(_FAILING.match(line) for line in lines)
    )


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _in_block(head: str, line: str) -> bool:
    """cargo's block runs to a blank line; go's and jest's while lines are indented deeper."""
    if head.startswith("---- "):
        return bool(line.strip())
    return not line.strip() or _indent(line) > _indent(head)
