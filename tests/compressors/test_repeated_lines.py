"""fold_repeated_lines: lossless folding of identical runs, plain and numbered (Claude Code Read)."""

from __future__ import annotations

import random
import re

import pytest

from compressors.numbered_lines import split_numbered
from compressors.repeated_lines import MIN_RUN, fold_repeated_blocks, fold_repeated_lines, strip_ansi
from compressors.types import Fold, Result

LONG = "ERROR connection refused: retrying in 5 seconds"  # long enough that a note pays off
PLAIN_NOTE = re.compile(r"^\[previous line repeated (\d+) more times\]$")
BLOCK_NOTE = re.compile(r"^\[previous (\d+) lines repeated (\d+) more times?\]$")
NUMBERED_NOTE = re.compile(r"^\[lines (\d+)-(\d+) repeat line (\d+)\]$")


def numbered(*contents: str, start: int = 1, sep: str = "→", width: int = 6) -> str:
    """Claude Code Read output: right-aligned numbers, then the separator, then the line."""
    return "".join(f"{str(start + k).rjust(width)}{sep}{c}\n" for k, c in enumerate(contents))


def expand_plain(result: Result) -> str:
    """Rebuild the original (ANSI-free) text from the output alone, checking folds on the way."""
    out: list[str] = []
    folds = iter(result.folds)
    for line in result.text.split("\n"):
        if b := BLOCK_NOTE.match(line):
            period, copies = map(int, b.groups())
            fold = next(folds)
            assert (fold.first_line, fold.last_line, fold.note) == (len(out) + 1, len(out) + period * copies, line)
            out.extend(out[-period:] * copies)
            continue
        m = PLAIN_NOTE.match(line)
        if m:
            count = int(m.group(1))
            fold = next(folds)
            # The fold names exactly the original lines the note stands in for.
            assert (fold.first_line, fold.last_line, fold.note) == (len(out) + 1, len(out) + count, line)
            out.extend([out[-1]] * count)
        else:
            out.append(line)
    assert next(folds, None) is None, "a fold without a note in the text"
    return "\n".join(out)


def expand_numbered(result: Result) -> str:
    """Rebuild numbered text; fixed-width numbering (as Claude Code writes it) makes prefixes exact."""
    lines = result.text.split("\n")
    tail = "\n" if lines[-1] == "" else ""
    if tail:
        lines.pop()
    out: list[str] = []
    by_number: dict[int, str] = {}
    folds = iter(result.folds)
    for line in lines:
        m = NUMBERED_NOTE.match(line)
        if m:
            first, last, source = map(int, m.groups())
            fold = next(folds)
            assert (fold.first_line, fold.last_line, fold.note) == (first, last, line)
            template = by_number[source]
            prefix_match = re.match(r"^( *)(\d+)(→|\t)", template)
            assert prefix_match is not None
            width = len(prefix_match.group(1)) + len(prefix_match.group(2))
            content = template[prefix_match.end() :]
            for number in range(first, last + 1):
                out.append(f"{str(number).rjust(width)}{prefix_match.group(3)}{content}")
        else:
            parsed = re.match(r"^ *(\d+)(→|\t)", line)
            assert parsed is not None, f"kept line lost its number: {line!r}"
            by_number[int(parsed.group(1))] = line
            out.append(line)
    assert next(folds, None) is None
    return "\n".join(out) + tail


# --- plain text ---------------------------------------------------------------------------


def test_a_long_run_folds_into_the_line_and_a_count() -> None:
    text = "start\n" + f"{LONG}\n" * 5 + "end"
    result = fold_repeated_lines(text)
    assert result.text == f"start\n{LONG}\n[previous line repeated 4 more times]\nend"
    assert result.folds == (Fold(3, 6, "[previous line repeated 4 more times]"),)
    assert result.kind == "repeated_lines"
    assert result.lossless is True


STACK = [
    "stderr | test/api/email.test.ts > validateCreate > accepts valid emails",
    "[batch] query failed, falling back: TypeError: Cannot read properties of undefined (reading 'data')",
    "    at searchPeopleByEmails (/srv/app/src/objects/people-write.ts:69:18)",
    "    at processTicksAndRejections (node:internal/process/task_queues:105:5)",
    "",
]


def test_a_block_repeated_back_to_back_folds_into_the_block_and_a_count() -> None:
    lines = ["> vitest", *STACK * 6, "stderr | test/api/email.test.ts > converts one email", "done"]
    result = fold_repeated_lines("\n".join(lines))
    assert result.text.split("\n") == ["> vitest", *STACK, "[previous 5 lines repeated 5 more times]", *lines[-2:]]
    assert result.folds == (Fold(7, 31, "[previous 5 lines repeated 5 more times]"),)
    assert result.lossless and expand_plain(result) == "\n".join(lines)


def test_a_block_seen_twice_folds_only_when_the_note_costs_at_most_half_of_it() -> None:
    twice = "\n".join(["head", *STACK * 2, "tail"])
    assert fold_repeated_lines(twice).text.split("\n") == ["head", *STACK, "[previous 5 lines repeated 1 more time]", "tail"]
    short = "\n".join(["head", "a = 1", "b = 2", "a = 1", "b = 2", "tail"])
    assert fold_repeated_lines(short).text == short


def test_blocks_holding_fold_notes_are_not_folded() -> None:
    block = ["Traceback (most recent call last):", "[… 3 lines folded: library frames]", "ValueError: bad value for field 'currency'"]
    lines, folds = fold_repeated_blocks(block * 4)
    assert lines == block * 4 and folds == []


def test_a_run_of_exactly_min_run_folds() -> None:
    assert MIN_RUN == 3
    result = fold_repeated_lines("\n".join([LONG] * 3))
    assert result.text == f"{LONG}\n[previous line repeated 2 more times]"
    assert result.folds == (Fold(2, 3, "[previous line repeated 2 more times]"),)


def test_a_run_of_two_is_kept_even_when_long() -> None:
    text = f"a\n{LONG}\n{LONG}\nb"
    result = fold_repeated_lines(text)
    assert result.text == text
    assert result.folds == ()


@pytest.mark.parametrize("blank", ["", " ", "    ", "\t\t", " \t " * 20])
def test_blank_runs_are_kept(blank: str) -> None:
    text = "\n".join(["header", *[blank] * 12, "footer"])
    result = fold_repeated_lines(text)
    assert result.text == text
    assert result.folds == ()


def test_only_consecutive_identical_lines_fold() -> None:
    text = "\n".join([LONG, "other", LONG, "other", LONG, LONG + " "])
    assert fold_repeated_lines(text).text == text


def test_fold_line_ranges_are_one_based_and_inclusive() -> None:
    a, b = "a" * 40, "b" * 40
    lines = ["x", a, a, a, "y", "z", b, b, b, b, b, b, "w"]
    result = fold_repeated_lines("\n".join(lines))
    assert result.folds == (
        Fold(3, 4, "[previous line repeated 2 more times]"),
        Fold(8, 12, "[previous line repeated 5 more times]"),
    )
    for fold in result.folds:
        # Every folded original line equals the kept line just before the range.
        kept = lines[fold.first_line - 2]
        assert lines[fold.first_line - 1 : fold.last_line] == [kept] * (fold.last_line - fold.first_line + 1)
    assert expand_plain(result) == "\n".join(lines)


def test_runs_at_the_start_and_end_fold() -> None:
    a = "a" * 40
    text = "\n".join([a, a, a, "mid", a, a, a, a])
    result = fold_repeated_lines(text)
    assert result.text == f"{a}\n[previous line repeated 2 more times]\nmid\n{a}\n[previous line repeated 3 more times]"
    assert [(f.first_line, f.last_line) for f in result.folds] == [(2, 3), (6, 8)]


def test_a_trailing_newline_survives_folding() -> None:
    result = fold_repeated_lines(f"{LONG}\n" * 4)
    assert result.text == f"{LONG}\n[previous line repeated 3 more times]\n"


def test_text_is_unchanged_when_nothing_folds() -> None:
    text = "line one\nline two\n\n\n\nline two\nline two\n  indented\n"
    result = fold_repeated_lines(text)
    assert result.text == text
    assert result.folds == ()
    assert result.lossless is True


def test_the_fold_is_skipped_when_the_note_is_not_shorter() -> None:
    note = "[previous line repeated 2 more times]"
    # The note replaces (run - 1) lines of (len + 1) characters each; it must be strictly shorter.
    longest_kept = len(note) // 2 - 1
    assert 2 * (longest_kept + 1) <= len(note) < 2 * (longest_kept + 2)
    assert fold_repeated_lines("\n".join(["t" * longest_kept] * 3)).folds == ()
    assert fold_repeated_lines("\n".join(["t" * (longest_kept + 1)] * 3)).folds == (Fold(2, 3, note),)


def test_short_lines_fold_once_the_run_is_long_enough() -> None:
    assert fold_repeated_lines("ok\nok\nok\nok").folds == ()  # 3 * 3 chars < note
    result = fold_repeated_lines("\n".join(["ok"] * 40))
    assert result.text == "ok\n[previous line repeated 39 more times]"


# --- ANSI -----------------------------------------------------------------------------------


def test_ansi_colour_codes_are_stripped() -> None:
    text = "\x1b[1;31mFAILED\x1b[0m test_x\n\x1b[32mok\x1b[m done"
    result = fold_repeated_lines(text)
    assert result.text == "FAILED test_x\nok done"
    assert result.folds == ()


def test_lines_that_differ_only_by_colour_fold_together() -> None:
    coloured = [f"\x1b[3{k}m{LONG}\x1b[0m" for k in range(5)]
    result = fold_repeated_lines("\n".join(coloured))
    assert result.text == f"{LONG}\n[previous line repeated 4 more times]"
    assert result.folds == (Fold(2, 5, "[previous line repeated 4 more times]"),)


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b[38;5;208morange\x1b[39m", "orange"),
        ("\x1b[2K\x1b[1Gprogress", "progress"),  # erase line, cursor to column 1
        ("\x1b[?25lhidden cursor\x1b[?25h", "hidden cursor"),
        ("\x1b]0;window title\x07body", "body"),  # OSC ended by BEL
        ("\x1b]8;;https://example.org\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink, ST-terminated
        ("no escapes [31m here", "no escapes [31m here"),
    ],
)
def test_strip_ansi(raw: str, clean: str) -> None:
    assert strip_ansi(raw) == clean


def test_strip_ansi_returns_plain_text_itself() -> None:
    text = "nothing to strip\n" * 3
    assert strip_ansi(text) is text


def test_strip_ansi_never_removes_a_line() -> None:
    text = "\n".join(["\x1b]0;title never terminated", "real output 1", "real output 2", "bell\x07", *[LONG] * 3])
    result = fold_repeated_lines(text)
    assert "real output 1" in result.text
    # Original lines 6-7 repeat line 5.
    assert result.folds == (Fold(6, 7, "[previous line repeated 2 more times]"),)


# --- numbered Read output -------------------------------------------------------------------


def test_numbered_run_keeps_the_first_line_and_names_the_repeats() -> None:
    text = numbered("def f():", *["    pass  # placeholder"] * 4, "return")
    result = fold_repeated_lines(text)
    assert result.text == ("     1→def f():\n     2→    pass  # placeholder\n[lines 3-5 repeat line 2]\n     6→return\n")
    assert result.folds == (Fold(3, 5, "[lines 3-5 repeat line 2]"),)


def test_numbered_tab_form_folds_the_same_way() -> None:
    text = numbered("x", *["same same same same"] * 3, "y", sep="\t", start=98, width=4)
    result = fold_repeated_lines(text)
    assert result.text == "  98\tx\n  99\tsame same same same\n[lines 100-101 repeat line 99]\n 102\ty\n"
    assert result.folds == (Fold(100, 101, "[lines 100-101 repeat line 99]"),)


def test_numbered_fold_ranges_use_the_file_line_numbers() -> None:
    content = ["a = 1", *["# ------------------------"] * 5, "b = 2", *["# ========================"] * 3]
    text = numbered(*content, start=200)
    result = fold_repeated_lines(text)
    assert result.folds == (
        Fold(202, 205, "[lines 202-205 repeat line 201]"),
        Fold(208, 209, "[lines 208-209 repeat line 207]"),
    )


def test_every_kept_numbered_line_keeps_its_exact_original_number() -> None:
    content = [f"line {k}" for k in range(7)] + ["x" * 30] * 6 + [f"after {k}" for k in range(5)]
    text = numbered(*content, start=5)
    original = {n.number: n.prefix + n.content for n in split_numbered(text) or []}
    result = fold_repeated_lines(text)
    assert result.folds
    kept = [line for line in result.text.split("\n") if line and not NUMBERED_NOTE.match(line)]
    for line in kept:
        number = int(re.match(r"^ *(\d+)", line).group(1))  # type: ignore[union-attr]
        assert original[number] == line
    # Numbers of kept lines plus folded ranges cover the file exactly once, in order.
    covered = [int(re.match(r"^ *(\d+)", line).group(1)) for line in kept]  # type: ignore[union-attr]
    for fold in result.folds:
        covered += range(fold.first_line, fold.last_line + 1)
    assert sorted(covered) == list(original)


def test_numbered_prefixes_of_kept_lines_are_verbatim() -> None:
    # Irregular padding (the number widens at 10) must come through untouched.
    text = "  8→a\n  9→" + "z" * 30 + "\n 10→" + "z" * 30 + "\n 11→" + "z" * 30 + "\n 12→b"
    result = fold_repeated_lines(text)
    assert result.text == "  8→a\n  9→" + "z" * 30 + "\n[lines 10-11 repeat line 9]\n 12→b"


def test_numbered_blank_runs_are_kept() -> None:
    text = numbered("a", *[""] * 6, *["    "] * 6, "b")
    result = fold_repeated_lines(text)
    assert result.text == text
    assert result.folds == ()


def test_numbered_fold_is_skipped_when_the_note_is_not_shorter() -> None:
    # Two repeated lines of "     N→}" (8 chars + newline each) beat the 25-char note.
    text = numbered("x", "}", "}", "}", "y")
    result = fold_repeated_lines(text)
    assert result.text == text
    assert result.folds == ()


def test_numbered_output_without_trailing_newline_stays_without() -> None:
    text = numbered(*["q" * 30] * 4).rstrip("\n")
    result = fold_repeated_lines(text)
    assert result.text == "     1→" + "q" * 30 + "\n[lines 2-4 repeat line 1]"


def test_numbered_text_does_not_get_the_plain_note() -> None:
    result = fold_repeated_lines(numbered(*[LONG] * 4))
    assert "previous line repeated" not in result.text
    assert result.text == f"     1→{LONG}\n[lines 2-4 repeat line 1]\n"


def test_numbered_text_that_folds_nothing_is_returned_as_is() -> None:
    text = numbered("one", "two", "two", "three")
    assert fold_repeated_lines(text).text == text


# --- properties over many inputs ------------------------------------------------------------

POOL = ["", "   ", "ok", "x" * 30, "y" * 30, "Traceback (most recent call last):", "\x1b[31m" + "x" * 30 + "\x1b[0m"]


def _random_lines(rng: random.Random) -> list[str]:
    lines: list[str] = []
    for _ in range(rng.randint(1, 12)):
        lines += [rng.choice(POOL)] * rng.choice([1, 1, 2, 3, 4, 7])
    return lines


@pytest.mark.parametrize("seed", range(40))
def test_plain_output_rebuilds_the_original_exactly(seed: int) -> None:
    rng = random.Random(seed)
    text = "\n".join(_random_lines(rng)) + rng.choice(["", "\n"])
    result = fold_repeated_lines(text)
    assert expand_plain(result) == strip_ansi(text)
    assert len(result.text) <= len(strip_ansi(text))


@pytest.mark.parametrize("seed", range(40))
def test_numbered_output_rebuilds_the_original_exactly(seed: int) -> None:
    rng = random.Random(1000 + seed)
    contents = [c for c in _random_lines(rng) if "\x1b" not in c]
    if len(contents) < 2:
        contents += ["tail one", "tail two"]
    text = numbered(*contents, start=rng.randint(1, 5000), sep=rng.choice(["→", "\t"]))
    if rng.random() < 0.5:
        text = text.rstrip("\n")
    result = fold_repeated_lines(text)
    assert expand_numbered(result) == text
    assert len(result.text) <= len(text)


def test_distinct_inputs_never_fold_to_the_same_text() -> None:
    folded = fold_repeated_lines("\n".join([LONG] * 3))
    literal = fold_repeated_lines(f"{LONG}\n[previous line repeated 2 more times]")
    assert folded.lossless
    # the same text from two inputs is allowed only if the second does not claim losslessness
    assert folded.text != literal.text or not literal.lossless


def test_a_second_pass_never_folds_lines_an_earlier_note_counts() -> None:
    # `[previous 4 lines repeated 1 more time]` counts the four written lines before it: folding
    # the E run among them would leave the note counting a note.
    a, e = "a" * 50, "e" * 50
    first = fold_repeated_lines("\n".join(["x", a, e, e, e, a, e, e, e, "y"])).text.split("\n")
    assert first == ["x", a, e, e, e, "[previous 4 lines repeated 1 more time]", "y"]
    assert fold_repeated_blocks(first) == (first, [])
    single = [a, "b" * 50, "b" * 50, "[previous line repeated 4 more times]", a, "b" * 50, "b" * 50, "[previous line repeated 4 more times]"]
    assert fold_repeated_blocks(single)[0] == single  # never a note right before another


def test_a_note_shaped_line_behind_terminal_codes_leaves_the_text_alone() -> None:
    text = f"start\n{LONG}\n\x1b[2m[previous line repeated 3 more times]\x1b[0m\nmid\n{LONG}\n{LONG}\n{LONG}\nend"
    result = fold_repeated_lines(text)
    assert result.text == text and not result.lossless
