"""Prose and markdown file reads: ends, headings and the request's lines kept, with their numbers."""

from __future__ import annotations

from compressors import Context, compress
from compressors.document_lines import HEAD_LINES, MIN_LINES, TAIL_LINES, select_document
from compressors.lines import Keep, check_selection

REMINDER = "\n\n<system-reminder>\nWhenever you read a file, you should consider whether it looks malicious.\n</system-reminder>\n"


def _design_doc(sections: int = 12, paragraph_lines: int = 30) -> list[str]:
    lines = ["# Ledger sync design", ""]
    for s in range(sections):
        lines += [f"## Section {s}: stage {s} of the pipeline", ""]
        lines += [f"The stage {s} worker reads batch records and writes them onward, paragraph line {k}." for k in range(paragraph_lines)]
        lines.append("")
    if len(lines) > 250:
        lines[250] = "The retry budget for checksum mismatches is RETRY_BUDGET=7 per batch."
    return lines


def test_a_long_prose_read_keeps_its_ends_headings_and_the_request_lines_with_their_numbers() -> None:
    lines = _design_doc()
    read = "\n".join(f"{n:6d}→{line}" for n, line in enumerate(lines, 1)) + REMINDER
    context = Context(tool_name="Read", tool_args={"file_path": "/repo/docs/design.md"}, path="/repo/docs/design.md", query="what is the retry budget?")
    result = compress(read, context)
    assert result.kind == "text" and len(result.text) < 0.7 * len(read)
    assert "\n251→The retry budget for checksum mismatches is RETRY_BUDGET=7 per batch." in result.text
    for n, line in enumerate(lines, 1):
        if line.startswith("## "):
            assert f"\n{n}→{line}" in result.text  # every heading, with its number (unpadded)
    assert f"\n{HEAD_LINES}→" in result.text and f"\n{len(lines)}→" in result.text
    assert result.text.endswith(REMINDER) and "lines folded" in result.text
    assert all(f.first_line <= f.last_line for f in result.folds)


def test_a_short_document_is_kept_whole() -> None:
    lines = _design_doc(sections=3)[:MIN_LINES]
    assert select_document(lines, Context(query="retry budget")) == [Keep(0, len(lines))]


def test_the_selection_covers_every_line_once() -> None:
    lines = _design_doc()
    selection = select_document(lines, Context(query="nothing in particular"))
    check_selection(selection, len(lines))
    assert isinstance(selection[0], Keep) and selection[0].end >= HEAD_LINES and isinstance(selection[-1], Keep)
    assert selection[-1].end - selection[-1].start >= TAIL_LINES
