"""select_test: failures, failing test names and summaries kept; passes and setup folded."""

from __future__ import annotations

import re

import pytest

from compressors import compress
from compressors.lines import Keep, Note, check_selection, render
from compressors.notes import NOTE_PATTERN
from compressors.test_output import select_test
from compressors.types import Context

CTX = Context(tool_name="bash", tool_args={"command": "pytest tests"})


def passing_module(name: str, count: int) -> list[str]:
    return [f"tests/{name}.py::test_case_{k:03d} PASSED{' ' * 20}[{k:3d}%]" for k in range(count)]


PYTEST_FAILING = """\
============================= test session starts ==============================
platform linux -- Python 3.11.6, pytest-8.1.1, pluggy-1.4.0
cachedir: .pytest_cache
rootdir: /home/dev/shop
configfile: pyproject.toml
plugins: cov-4.1.0, xdist-3.5.0, mock-3.12.0
collected 725 items

tests/test_cart.py ..............................................       [  6%]
tests/test_catalog.py ...........................................        [ 12%]
tests/test_coupons.py ...................................                [ 17%]
tests/test_currency.py .........................................         [ 23%]
tests/test_emails.py ..........................................          [ 29%]
tests/test_feeds.py ...............................                      [ 33%]
tests/test_inventory.py .........................................        [ 39%]
tests/test_invoices.py ........................................          [ 45%]
tests/test_orders.py .......................................             [ 50%]
tests/test_returns.py ..........................                         [ 54%]
tests/test_search.py ..........................                          [ 58%]
tests/test_shipping.py ..............................................    [ 64%]
tests/test_checkout.py ......F...............................            [ 78%]
tests/test_pricing.py ..........................F...................     [ 96%]
tests/test_users.py ..........                                           [100%]

=================================== FAILURES ===================================
____________________________ test_checkout_total ______________________________

cart = <Cart items=3>

    def test_checkout_total(cart):
        order = checkout(cart, coupon="SPRING10")
>       assert order.total == Decimal("89.10")
E       AssertionError: assert Decimal('99.00') == Decimal('89.10')
E        +  where Decimal('99.00') = <Order id=17>.total

tests/test_checkout.py:58: AssertionError
__________________________ test_bulk_discount_tiers ___________________________

    def test_bulk_discount_tiers():
>       assert bulk_price(100, unit=Decimal("2.50")) == Decimal("225.00")
E       TypeError: bulk_price() got an unexpected keyword argument 'unit'

tests/test_pricing.py:131: TypeError
=========================== short test summary info ============================
FAILED tests/test_checkout.py::test_checkout_total - AssertionError: assert Decimal('99.00') == Decimal('89.10')
FAILED tests/test_pricing.py::test_bulk_discount_tiers - TypeError: bulk_price() got an unexpected keyword argument 'unit'
======================== 2 failed, 723 passed in 6.31s =========================
"""

PYTEST_VERBOSE = "\n".join(
    [
        "============================= test session starts ==============================",
        "collected 61 items",
        "",
        *passing_module("test_parser", 30),
        "tests/test_parser.py::test_unicode_escape FAILED                      [ 50%]",
        *passing_module("test_lexer", 30),
        "",
        "=================================== FAILURES ===================================",
        "_____________________________ test_unicode_escape ______________________________",
        "",
        "    def test_unicode_escape():",
        '>       assert parse(r"\\u00e9") == "é"',
        "E       AssertionError: assert 'Ã©' == 'é'",
        "",
        "tests/test_parser.py:88: AssertionError",
        "=========================== short test summary info ============================",
        "FAILED tests/test_parser.py::test_unicode_escape - AssertionError: assert 'Ã©' == 'é'",
        "========================= 1 failed, 60 passed in 0.93s =========================",
    ]
)

PYTEST_WARNINGS = "\n".join(
    [
        "============================= test session starts ==============================",
        "collected 45 items",
        "",
        "tests/test_domain.py .............................................    [100%]",
        "",
        "=============================== warnings summary ===============================",
        *[
            line
            for k in range(12)
            for line in (
                f"tests/test_domain.py::test_signature_{k}",
                "  /app/docs/nodes.py:350: PendingDeprecationWarning: nodes.Node.traverse() is obsoleted by Node.findall().",
                "    for img in node.traverse(nodes.image):",
                "",
            )
        ],
        "tests/test_domain.py::test_build",
        "  /app/docs/util/compat.py:12: DeprecationWarning: pkg_resources is deprecated as an API",
        "    from pkg_resources import iter_entry_points",
        "",
        "-- Docs: https://docs.pytest.org/en/stable/how-to/capture-warnings.html",
        "======================= 45 passed, 13 warnings in 2.65s ========================",
    ]
)

DJANGO = "\n".join(
    [
        "Testing against Django installed in '/srv/django/django' with up to 8 processes",
        "Found 312 test(s).",
        "Creating test database for alias 'default'...",
        *["Cloning test database for alias 'default'..."] * 8,
        "System check identified no issues (0 silenced).",
        "." * 180 + "E" + "." * 120 + "s" + "." * 9 + "F",
        "======================================================================",
        "ERROR: test_save_unicode_name (files_tests.tests.FileStorageTests)",
        "----------------------------------------------------------------------",
        "Traceback (most recent call last):",
        '  File "/srv/django/tests/files_tests/tests.py", line 158, in test_save_unicode_name',
        "    storage.save('файл.txt', ContentFile(b'x'))",
        '  File "/srv/django/django/core/files/storage.py", line 51, in save',
        "    name = self.get_available_name(name, max_length=max_length)",
        "UnicodeEncodeError: 'ascii' codec can't encode characters in position 0-3: ordinal not in range(128)",
        "",
        "======================================================================",
        "FAIL: test_slugify_trailing_dash (utils_tests.test_text.TestUtilsText)",
        "----------------------------------------------------------------------",
        "Traceback (most recent call last):",
        '  File "/srv/django/tests/utils_tests/test_text.py", line 211, in test_slugify_trailing_dash',
        "    self.assertEqual(text.slugify('hello world-'), 'hello-world')",
        "AssertionError: 'hello-world-' != 'hello-world'",
        "- hello-world-",
        "?            -",
        "+ hello-world",
        "",
        "",
        "----------------------------------------------------------------------",
        "Ran 312 tests in 4.118s",
        "",
        "FAILED (failures=1, errors=1, skipped=1)",
        *["Destroying test database for alias 'default'..."] * 9,
    ]
)

UNITTEST_VERBOSE = "\n".join(
    [
        *[f"test_roundtrip_{k:02d} (tests.test_codec.CodecTests.test_roundtrip_{k:02d}) ... ok" for k in range(40)],
        "test_decode_truncated (tests.test_codec.CodecTests.test_decode_truncated) ... FAIL",
        "test_encode_empty (tests.test_codec.CodecTests.test_encode_empty) ... skipped 'needs zstd'",
        "",
        "======================================================================",
        "FAIL: test_decode_truncated (tests.test_codec.CodecTests.test_decode_truncated)",
        "----------------------------------------------------------------------",
        "Traceback (most recent call last):",
        '  File "/home/dev/codec/tests/test_codec.py", line 77, in test_decode_truncated',
        "    self.assertRaises(ValueError, decode, b'\\x00\\x01')",
        "AssertionError: ValueError not raised by decode",
        "",
        "----------------------------------------------------------------------",
        "Ran 42 tests in 0.118s",
        "",
        "FAILED (failures=1, skipped=1)",
    ]
)

GO_TEST = "\n".join(
    [
        *[
            line
            for name in ("ParseConfig", "ParseEmpty", "MergeDefaults", "ResolvePath", "Watch", "Reload")
            for line in (f"=== RUN   Test{name}", f"--- PASS: Test{name} (0.00s)")
        ],
        "=== RUN   TestLoadFile",
        '    config_test.go:48: LoadFile("testdata/bad.yaml"): got err <nil>, want error',
        "--- FAIL: TestLoadFile (0.01s)",
        "FAIL",
        "FAIL\tgithub.com/acme/tool/internal/config\t0.214s",
        "ok  \tgithub.com/acme/tool/internal/cache\t0.051s",
        "ok  \tgithub.com/acme/tool/internal/server\t1.302s",
        "ok  \tgithub.com/acme/tool/pkg/api\t0.087s",
        "FAIL",
    ]
)

GO_TEST_PLAIN = """\
--- FAIL: TestTokenize (0.00s)
    --- FAIL: TestTokenize/unicode (0.00s)
        lexer_test.go:91: token 3: got IDENT("é"), want STRING("é")
    --- FAIL: TestTokenize/escapes (0.00s)
        lexer_test.go:91: token 1: got ILLEGAL, want STRING("\\n")
FAIL
FAIL\tgithub.com/acme/tool/lexer\t0.009s
ok  \tgithub.com/acme/tool/parser\t0.031s
ok  \tgithub.com/acme/tool/printer\t0.012s
ok  \tgithub.com/acme/tool/format\t0.044s
ok  \tgithub.com/acme/tool/internal/diag\t0.006s
ok  \tgithub.com/acme/tool/internal/span\t0.004s
FAIL"""

CARGO_TEST = """\
   Compiling libc v0.2.150
   Compiling serde v1.0.193
   Compiling mytool v0.3.1 (/home/dev/mytool)
    Finished test [unoptimized + debuginfo] target(s) in 7.42s
     Running unittests src/lib.rs (target/debug/deps/mytool-3f9c2a1b7d)

running 10 tests
test parser::tests::parses_empty ... ok
test parser::tests::parses_nested ... ok
test parser::tests::rejects_tabs ... ok
test parser::tests::rejects_bom ... ok
test render::tests::renders_table ... FAILED
test render::tests::renders_list ... ok
test util::tests::slugify_ascii ... ok
test util::tests::slugify_unicode ... ok
test util::tests::truncate_width ... ok
test util::tests::wraps_long_words ... ok

failures:

---- render::tests::renders_table stdout ----
thread 'render::tests::renders_table' panicked at src/render.rs:88:9:
assertion `left == right` failed
  left: "| a | b |"
 right: "| a | b |\\n"
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    render::tests::renders_table

test result: FAILED. 9 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.02s

error: test failed, to rerun pass `--lib`"""

JEST = "\n".join(
    [
        *[f"PASS src/{name}.test.ts" for name in ("utils/format", "utils/parse", "hooks/useFetch", "api/client")],
        "FAIL src/components/Cart.test.tsx",
        "  Cart",
        *[f"    ✓ {case} ({ms} ms)" for case, ms in (("renders empty state", 24), ("adds an item", 11), ("removes an item", 6))],
        "    ✕ applies discount code (9 ms)",
        *[f"    ✓ keeps quantity {k} in sync ({k + 2} ms)" for k in range(1, 9)],
        "",
        "  ● Cart › applies discount code",
        "",
        "    expect(received).toBe(expected) // Object.is equality",
        "",
        "    Expected: 90",
        "    Received: 100",
        "",
        "      at Object.<anonymous> (src/components/Cart.test.tsx:44:39)",
        "",
        *[f"PASS src/components/{name}.test.tsx" for name in ("Header", "Footer", "Menu", "Search", "Profile")],
        "",
        "Test Suites: 1 failed, 9 passed, 10 total",
        "Tests:       1 failed, 57 passed, 58 total",
        "Snapshots:   0 total",
        "Time:        3.182 s",
        "Ran all test suites.",
    ]
)

MAVEN = """\
[INFO] -------------------------------------------------------
[INFO]  T E S T S
[INFO] -------------------------------------------------------
[INFO] Running com.acme.billing.InvoiceTest
[INFO] Tests run: 12, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.231 s - in com.acme.billing.InvoiceTest
[INFO] Running com.acme.billing.TaxTest
[INFO] Tests run: 8, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.044 s - in com.acme.billing.TaxTest
[INFO] Running com.acme.billing.LedgerTest
[ERROR] Tests run: 5, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.102 s <<< FAILURE! - in com.acme.billing.LedgerTest
[ERROR] com.acme.billing.LedgerTest.balanceAfterRefund  Time elapsed: 0.012 s  <<< FAILURE!
org.opentest4j.AssertionFailedError: expected: <100> but was: <90>
\tat org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)
\tat org.junit.jupiter.api.AssertionUtils.failNotEqual(AssertionUtils.java:62)
\tat org.junit.jupiter.api.AssertEquals.assertEquals(AssertEquals.java:150)
\tat org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:527)
\tat com.acme.billing.LedgerTest.balanceAfterRefund(LedgerTest.java:41)
\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)
\tat java.base/java.lang.reflect.Method.invoke(Method.java:568)
\tat org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:725)

[INFO] Running com.acme.billing.CurrencyTest
[INFO] Tests run: 20, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.067 s - in com.acme.billing.CurrencyTest
[INFO] Results:
[ERROR] Failures:
[ERROR]   LedgerTest.balanceAfterRefund:41 expected: <100> but was: <90>
[ERROR] Tests run: 45, Failures: 1, Errors: 0, Skipped: 0
[INFO] BUILD FAILURE"""


def run(text: str, context: Context = CTX) -> tuple[list[str], list[Keep | Note], str]:
    lines = text.split("\n")
    selection = select_test(lines, context)
    check_selection(selection, len(lines))
    return lines, selection, render(lines, selection)


def kept_lines(lines: list[str], selection: list[Keep | Note]) -> list[str]:
    return [lines[k] for item in selection if isinstance(item, Keep) for k in range(item.start, item.end)]


def notes(selection: list[Keep | Note]) -> list[str]:
    return [item.text for item in selection if isinstance(item, Note)]


def assert_all_kept(text: str, output: str, pattern: str) -> None:
    """Every line of the input matching `pattern` appears verbatim in the output."""
    wanted = [line for line in text.split("\n") if re.search(pattern, line)]
    assert wanted, f"fixture has no line matching {pattern!r}"
    out_lines = set(output.split("\n"))
    assert [line for line in wanted if line not in out_lines] == []


def test_pytest_failures_kept_and_passing_files_folded() -> None:
    lines, selection, out = run(PYTEST_FAILING)
    # Whole failure blocks survive, with the assertion and its location.
    start = PYTEST_FAILING.index("=================================== FAILURES")
    for line in PYTEST_FAILING[start:].rstrip("\n").split("\n"):
        assert line in out.split("\n")
    # The progress lines with failures stay (they name the files); passing ones fold.
    assert "tests/test_checkout.py ......F...............................            [ 78%]" in out
    assert "tests/test_catalog.py ...........................................        [ 12%]" not in out
    assert "[… 12 passing test lines folded]" in notes(selection)
    assert "tests/test_users.py ..........                                           [100%]" in out  # a lone one stays
    assert "collected 725 items" in out and "rootdir: /home/dev/shop" in out
    assert "plugins: cov-4.1.0, xdist-3.5.0, mock-3.12.0" in out  # a lone setup line is not worth a note


def test_pytest_verbose_passes_folded_with_count() -> None:
    lines, selection, out = run(PYTEST_VERBOSE)
    assert notes(selection)[:2] == ["[… 30 passing test lines folded]", "[… 30 passing test lines folded]"]
    assert "tests/test_parser.py::test_unicode_escape FAILED                      [ 50%]" in out
    assert "E       AssertionError: assert 'Ã©' == 'é'" in out
    assert "tests/test_parser.py:88: AssertionError" in out
    assert out.split("\n")[-1] == "========================= 1 failed, 60 passed in 0.93s ========================="
    assert "PASSED" not in out


def test_pytest_warnings_summary_keeps_each_warning_once() -> None:
    lines, selection, out = run(PYTEST_WARNINGS)
    message = "  /app/docs/nodes.py:350: PendingDeprecationWarning: nodes.Node.traverse() is obsoleted by Node.findall()."
    assert out.count(message) == 1
    assert "    for img in node.traverse(nodes.image):" in out
    assert "  /app/docs/util/compat.py:12: DeprecationWarning: pkg_resources is deprecated as an API" in out
    assert "tests/test_domain.py::test_signature_7" not in out
    assert "======================= 45 passed, 13 warnings in 2.65s ========================" in out
    assert len(out) < len(PYTEST_WARNINGS) * 0.5


def test_django_runner_keeps_error_and_fail_blocks() -> None:
    lines, selection, out = run(DJANGO)
    block = DJANGO[DJANGO.index("=====") : DJANGO.index("Ran 312 tests")]
    for line in block.split("\n"):
        assert line in out.split("\n")
    assert "Ran 312 tests in 4.118s" in out and "FAILED (failures=1, errors=1, skipped=1)" in out
    assert "Found 312 test(s)." in out
    # The dots line becomes a count; database chatter folds.
    assert "[… 1 progress line folded: 309 passed, 1 error, 1 skipped, 1 failed]" in notes(selection)
    assert "Cloning test database for alias 'default'..." not in out
    assert not any(line.startswith("Destroying test database") for line in out.split("\n"))


def test_unittest_verbose_ok_lines_folded() -> None:
    lines, selection, out = run(UNITTEST_VERBOSE)
    assert "[… 40 passing test lines folded]" in notes(selection)
    assert "test_decode_truncated (tests.test_codec.CodecTests.test_decode_truncated) ... FAIL" in out
    assert "FAIL: test_decode_truncated (tests.test_codec.CodecTests.test_decode_truncated)" in out
    assert "AssertionError: ValueError not raised by decode" in out
    assert "    self.assertRaises(ValueError, decode, b'\\x00\\x01')" in out
    assert "FAILED (failures=1, skipped=1)" in out
    assert " ... ok" not in out


def test_go_test_keeps_failure_output() -> None:
    lines, selection, out = run(GO_TEST, Context(tool_args={"command": "go test ./..."}))
    assert kept_lines(lines, selection) == [
        '    config_test.go:48: LoadFile("testdata/bad.yaml"): got err <nil>, want error',
        "--- FAIL: TestLoadFile (0.01s)",
        "FAIL",
        "FAIL\tgithub.com/acme/tool/internal/config\t0.214s",
        "FAIL",
    ]
    assert notes(selection) == [
        "[… 13 passing test lines folded]",
        "[… 3 passing test lines folded]",
    ]


def test_go_test_plain_keeps_subtest_failures() -> None:
    lines, selection, out = run(GO_TEST_PLAIN, Context(tool_args={"command": "go test ./..."}))
    assert out.split("\n")[:7] == GO_TEST_PLAIN.split("\n")[:7]
    assert notes(selection) == ["[… 5 passing test lines folded]"]


def test_cargo_test_keeps_panic_and_summary() -> None:
    lines, selection, out = run(CARGO_TEST, Context(tool_args={"command": "cargo test"}))
    assert_all_kept(CARGO_TEST, out, r"FAILED|panicked|left:|right:|^failures:|renders_table|test result|^error:")
    assert "test parser::tests::parses_nested ... ok" not in out
    assert "running 10 tests" in out


def test_jest_keeps_failed_suite_and_assertion() -> None:
    lines, selection, out = run(JEST, Context(tool_args={"command": "npx jest"}))
    assert_all_kept(JEST, out, r"FAIL |✕|●|Expected|Received|at Object|^(Tests|Test Suites|Snapshots|Time):")
    assert "✓" not in out
    assert "PASS src/components/Menu.test.tsx" not in out


def test_maven_surefire_keeps_failure_and_own_frames() -> None:
    lines, selection, out = run(MAVEN, Context(tool_args={"command": "mvn test"}))
    assert_all_kept(MAVEN, out, r"FAILURE|ERROR|AssertionFailedError|LedgerTest\.java")
    assert "\tat org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)" in out  # the throwing frame
    assert "[… 3 lines folded: library frames]" in notes(selection)
    assert "[INFO] Running com.acme.billing.TaxTest" not in out


ALL_RUNS = [PYTEST_FAILING, PYTEST_VERBOSE, DJANGO, UNITTEST_VERBOSE, GO_TEST, GO_TEST_PLAIN, CARGO_TEST, JEST, MAVEN]


@pytest.mark.parametrize("text", ALL_RUNS)
def test_failing_test_names_always_survive(text: str) -> None:
    lines, selection, out = run(text)
    names = re.findall(r"\b(test_\w+|Test[A-Z][\w/]+|renders_table|applies discount code|balanceAfterRefund)\b", text)
    failing = {name for name in names if any(name in line and re.search(r"FAIL|ERROR|✕|panicked", line) for line in lines)}
    assert failing
    assert {name for name in failing if name not in out} == set()
    assert all(NOTE_PATTERN.fullmatch(note) or note.startswith("[previous line") for note in notes(selection))


def test_all_passing_run_folds_to_note_and_summary() -> None:
    passing = UNITTEST_VERBOSE.split("\n")[:40]
    lines, selection, out = run("\n".join([*passing, "", "-" * 70, "Ran 40 tests in 0.101s", "", "OK"]))
    assert out.split("\n") == ["[… 40 passing test lines folded]", "", "-" * 70, "Ran 40 tests in 0.101s", "", "OK"]


def test_crlf_output_is_understood() -> None:
    text = UNITTEST_VERBOSE.replace("\n", "\r\n")
    lines, selection, out = run(text)
    assert "[… 40 passing test lines folded]" in notes(selection)
    assert "FAIL: test_decode_truncated (tests.test_codec.CodecTests.test_decode_truncated)\r" in out.split("\n")


def test_small_empty_and_single_line_inputs_unchanged() -> None:
    assert select_test([], CTX) == []
    assert select_test(["1 passed in 0.01s"], CTX) == [Keep(0, 1)]
    short = ["collected 2 items", "", "tests/test_a.py ..  [100%]", "", "2 passed in 0.02s"]
    assert select_test(short, CTX) == [Keep(0, len(short))]


def test_deterministic() -> None:
    lines = DJANGO.split("\n")
    assert select_test(lines, CTX) == select_test(list(lines), CTX)


def test_through_router() -> None:
    result = compress(PYTEST_VERBOSE, Context(tool_name="bash", tool_args={"command": "python -m pytest -v"}))
    assert result.kind == "test"
    assert not result.lossless
    assert "FAILED tests/test_parser.py::test_unicode_escape - AssertionError: assert 'Ã©' == 'é'" in result.text
    assert [fold.note for fold in result.folds][:2] == ["[… 30 passing test lines folded]", "[… 30 passing test lines folded]"]
    assert (result.folds[0].first_line, result.folds[0].last_line) == (4, 33)


def _captured_output_run() -> str:
    """A failing pytest run whose failure printed 120 lines of debug output."""
    debug = "\n".join(f"DEBUG step {k}: state={{'rows': {k * 3}, 'cursor': {k}}}" for k in range(120))
    return f"""\
============================= test session starts ==============================
collected 40 items

tests/test_sync.py ..........F.............................              [100%]

=================================== FAILURES ===================================
_______________________________ test_sync_rows _________________________________

    def test_sync_rows():
>       assert sync(rows) == 360
E       assert 357 == 360

tests/test_sync.py:88: AssertionError
----------------------------- Captured stdout call -----------------------------
{debug}
=========================== short test summary info ============================
FAILED tests/test_sync.py::test_sync_rows - assert 357 == 360
========================= 1 failed, 39 passed in 0.91s ========================="""


def test_captured_output_is_trimmed_toward_a_quarter_and_failures_stay() -> None:
    text = _captured_output_run()
    lines, selection, out = run(text)
    # The failure, its location, the failing progress line and the summaries stay whole.
    for line in (
        "tests/test_sync.py ..........F.............................              [100%]",
        ">       assert sync(rows) == 360",
        "E       assert 357 == 360",
        "tests/test_sync.py:88: AssertionError",
        "FAILED tests/test_sync.py::test_sync_rows - assert 357 == 360",
        "========================= 1 failed, 39 passed in 0.91s =========================",
    ):
        assert line in out.split("\n")
    # Captured debug lines are similar lines: the run folds, ends kept, under a quarter left.
    assert "DEBUG step 0: state={'rows': 0, 'cursor': 0}" in out
    assert "DEBUG step 119: state={'rows': 357, 'cursor': 119}" in out
    assert any(NOTE_PATTERN.fullmatch(n) for n in notes(selection))
    assert len(out) <= 0.25 * len(text)


def test_progress_line_with_failures_survives_trimming() -> None:
    # Many passing files and a long run of captured output: the trimmer must not take the one
    # progress line that names the file with a failure.
    passing = "\n".join(f"tests/test_mod{k:02d}.py {'.' * 40}                       [{k:3d}%]" for k in range(1, 40))
    text = _captured_output_run().replace(
        "tests/test_sync.py ..........F", passing + "\ntests/test_sync.py ..........F"
    )
    lines, selection, out = run(text)
    assert "tests/test_sync.py ..........F.............................              [100%]" in out.split("\n")
    assert "[… 39 passing test lines folded]" in notes(selection)


def _vitest(failed: bool = False, summary: bool = True) -> str:
    out = ["> shop@1.0.0 test", "> vitest", "", " RUN  v3.1.4 /home/dev/shop", ""]
    out += [f" ✓ test/unit/module{k}.test.ts ({k + 2} tests) {k + 3}ms" for k in range(12)]
    if failed:
        out += [" ❯ test/api/email.test.ts (7 tests | 1 failed) 14ms", "   × accepts valid emails 5ms"]
    for k in range(6):  # the code under test logs the error path each test exercises
        out += [
            f"stderr | test/api/email.test.ts > PersonValidator > rejects address {k}",
            f"[batchEmailValidation] Batch query failed for address-{k}: TypeError: Cannot read properties of undefined (reading 'data')",
            "    at searchPeopleByEmails (/home/dev/shop/src/objects/people-write.ts:69:18)",
            "    at processTicksAndRejections (node:internal/process/task_queues:105:5)",
            f"    at /home/dev/shop/test/api/email.test.ts:{70 + k}:24",
            "",
        ]
    out += ["stdout | test/utils/postal.test.ts > maps postal_code", 'Current mapping result for postal_code: "postal_code"', ""]
    if summary:
        counts = "1 failed | 6 passed (7)" if failed else "7 passed (7)"
        out += ["", f" Test Files  {'1 failed | 12 passed' if failed else '13 passed'} (13)", f"      Tests  {counts}", "   Duration  2.31s"]
    return "\n".join(out)


def test_what_passing_tests_wrote_to_stderr_folds_in_a_run_without_failures() -> None:
    lines, selection, out = run(_vitest(), Context(tool_name="Bash", tool_args={"command": "npm test"}))
    assert "[… 48 lines folded: passing test lines, stderr of passing tests]" in out.split("\n")
    assert "Batch query failed" not in out and "stderr |" not in out
    # what tests printed to stdout (an agent's own debug print) stays, and so does the summary
    assert 'Current mapping result for postal_code: "postal_code"' in out and "      Tests  7 passed (7)" in out


@pytest.mark.parametrize("variant", [{"failed": True}, {"summary": False}])
def test_stderr_of_tests_stays_in_a_failing_run_or_one_without_its_summary(variant: dict) -> None:
    lines, selection, out = run(_vitest(**variant), Context(tool_name="Bash", tool_args={"command": "npm test"}))
    assert "stderr of passing tests" not in out
    assert "[batchEmailValidation] Batch query failed for address-0: TypeError: Cannot read properties of undefined (reading 'data')" in out
