"""The build compressor: linters, type checkers, compilers and install logs."""

from __future__ import annotations

from compressors import Context, compress
from compressors.build_output import parse_diagnostics, select_build
from compressors.lines import Keep, Note, check_selection, render
from compressors.notes import NOTE_PATTERN

NO_QUERY = Context()


def run(text: str, context: Context = NO_QUERY) -> list[str]:
    lines = text.split("\n")
    selection = select_build(lines, context)
    check_selection(selection, len(lines))
    return render(lines, selection).split("\n")


def assert_every_distinct_error_kept(text: str, out: list[str]) -> None:
    """Each error (by rule and message) keeps at least its first occurrence, verbatim."""
    lines = text.split("\n")
    diagnostics, _ = parse_diagnostics(lines)
    first: dict[tuple[str, str], str] = {}
    for d in diagnostics:
        first.setdefault(d.key, lines[d.line])
    assert first and all(line in out for line in first.values())


# --- linters and type checkers ---------------------------------------------------------------

RUFF = "\n".join(
    [
        "src/app/models.py:3:8: F401 [*] `os` imported but unused",
        *[f"src/app/models.py:{14 + 9 * k}:89: E501 Line too long ({92 + k} > 88)" for k in range(14)],
        "src/app/models.py:160:5: F841 Local variable `result` is assigned to but never used",
        "src/app/views.py:5:1: F401 [*] `typing.Any` imported but unused",
        "src/app/views.py:40:12: F821 Undefined name `parse_config`",
        "Found 18 errors.",
        "[*] 2 fixable with the `--fix` option.",
    ]
)


def test_ruff_folds_a_repeated_rule_with_its_locations() -> None:
    out = run(RUFF)
    lines = RUFF.split("\n")
    assert out[:3] == lines[:3]  # the first two E501 stay as examples
    assert out[3] == (
        "[… 12 repeated diagnostics folded: E501 Line too long (94 > 88) ×12 at src/app/models.py:32:89, "
        "src/app/models.py:41:89, src/app/models.py:50:89, src/app/models.py:59:89, src/app/models.py:68:89 "
        "+7 more in 1 file]"
    )
    assert out[4:] == lines[15:]
    assert_every_distinct_error_kept(RUFF, out)


def test_a_repeat_mentioning_the_query_stays() -> None:
    out = run(RUFF, Context(query="models.py:77 is far too long"))
    assert "src/app/models.py:77:89: E501 Line too long (99 > 88)" in out


MYPY = "\n".join(
    [
        'src/app/models.py:12: error: Incompatible types in assignment (expression has type "int", variable has type "str")  [assignment]',
        'src/app/models.py:30: error: Item "None" of "Optional[User]" has no attribute "name"  [union-attr]',
        *[f'src/app/handlers/h{k}.py:{8 + k}: error: Function is missing a return type annotation  [no-untyped-def]' for k in range(9)],
        'src/app/views.py:41: error: Argument 1 to "render" has incompatible type "int"; expected "str"  [arg-type]',
        'src/app/views.py:41: note: "render" defined here',
        'src/app/views.py:42: error: Argument 2 to "render" has incompatible type "int"; expected "str"  [arg-type]',
        "Found 13 errors in 11 files (checked 40 source files)",
    ]
)


def test_mypy_keeps_distinct_errors_and_their_notes() -> None:
    out = run(MYPY)
    lines = MYPY.split("\n")
    assert out[:4] == lines[:4]
    assert out[4].startswith("[… 7 repeated diagnostics folded: no-untyped-def Function is missing a return type annotation ×7 at ")
    assert out[5:] == lines[11:]  # distinct errors differing only by a number both stay
    assert_every_distinct_error_kept(MYPY, out)


TSC = "\n".join(
    [
        "src/components/Button.tsx(12,5): error TS2322: Type 'number' is not assignable to type 'string'.",
        "src/components/Button.tsx(30,18): error TS2339: Property 'onHover' does not exist on type 'ButtonProps'.",
        *[f"src/pages/page{k}.tsx({9 + k},3): error TS7006: Parameter 'event' implicitly has an 'any' type." for k in range(10)],
        "src/pages/index.tsx(7,10): error TS2305: Module '\"../lib/api\"' has no exported member 'fetchUsers'.",
        "",
        "Found 13 errors in 12 files.",
        "",
    ]
)


def test_tsc_folds_one_error_repeated_across_files() -> None:
    out = run(TSC)
    lines = TSC.split("\n")
    assert out[:4] == lines[:4]
    assert out[4] == (
        "[… 8 repeated diagnostics folded: TS7006 Parameter 'event' implicitly has an 'any' type. ×8 at "
        "src/pages/page2.tsx(11,3), src/pages/page3.tsx(12,3), src/pages/page4.tsx(13,3), "
        "src/pages/page5.tsx(14,3), src/pages/page6.tsx(15,3) +3 more in 3 files]"
    )
    assert out[5:] == lines[12:]
    assert_every_distinct_error_kept(TSC, out)


ESLINT = "\n".join(
    [
        "",
        "/home/dev/web/src/App.js",
        "   3:10  error    'useEffect' is defined but never used  no-unused-vars",
        *[f"  {12 + 4 * k}:5   warning  Unexpected console statement           no-console" for k in range(12)],
        "",
        "/home/dev/web/src/api.js",
        "   8:1   error  'fetch' is not defined                 no-undef",
        "",
        "✖ 14 problems (2 errors, 12 warnings)",
        "",
    ]
)


def test_eslint_stylish_locations_include_the_file() -> None:
    out = run(ESLINT)
    assert out[:5] == ESLINT.split("\n")[:5]
    assert out[5].startswith("[… 10 repeated diagnostics folded: no-console Unexpected console statement ×10 at /home/dev/web/src/App.js:20:5, ")
    assert "   8:1   error  'fetch' is not defined                 no-undef" in out
    assert "✖ 14 problems (2 errors, 12 warnings)" in out


ESLINT_MANY_FILES = "\n".join(
    [
        "> web@1.0.0 lint",
        "",
        *[
            line
            for f in range(8)
            for line in (
                "",
                f"/home/dev/web/src/module{f}.ts",
                *[f"  {10 + k}:{3 + f}  warning  Unexpected any. Specify a different type  @typescript-eslint/no-explicit-any" for k in range(3)],
            )
        ],
        "",
        "/home/dev/web/src/last.ts",
        "  4:1  error  'x' is not defined  no-undef",
        "",
        "✖ 25 problems (1 error, 24 warnings)",
    ]
)


def test_eslint_file_lines_fold_with_their_diagnostics() -> None:
    out = run(ESLINT_MANY_FILES)
    text = "\n".join(out)
    # The first file shows two occurrences (its third folds); every later file's warnings fold,
    # and its path line and the blank line before it go with them into one note.
    assert out[:6] == ESLINT_MANY_FILES.split("\n")[:6]
    notes = [line for line in out if NOTE_PATTERN.search(line)]
    assert len(notes) == 1 and notes[0].startswith("[… 22 repeated diagnostics folded: @typescript-eslint/no-explicit-any")
    assert "/home/dev/web/src/module5.ts" not in text and "/home/dev/web/src/module5.ts:12:8" not in notes[0]
    assert out[-5:] == ["", "/home/dev/web/src/last.ts", "  4:1  error  'x' is not defined  no-undef", "", "✖ 25 problems (1 error, 24 warnings)"]
    assert len(text) < len(ESLINT_MANY_FILES) / 2


GOLANGCI = """\
internal/server/server.go:317:3: ineffectual assignment to err (ineffassign)
\t\terr = fmt.Errorf("unsupported platform: %s", runtime.GOOS)
\t\t^
components/alert_templ.go:8:8: could not import github.com/a-h/templ (Config.Importer.Import(github.com/a-h/templ) returned nil but no error) (typecheck)
import "github.com/a-h/templ"
       ^
2 issues:
* ineffassign: 1
* typecheck: 1"""


def test_golangci_lint_lines_own_their_source_line_and_caret() -> None:
    lines = GOLANGCI.split("\n")
    diagnostics, owner = parse_diagnostics(lines)
    assert [(d.location, d.rule, d.error) for d in diagnostics] == [
        ("internal/server/server.go:317:3", "ineffassign", False),
        ("components/alert_templ.go:8:8", "typecheck", True),
    ]
    assert diagnostics[1].message.startswith("could not import github.com/a-h/templ (Config")
    assert owner[:6] == [0, 0, 0, 1, 1, 1] and owner[6:] == [-1, -1, -1]


# --- compilers -------------------------------------------------------------------------------

GCC = """\
gcc -Wall -O2 -c src/main.c -o build/main.o
src/main.c: In function 'main':
src/main.c:14:5: error: implicit declaration of function 'parse_args' [-Werror=implicit-function-declaration]
   14 |     parse_args(argc, argv);
      |     ^~~~~~~~~~
src/main.c:20:12: warning: unused variable 'buffer' [-Wunused-variable]
   20 |     char   buffer[256];
      |            ^~~~~~
src/main.c:31:1: error: control reaches end of non-void function [-Werror=return-type]
   31 | }
      | ^
cc1: all warnings being treated as errors
make: *** [Makefile:12: build/main.o] Error 1"""


def test_gcc_errors_with_their_code_frames_are_left_whole() -> None:
    lines = GCC.split("\n")
    assert select_build(lines, NO_QUERY) == [Keep(0, len(lines))]
    diagnostics, owner = parse_diagnostics(lines)
    assert [d.location for d in diagnostics] == ["src/main.c:14:5", "src/main.c:20:12", "src/main.c:31:1"]
    assert owner[3:5] == [0, 0] and owner[9:11] == [2, 2]  # the frames belong to their error


CARGO = """\
    Updating crates.io index
  Downloaded serde_derive v1.0.197
  Downloaded syn v2.0.52
   Compiling proc-macro2 v1.0.78
   Compiling unicode-ident v1.0.12
   Compiling libc v0.2.153
   Compiling serde v1.0.197
   Compiling quote v1.0.35
   Compiling syn v2.0.52
   Compiling serde_derive v1.0.197
   Compiling tokio v1.36.0
   Compiling myapp v0.1.0 (/home/dev/myapp)
warning: unused variable: `count`
 --> src/main.rs:14:9
  |
14 |     let count = items.len();
  |         ^^^^^ help: if this is intentional, prefix it with an underscore: `_count`
  |
  = note: `#[warn(unused_variables)]` on by default

error[E0308]: mismatched types
  --> src/main.rs:22:20
   |
22 |     let total: u32 = compute_total(&items);
   |                ---   ^^^^^^^^^^^^^^^^^^^^^ expected `u32`, found `u64`
   |                |
   |                expected due to this

error: could not compile `myapp` (bin "myapp") due to 1 previous error; 1 warning emitted"""


def test_cargo_folds_compiling_lines_into_a_count_with_crate_names() -> None:
    out = run(CARGO)
    assert out[0] == (
        "[… 12 lines folded: Compiling ×9 (proc-macro2, unicode-ident, libc, serde, quote, syn, serde_derive, "
        "tokio, …); Downloaded ×2 (serde_derive, syn); Updating ×1]"
    )
    assert out[1:] == CARGO.split("\n")[12:]
    assert_every_distinct_error_kept(CARGO, out)


# --- install logs ----------------------------------------------------------------------------

PIP = "\n".join(
    [
        "Obtaining file:///testbed",
        "  Installing build dependencies ... done",
        "  Checking if build backend supports build_editable ... done",
        "  Getting requirements to build editable ... done",
        *[
            f"Requirement already satisfied: {name} in /opt/conda/lib/python3.9/site-packages (from myapp==1.0) ({version})"
            for name, version in [("numpy", "1.26.4"), ("pytz", "2024.1"), ("packaging", "24.0"), ("attrs", "23.2.0"), ("pytest-timeout", "2.3.1"), ("tomli", "2.0.1")]
        ],
        "Installing collected packages: myapp",
        "  Running setup.py develop for myapp",
        "Successfully installed myapp-1.0",
    ]
)


def test_pip_folds_progress_and_keeps_the_outcome() -> None:
    out = run(PIP)
    assert out == [
        "[… 10 lines folded: Requirement already satisfied ×6 (numpy, pytz, packaging, attrs, pytest-timeout, tomli); "
        "Obtaining ×1; Installing build dependencies ×1; Checking if build backend ×1; Getting requirements to build ×1]",
        "Installing collected packages: myapp",
        "  Running setup.py develop for myapp",
        "Successfully installed myapp-1.0",
    ]


def test_pip_error_lines_are_never_folded() -> None:
    text = PIP.replace("Installing collected packages: myapp", "ERROR: Could not find a version that satisfies the requirement torch==9.9")
    assert "ERROR: Could not find a version that satisfies the requirement torch==9.9" in run(text)


# --- edge cases and the router ---------------------------------------------------------------


def test_empty_tiny_and_plain_inputs_are_left_whole() -> None:
    assert select_build([], NO_QUERY) == []
    assert select_build([""], NO_QUERY) == [Keep(0, 1)]
    assert select_build(["Build succeeded."], NO_QUERY) == [Keep(0, 1)]
    lines = ["DEBUG: target='MySQL', typ='term'"] * 3 + ["build succeeded, 1 warning."]
    assert select_build(lines, NO_QUERY) == [Keep(0, 4)]


def test_deterministic_and_every_note_matches_the_pattern() -> None:
    for text in (RUFF, MYPY, TSC, ESLINT, CARGO, PIP):
        lines = text.split("\n")
        selection = select_build(lines, NO_QUERY)
        assert selection == select_build(lines, NO_QUERY)
        assert all(NOTE_PATTERN.fullmatch(item.text) for item in selection if isinstance(item, Note))


def test_through_the_router() -> None:
    text = f"<returncode>101</returncode>\n<output>\n{CARGO}\n</output>"
    context = Context(tool_name="bash", tool_args={"command": "cargo build"})
    result = compress(text, context, kind="build")
    assert compress(text, context).text == result.text  # `cargo build` routes here on its own
    assert result.kind == "build" and not result.lossless
    assert result.text.startswith("<returncode>101</returncode>\n<output>\n[… 12 lines folded: Compiling ×9")
    # folds count lines of the whole text: the envelope's two opening lines come first
    assert result.folds[0].first_line == 3 and result.folds[0].last_line == 14
    assert "error[E0308]: mismatched types" in result.text


PYLINT = """\
************* Module app.views
app/views.py:12:0: W0611: Unused import os (unused-import)
app/views.py:40:4: W0613: Unused argument 'request' (unused-argument)
app/views.py:52:4: W0613: Unused argument 'kwargs' (unused-argument)
************* Module app.forms
app/forms.py:8:4: W0613: Unused argument 'instance' (unused-argument)
app/forms.py:19:4: W0613: Unused argument 'commit' (unused-argument)
************* Module app.models
app/models.py:77:8: W0613: Unused argument 'using' (unused-argument)
app/models.py:91:8: W0613: Unused argument 'update_fields' (unused-argument)
************* Module app.admin
app/admin.py:3:0: E0401: Unable to import 'grappelli' (import-error)

------------------------------------------------------------------
Your code has been rated at 7.12/10 (previous run: 7.12/10, +0.00)"""


def test_pylint_format_is_parsed_and_names_in_quotes_do_not_split_a_rule() -> None:
    lines = PYLINT.split("\n")
    diagnostics, _ = parse_diagnostics(lines)
    assert [d.rule for d in diagnostics] == ["W0611", "W0613", "W0613", "W0613", "W0613", "W0613", "W0613", "E0401"]
    assert diagnostics[1].location == "app/views.py:40:4"
    # `Unused argument 'request'` and `... 'kwargs'` are one problem for folding
    assert diagnostics[1].key == diagnostics[2].key == ("W0613", "Unused argument '…' (unused-argument)")


def test_pylint_module_headers_fold_with_their_diagnostics() -> None:
    out = run(PYLINT)
    lines = PYLINT.split("\n")
    # Two occurrences of W0613 stay; the modules whose every diagnostic folds go with them,
    # and the note names the rule in its blurred form and every location.
    assert out == lines[:4] + [
        "[… 4 repeated diagnostics folded: W0613 Unused argument '…' (unused-argument) ×4 at "
        "app/forms.py:8:4, app/forms.py:19:4, app/models.py:77:8, app/models.py:91:8]"
    ] + lines[10:]
    assert "************* Module app.admin" in out  # its diagnostic is shown: the header stays
