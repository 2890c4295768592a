"""Kind detection: the tool call decides when it is clear, the content otherwise."""

from __future__ import annotations

import json

import pytest

from compressors.detect import choose_kind, command_file, extension, kind_from_content, kind_from_tool
from compressors.types import Context


def bash(command: str) -> Context:
    return Context("bash", {"command": command})


@pytest.mark.parametrize(
    "context, kind",
    [
        (Context("Read", {"file_path": "/repo/app/models.py"}, "/repo/app/models.py"), "code"),
        (Context("Read", {"file_path": "/repo/web/App.tsx"}, "/repo/web/App.tsx"), "code"),
        (Context("Read", {"file_path": "/repo/package.json"}, "/repo/package.json"), "json"),
        (Context("Read", {"file_path": "/var/log/app.log"}, "/var/log/app.log"), "log"),
        (Context("Read", {"file_path": "/repo/README"}, "/repo/README"), None),
        (bash("python -m pytest tests/test_api.py -x"), "test"),
        (bash("./tests/runtests.py queries.test_qs_combinators"), "test"),
        (bash("cd /repo && go test ./..."), "test"),
        (bash("cargo test --lib"), "test"),
        (bash("bin/test sympy/core/tests/test_sympify.py"), "test"),
        (bash("git diff HEAD~1"), "diff"),
        (bash("git -C repo log --oneline -20"), "diff"),
        (bash("rg -n 'def urlize' django/"), "search"),
        (bash("find . -name '*.py' | head -50"), "search"),
        (bash("make test-unit"), "test"),  # a test target runs tests, not a build
        (bash("cd api && just test"), "test"),
        (bash("make lint"), "build"),
        (bash("npx tsc --noEmit"), "build"),
        (bash("ruff check ."), "build"),
        (bash("golangci-lint run --enable-only unused"), "build"),
        (bash("pnpm run typecheck"), "build"),
        (bash("nl -ba django/utils/html.py | sed -n '280,320p'"), "code"),
        (bash("cat config/settings.json"), "json"),
        (Context("Grep", {"pattern": "urlize"}), "search"),
        (Context("WebFetch", {"url": "https://example.org"}), None),
        (bash("python reproduce_issue.py"), None),
    ],
)
def test_kind_from_tool(context: Context, kind: str | None) -> None:
    assert kind_from_tool(context) == kind


PYTEST = """============================= test session starts ==============================
collected 12 items

tests/test_api.py ..F.........                                           [100%]

=================================== FAILURES ===================================
"""
DIFF = "diff --git a/x.py b/x.py\nindex 1..2 100644\n--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,3 @@\n-a = 1\n+a = 2\n"
GREP = "\n".join(f"django/utils/html.py:{n}:    def urlize_{n}(text):" for n in range(10, 20))
LOG = "\n".join(f"2026-11-25 10:00:{s:02d} INFO worker {s} ready" for s in range(20))
HTML = "<!doctype html><html><head><title>x</title></head><body>" + "<div><p>hello</p></div>" * 5 + "</body></html>"
CODE = "import os\nimport sys\n\n\ndef main():\n    return 0\n\n\nclass App:\n    pass\n"


@pytest.mark.parametrize(
    "text, kind",
    [
        (json.dumps([{"id": i, "name": f"n{i}"} for i in range(5)]), "json"),
        ('{"a": 1', "text"),
        (HTML, "html"),
        (DIFF, "diff"),
        (PYTEST, "test"),
        ("Ran 12 tests in 0.5s\n\nOK\n", "test"),
        (GREP, "search"),
        (LOG, "log"),
        ("Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad\n", "log"),
        (CODE, "code"),
        ("Just a paragraph of prose about the weather.\nAnd another line of it.", "text"),
        ("", "text"),
    ],
)
def test_kind_from_content(text: str, kind: str) -> None:
    assert kind_from_content(text) == kind


def test_shell_output_without_a_shape_goes_to_the_shell_compressor() -> None:
    prose = "Processing items\nAll items processed, writing report now"
    assert choose_kind(prose, Context()) == "text"
    assert choose_kind(prose, bash("python reproduce_issue.py")) == "log"


def test_tool_call_wins_over_content() -> None:
    assert choose_kind(LOG, bash("pytest -q")) == "test"


@pytest.mark.parametrize(
    "command, path",
    [
        ("cat a.py", "a.py"),
        ("sed -n '10,20p' src/lib.rs", "src/lib.rs"),
        ("nl -ba x/y.py | sed -n '1,40p'", "x/y.py"),
        ("cat a.py | grep foo", None),
        ("cat a.py b.py", None),
        ("cat a.py > b.py", None),
        ("python x.py", None),
    ],
)
def test_command_file(command: str, path: str | None) -> None:
    assert command_file(command) == path


def test_extension() -> None:
    assert extension("/a/b/C.TSX") == ".tsx" and extension("/a/Makefile") == "" and extension(None) == ""


def test_a_read_of_a_plain_file_is_not_treated_as_shell_output() -> None:
    config = "[metadata]\nname = demo\nversion = 1.0\n\n[options]\npackages = find:\n"
    assert choose_kind(config, bash("cat setup.cfg")) == "text"
    assert choose_kind(config, Context("Read", {"file_path": "setup.cfg"}, "setup.cfg")) == "text"


def test_a_log_that_contains_some_html_is_not_a_page() -> None:
    curl = "*   Trying 127.0.0.1:8000...\n* Connected\n> GET / HTTP/1.1\n< HTTP/1.1 200 OK\n< Content-Type: text/html\n<\n"
    curl += "<html><body>Hello World</body></html>\n* Connection #0 left intact\n" + "build step ok\n" * 10
    assert kind_from_content(curl) != "html"
    options = "\n".join(f'<option value="{i}">Python {i}</option>' for i in range(40))
    assert kind_from_content(options) == "html"


@pytest.mark.parametrize("command", ["pip install -e .", "python -m pip install requests", "npm ci", "apt-get install -y redis", "yarn add left-pad"])
def test_install_logs_go_to_the_build_compressor(command: str) -> None:
    assert kind_from_tool(bash(command)) == "build"


VITEST_LINES = [f" ✓ test/utils/validator.test.ts > Validator > case {n} should convert values {n % 3}ms" for n in range(40)]


def test_vitest_output_is_test_output_with_or_without_its_summary() -> None:
    summary = "\n Test Files  12 passed (12)\n      Tests  340 passed (340)\n   Duration  4.21s"
    chatter = "\n".join(f"stdout | src/sync.ts > syncing batch {n}" for n in range(20))
    assert kind_from_content("> vitest run\n" + chatter + summary) == "test"  # the summary alone says so
    # Claude Code cuts Bash output at 30,000 characters: a verbose run often ends before its summary
    truncated = "[main 4094b1d] Docs: fix\n 1 file changed\n\n> npm run check\n" + "\n".join(VITEST_LINES) + "\n\n... [718 lines truncated] ..."
    assert kind_from_content(truncated) == "test"
    assert choose_kind(truncated, Context(tool_name="Bash", tool_args={"command": "git commit -m 'Docs: fix'"})) == "test"


def test_a_checklist_of_ticks_is_not_test_output() -> None:
    checks = "\n".join(f"✓ {name}\tpass\t{n}m{n}s\thttps://github.com/o/r/actions/runs/{n}" for n, name in enumerate(["build", "lint", "e2e", "docs"] * 5))
    assert kind_from_content(checks) != "test"


def test_lint_output_is_build_output_whatever_ran_it() -> None:
    # A commit whose pre-commit hook ran eslint: the command says nothing, the lines do.
    files = [
        line
        for f in range(6)
        for line in (f"/home/dev/web/src/module{f}.ts", *[f"  {10 + k}:5  warning  Unexpected any. Specify a different type  @typescript-eslint/no-explicit-any" for k in range(4)], "")
    ]
    hook = "\n".join(["[main 3bc489a] Fix flaky tests", " 2 files changed, 160 insertions(+), 281 deletions(-)", "", "> web@1.0.0 lint", "> eslint src", "", *files, "✖ 24 problems (0 errors, 24 warnings)"])
    context = bash('git add -A && git commit -m "Fix flaky tests"')
    assert kind_from_tool(context) is None and choose_kind(hook, context) == "build"
    prose = "\n".join(["[main 3bc489a] Fix flaky tests", " 2 files changed, 160 insertions(+), 281 deletions(-)", " create mode 100644 src/a.ts"])
    assert choose_kind(prose, context) != "build"


def test_pretty_printed_json_cut_short_is_json_and_goes_whole() -> None:
    # `curl … | python3 -m json.tool | head -40`: no longer parses, still data. The log
    # compressor folded its keys as similar lines; the JSON compressor leaves it whole.
    document = {"tweet": {"id": "2063865685558903149", "author": {"screen_name": "mvanhorn", "followers": 32267}}}
    document["tweet"]["stats"] = {f"metric_{k}": k * 17 for k in range(60)}
    cut = "\n".join(json.dumps(document, indent=4).split("\n")[:40])
    context = bash("curl -sL https://api.example.com/status/1 | python3 -m json.tool | head -40")
    assert choose_kind(cut, context) == "json"
    from compressors import compress

    assert compress(cut, context).text == cut
    ndjson = "\n".join(json.dumps({"level": "info", "msg": f"request {k} served", "ms": k}) for k in range(50))
    assert choose_kind(ndjson + "\n{\"level\": \"info\"", bash("cat app.log")) != "json"  # JSON lines are a log
