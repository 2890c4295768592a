"""split_numbered: recognise Claude Code's numbered Read output, and nothing else; unpad_numbers:
drop the padding of its numbers, and nothing else."""

from __future__ import annotations

import pytest

import re

from compressors.numbered_lines import MIN_RUN, NumberedLine, split_numbered, unpad_numbers


def test_arrow_form_splits_into_number_prefix_and_content() -> None:
    text = "     1→import os\n     2→\n     3→print(os.sep)\n"
    assert split_numbered(text) == [
        NumberedLine(1, "     1→", "import os"),
        NumberedLine(2, "     2→", ""),
        NumberedLine(3, "     3→", "print(os.sep)"),
    ]


def test_tab_form_splits_into_number_prefix_and_content() -> None:
    assert split_numbered("    41\tdef f():\n    42\t    return 1") == [
        NumberedLine(41, "    41\t", "def f():"),
        NumberedLine(42, "    42\t", "    return 1"),
    ]


def test_prefixes_are_kept_exactly_as_written() -> None:
    # Padding changes width at 9 -> 10 and may be missing entirely; the prefix is verbatim
    # so a kept line can be written back byte for byte.
    text = "  9→a\n 10→b\n11→c"
    lines = split_numbered(text)
    assert lines is not None
    assert [line.prefix for line in lines] == ["  9→", " 10→", "11→"]
    assert "\n".join(line.prefix + line.content for line in lines) == text


def test_content_keeps_its_own_arrows_tabs_and_leading_spaces() -> None:
    lines = split_numbered("1→  a→b\tc\n2\t\tindented")
    assert lines is not None
    assert [line.content for line in lines] == ["  a→b\tc", "\tindented"]


def test_numbering_may_start_anywhere() -> None:
    lines = split_numbered("   120→x\n   121→y")
    assert lines is not None
    assert [line.number for line in lines] == [120, 121]


@pytest.mark.parametrize(
    "text",
    [
        "1→a\n3→b",  # a gap
        "2→a\n1→b",  # backwards
        "1→a\n1→b",  # repeated number
        "1→a\n2→b\n2→c",
    ],
    ids=["gap", "backwards", "repeat", "repeat-at-end"],
)
def test_numbers_must_be_consecutive(text: str) -> None:
    assert split_numbered(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "1→only one line",
        "1→only one line\n",
        "plain text\nmore plain text",
        "1→a\nplain\n3→c",  # one unnumbered line spoils it
        "1→a\n2→b\n\n",  # a blank line that is not numbered
        "1: a\n2: b",  # other separators are not Read output
        "1 a\n2 b",
        "\t1→a\n\t2→b",  # only spaces may pad the number
        "x1→a\nx2→b",
    ],
)
def test_anything_else_is_not_numbered(text: str) -> None:
    assert split_numbered(text) is None


def test_one_trailing_newline_is_allowed() -> None:
    with_newline = split_numbered("1→a\n2→b\n")
    assert with_newline is not None
    assert with_newline == split_numbered("1→a\n2→b")


def test_unpadding_keeps_every_number_and_every_byte_after_it() -> None:
    read = "".join(f"{n:6d}→{'    ' * (n % 3)}line {n}\t→ with its own arrow\n" for n in range(95, 105)) + "\n<system-reminder>\nx\n</system-reminder>\n"
    out = unpad_numbers(read)
    assert out.startswith("95→        line 95\t→ with its own arrow\n96→line 96") and "\n100→    line 100" in out
    assert out.endswith("\n\n<system-reminder>\nx\n</system-reminder>\n")
    # lossless: cat -n's six right-aligned columns put the padding back, byte for byte
    assert re.sub(r"^(\d+)(?=→)", lambda m: f"{int(m.group(1)):6d}", out, flags=re.M) == read


def test_an_edit_snippet_is_unpadded_under_its_header_in_tab_form() -> None:
    text = "The file /r/a.py has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n"
    text += "\n".join(f"{n:6d}\t    step({n})" for n in range(7, 12))
    assert unpad_numbers(text) == text.split("\n")[0] + "\n" + "\n".join(f"{n}\t    step({n})" for n in range(7, 12))


@pytest.mark.parametrize(
    "text",
    [
        "   12\tapples\n    7\tpears\n  130\tplums",  # counts, not line numbers (uniq -c | sort -t)
        "     1→a\n     3→b\n     4→c",  # a gap: two runs, each under MIN_RUN
        "     1 a\n     2 b\n     3 c",  # wc/nl output with a space separator: not cat -n
        "\t1→a\n\t2→b\n\t3→c",  # tabs are not cat -n's padding
        "  name  →value\n  other →value\n  third →value",
        "@@ -1,3 +1,3 @@\n      1\ta\n-     2\tb\n+     2\tB\n      3\tc",  # a diff of cat -n output: its markers stay
        "   1\ta\n   2\tb\n   3\tc",  # a table padded to its own width, not cat -n's six columns
    ],
    ids=["counts", "gap", "space-separated", "tab-indent", "no-number", "diff", "other-width"],
)
def test_lines_that_only_look_numbered_stay_as_they_are(text: str) -> None:
    assert unpad_numbers(text) == text


def test_a_run_needs_min_run_consecutive_lines() -> None:
    short = "".join(f"{n:6d}→x\n" for n in range(1, MIN_RUN))
    assert unpad_numbers(short) == short
    long = "".join(f"{n:6d}→x\n" for n in range(1, MIN_RUN + 1))
    assert unpad_numbers(long) == "".join(f"{n}→x\n" for n in range(1, MIN_RUN + 1))
