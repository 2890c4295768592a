"""Which kind of output a text is: from the tool call first, then from the content."""

from __future__ import annotations

import json
import re
import shlex

from compressors.search_records import looks_like_records
from compressors.types import Context

CODE_EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascript", ".ts": "typescript", ".mts": "typescript", ".tsx": "tsx", ".go": "go", ".rs": "rust",
    ".java": "java", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp",
    ".hh": "cpp", ".cs": "csharp", ".rb": "ruby", ".php": "php", ".kt": "kotlin", ".swift": "swift",
    ".scala": "scala",
}  # fmt: skip
_FILE_KINDS = {".json": "json", ".html": "html", ".htm": "html", ".log": "log", ".diff": "diff", ".patch": "diff"}

_TEST_COMMANDS = re.compile(
    r"(^|[\s/;&|(])(pytest|py\.test|tox|nox|jest|vitest|mocha|ava|phpunit|rspec|minitest|ctest|"
    r"runtests\.py|manage\.py test|bin/test|-m pytest|-m unittest|go test|cargo test|cargo nextest|mvn( \S+)* test|"
    r"gradlew?( \S+)* test|npm( run)? test|yarn test|pnpm test|bun test|dotnet test|mix test|"
    r"(make|just|task) test[\w:-]*)\b"
)
_VCS_COMMANDS = re.compile(r"(^|[\s;&|(])git\s+(-[Cc]\s+\S+\s+|-\S+\s+)*(diff|show|log|status|blame|stash show|format-patch)\b")
_SEARCH_COMMANDS = re.compile(r"(^|[\s;&|(])(grep|egrep|fgrep|rg|ag|ack|git grep|find|fd|ls|tree|locate)\b")
_BUILD_COMMANDS = re.compile(
    r"(^|[\s;&|(])(tsc|eslint|ruff|mypy|pyright|flake8|pylint|golangci-lint|staticcheck|shellcheck|gcc|g\+\+|clang|make|cmake|ninja|"
    r"cargo (build|check|clippy|install)|go (build|vet|get|mod download)|(npm|pnpm|yarn|bun) run (build|lint|typecheck|type-check)|mvn( \S+)* (compile|package)|javac|"
    r"pip3? install|-m pip install|uv pip install|uv sync|poetry install|conda install|npm (install|ci|i)|"
    r"yarn( install| add)?|pnpm (install|add)|apt(-get)? (install|update)|bundle install|gem install|sphinx-build)\b"
)
_READ_COMMANDS = re.compile(r"^\s*(cat|head|tail|nl|less|bat|sed)\s")
_READ_TOOLS = {"read", "read_file", "readfile", "view", "open", "view_file", "str_replace_editor", "cat"}
_SEARCH_TOOLS = {"grep", "glob", "ls", "list_dir", "list_files", "find_file", "search_dir", "search_file", "find", "search"}
_HTML_TOOLS = {"webfetch", "web_fetch", "fetch", "browse", "scrape"}
# A background shell's output polled by id (Claude Code's BashOutput): a log, newest last.
_PROCESS_OUTPUT_TOOLS = {"bashoutput", "bash_output"}
# Outputs the model acts on exactly and that are short or already distilled: Claude Code's edit
# confirmations (the snippet it edits from next), sub-agent reports, and the user's own words
# (the plan the user approved, which ExitPlanMode hands back whole for the model to carry out,
# and the answers to its questions). Left whole. (Claude Code's own names: SWE-agent's `edit`
# prints a window the corpus shows is worth compressing.)
_WHOLE_TOOLS = {"Edit", "MultiEdit", "Write", "NotebookEdit", "Task", "Agent", "ExitPlanMode", "AskUserQuestion"}

# One line of pretty-printed JSON: a key and value, a bare value, or a bracket.
_JSON_LINE = re.compile(r'^\s*(?:"(?:[^"\\]|\\.)*"\s*:\s*\S.*|"(?:[^"\\]|\\.)*",?|-?\d[\d.eE+-]*,?|true,?|false,?|null,?|[\[\]{}],?|[\]}],?)\s*$')
_DIFF_RE = re.compile(r"^(diff --git |--- a/|\+\+\+ b/|@@ -\d+(,\d+)? \+\d+(,\d+)? @@)", re.MULTILINE)
_HTML_DOC = re.compile(r"^\s*<!doctype html\b", re.IGNORECASE | re.MULTILINE)
_HTML_TAG = re.compile(
    r"</?(html|head|body|div|p|table|script|span|a|option|li|ul|ol|tr|td|th|form|input|h[1-6]|section|br|img|meta|link)\b",
    re.IGNORECASE,
)
_TEST_RE = re.compile(
    r"(^=+ (FAILURES|ERRORS|short test summary info|\d+ (passed|failed)).*=+$|^collected \d+ items?|"
    r"^Ran \d+ tests? in |^(FAILED|PASSED|ERROR) \S+::|^--- (FAIL|PASS): |^test result: (ok|FAILED)\.|"
    r"^Tests?:\s+\d+ (passed|failed)|^Tests run: \d+, Failures: |"
    r"^ *Test Files {2,}\d+ (passed|failed))",  # vitest's summary
    re.MULTILINE,
)
_GREP_LINE = re.compile(r"^[^\s:]+:\d+[:-]")
# One test's result in jest/vitest verbose output (` ✓ src/a.test.ts > suite > case 2ms`,
# `  ✓ adds items (3 ms)`): a test file or a duration, so a checklist (`✓ build`) is not one.
_TEST_RESULT_LINE = re.compile(r"^\s*[✓√✔×✗✕] (\S+\.(test|spec)\.[cm]?[jt]sx?\b|.*[ (]\d+ ?ms\)?$)")
_LOG_LINE = re.compile(
    r"(^\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|^\[?\d{2}:\d{2}:\d{2}|\b(DEBUG|INFO|WARN|WARNING|ERROR|FATAL|TRACE)\b)"
)
_CODE_HINT = re.compile(
    r"^\s*(def |class |import |from \S+ import |function |const |let |var |export |package |func |fn |"
    r"pub |impl |struct |#include|public |private |protected |namespace |using |module |require)"
)


def extension(path: str | None) -> str:
    """The lower-case extension of a path, with the dot ('' when none)."""
    if not path:
        return ""
    name = path.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def command_file(command: str) -> str | None:
    """The file a read-like shell command prints, if any: `cat x.py`, `sed -n 1,80p x.py`,
    `nl -ba x.py | sed -n '430,460p'` (a pipeline that only slices what the first stage read)."""
    stages = command.strip().split("|")
    if any(c in command for c in ";&><\n") or not _READ_COMMANDS.match(stages[0]):
        return None
    if any(not _READ_COMMANDS.match(stage) for stage in stages[1:]):
        return None  # a later grep/awk turns the file into something else
    try:
        words = shlex.split(stages[0])
    except ValueError:
        return None
    files = [w for w in words[1:] if not w.startswith("-") and "." in w.rsplit("/", 1)[-1] and not re.fullmatch(r"[\d,;p$]+", w)]
    return files[-1] if len(files) == 1 else None


def is_file_read(context: Context) -> bool:
    """Whether the tool call printed a file (which the model may go on to edit)."""
    tool = (context.tool_name or "").lower()
    return tool in _READ_TOOLS or bool(context.command and command_file(context.command))


def kind_from_tool(context: Context) -> str | None:
    """The kind implied by the tool call alone, when it is clear."""
    tool = (context.tool_name or "").lower()
    command = context.command
    read_path = command_file(command) if command else None
    if tool in _READ_TOOLS or read_path:
        named = context.tool_args.get("file_path") or context.tool_args.get("path")
        ext = extension(read_path or context.path or (named if isinstance(named, str) else None))
        if ext in CODE_EXTENSIONS:
            return "code"
        return _FILE_KINDS.get(ext)
    if tool in _HTML_TOOLS:
        return None  # a fetch returns HTML, JSON or text: the content decides
    if tool in _PROCESS_OUTPUT_TOOLS:
        return "log"
    if tool in _SEARCH_TOOLS:
        return "search"
    if command:
        if _TEST_COMMANDS.search(command):
            return "test"
        if _VCS_COMMANDS.search(command):
            return "diff"
        if _BUILD_COMMANDS.search(command):
            return "build"
        if _SEARCH_COMMANDS.search(command):
            return "search"
    return None


def leaves_whole(context: Context) -> bool:
    """Whether the tool's output goes to the model as it is: see _WHOLE_TOOLS, and a read of a
    range the model chose itself (`offset`/`limit`): it asked for exactly those lines.

    A whole-file Read of source is outlined (compressors/code_outline.py) like any other file
    read: on Claude Code's real sessions (corpus training split) the outline, keeping the lines
    with string literals, kept all but 3 of 132 needles of those Reads, where a head+tail cut of
    the same size lost 16 (before that rule it lost 15: such Reads then went whole)."""
    if context.tool_name in _WHOLE_TOOLS:
        return True
    tool = (context.tool_name or "").lower()
    return tool in _READ_TOOLS and any(context.tool_args.get(k) is not None for k in ("offset", "limit"))


def kind_from_content(text: str) -> str:
    """The kind a text looks like; "text" when nothing more specific fits."""
    head = text[:4096]
    stripped = head.lstrip()
    if stripped[:1] in "{[" and (_parses_as_json(text) or _is_cut_json(text)):
        return "json"
    if looks_like_records(text):
        return "records"
    if _looks_like_html(head):
        return "html"
    if len(_DIFF_RE.findall(head)) >= 2:
        return "diff"
    if _TEST_RE.search(text):
        return "test"
    lines = [line for line in text[:20000].split("\n") if line.strip()]
    if not lines:
        return "text"
    if sum(bool(_TEST_RESULT_LINE.match(line)) for line in lines) >= 0.3 * len(lines):
        return "test"  # verbose results cut before their summary (Claude Code keeps 30,000 chars)
    if sum(bool(_GREP_LINE.match(line)) for line in lines) >= 0.6 * len(lines):
        return "search"
    if _looks_like_diagnostics(lines):
        return "build"
    if sum(bool(_LOG_LINE.search(line)) for line in lines) >= 0.3 * len(lines) or "Traceback (most recent call last)" in text:
        return "log"
    if sum(bool(_CODE_HINT.match(line)) for line in lines) >= max(2, 0.05 * len(lines)):
        return "code"
    return "text"


def _looks_like_diagnostics(lines: list[str]) -> bool:
    """Mostly linter or compiler diagnostics, whatever ran them: a pre-commit hook's lint, a CI log."""
    from compressors.build_output import diagnostic_share  # the build compressor's own parser

    return diagnostic_share(lines) >= 0.5


def _looks_like_html(head: str) -> bool:
    """A document (a doctype at a line start) or mostly tag lines: a log that merely
    contains some HTML (curl -v, a build log) is not a page."""
    if _HTML_DOC.search(head):
        return True
    lines = [line for line in head.split("\n") if line.strip()]
    return len(lines) >= 3 and sum(bool(_HTML_TAG.search(line)) for line in lines) >= 0.3 * len(lines)


def _is_cut_json(text: str) -> bool:
    """Pretty-printed JSON cut short (`… | python -m json.tool | head -100`): it does not parse,
    but it is data, not a log. Its compressor leaves what it cannot parse whole; the log
    compressor folded its keys as similar lines (training sessions: 7 needles of 8 lost)."""
    lines = [line for line in text[:20000].split("\n") if line.strip()]
    if len(lines) < 5 or lines[0].strip() not in ("{", "["):
        return False
    return sum(bool(_JSON_LINE.match(line)) for line in lines) >= 0.9 * len(lines)


def _parses_as_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    except RecursionError:  # nested too deep to parse: still JSON (its compressor leaves it whole)
        return True
    return True


def choose_kind(text: str, context: Context) -> str:
    """Tool call first, content second. Shell output with no more specific shape is "log"
    (the shell-output compressor); "text" is left for prose and for files the model read."""
    kind = kind_from_tool(context) or kind_from_content(text)
    if kind == "text" and context.command and not is_file_read(context):
        return "log"
    return kind
