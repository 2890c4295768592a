"""Fold notes: one format, which the retrieval layer finds by pattern."""

from __future__ import annotations

import pytest

from compressors.notes import NOTE_PATTERN, fold_note, plural


@pytest.mark.parametrize(
    "count, unit, expected",
    [(1, "line", "1 line"), (1240, "line", "1,240 lines"), (3, "match", "3 matches"), (2, "entry", "2 entries"),
     (2, "key", "2 keys"), (4, "box", "4 boxes"), (5, "class", "5 classes")],
)  # fmt: skip
def test_plural(count: int, unit: str, expected: str) -> None:
    assert plural(count, unit) == expected


def test_fold_note_format_and_pattern() -> None:
    assert fold_note(1240, "line") == "[… 1,240 lines folded]"
    note = fold_note(312, "item", "status=ok]\nnext")
    assert note == "[… 312 items folded: status=ok) next]"
    for text in (fold_note(1, "line"), note):
        assert NOTE_PATTERN.fullmatch(text)
    assert not NOTE_PATTERN.search("[previous line repeated 3 more times]")
