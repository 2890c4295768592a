"""Dynamic content in a prompt's front: found by shape, and changes classified."""

from __future__ import annotations

from addon.cache.dynamic_fields import changes, explained, normalise, scan, skeleton

SYSTEM = """You are a coding agent.
Today's date is 2025-11-25. Current time: 14:03:22.
Session 3f2a8c1e-1b2c-4d5e-8f90-123456789abc, request req_01HXYZABCDEF12, started 1764079402.
Python 3.11.7 and version 1.2.3 are installed.
gitStatus: Current branch: main
Status:
 M addon/compression/compression.py
?? notes.txt
"""


def test_scan_finds_each_kind_once_and_leaves_versions_alone():
    kinds = [(f.kind, f.value) for f in scan(SYSTEM)]
    assert ("date", "2025-11-25") in kinds
    assert ("time", "14:03:22") in kinds
    assert ("uuid", "3f2a8c1e-1b2c-4d5e-8f90-123456789abc") in kinds
    assert ("request_id", "req_01HXYZABCDEF12") in kinds
    assert ("timestamp", "1764079402") in kinds
    assert not any(v in ("3.11.7", "1.2.3") for _, v in kinds)
    assert [f.kind for f in scan("Tue Nov 25 14:03:22 UTC 2025")] == ["datetime"]
    assert [f.kind for f in scan("at 2025-11-25T14:03:22Z")] == ["datetime"]


def test_changed_values_and_snapshots_are_explained_but_real_edits_are_not():
    later = SYSTEM.replace("2025-11-25", "2025-11-26").replace("14:03:22", "09:12:45").replace(" M addon/compression/compression.py", " M addon/compression/compression.py\n M README.md")
    found = changes(SYSTEM, later)
    assert {c.kind for c in found} == {"date", "git_status"}
    assert explained(found)
    assert normalise(SYSTEM) != normalise(later)  # the git line is not a value ...
    assert skeleton(SYSTEM) == skeleton(later)  # ... but the skeleton leaves snapshots out
    edited = SYSTEM.replace("You are a coding agent.", "You are a careful coding agent.")
    assert not explained(changes(SYSTEM, edited))
    assert skeleton(SYSTEM) != skeleton(edited)


def test_a_listing_that_changes_is_a_snapshot_but_a_sentence_is_not():
    before = "Files:\nsrc/app.py\nsrc/util.py\nREADME.md\n"
    after = "Files:\nsrc/app.py\nsrc/util.py\nsrc/new_module.py\nREADME.md\n"
    assert [c.kind for c in changes(before, after)] == ["listing"]
    assert [c.kind for c in changes("x\nHello.\n", "x\nGoodbye.\n")] == [None]
    assert changes("same", "same") == []


def test_a_changed_value_next_to_a_new_snapshot_line_is_one_explained_run():
    found = changes("Rules.\nToday: 2025-11-25\n", "Rules.\nToday: 2025-11-26\nsrc/new_module.py\n")
    assert len(found) == 1 and len(found[0].new_lines) == 2  # difflib makes it one run of 1 → 2 lines
    assert explained(found) and found[0].kind == "date"
    assert not explained(changes("Rules.\nToday: 2025-11-25\n", "Rules.\nToday: 2025-11-26\nBe careful.\n"))
