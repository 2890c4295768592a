"""compress_json: lossless tables, lossy folding with outliers kept, projection, long strings,
deep nesting, exact numbers, small and invalid input, determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compressors import Context, Result, compress
from compressors.json_crusher import compress_json
from compressors.json_lossy import _ERROR_LOWER, _error_matches, _joined
from compressors.json_table import decode
from compressors.notes import NOTE_PATTERN

ROOT = Path(__file__).resolve().parents[2]
NO_QUERY = Context()

# A small booking-API answer, as a tool-calling agent gets it: too small to be worth changing.
RESERVATION = (
    '{"reservation_id": "Q7ZB3K", "user_id": "noah_garcia_4821", "origin": "BOS", "destination": "SEA", '
    '"flight_type": "one_way", "cabin": "economy", "flights": [{"origin": "BOS", "destination": "SEA", '
    '"flight_number": "HAT112", "date": "2024-05-19", "price": 187}], "passengers": [{"first_name": "Noah", '
    '"last_name": "Garcia", "dob": "1988-03-14"}], "payment_history": [{"payment_id": "credit_card_5521904", '
    '"amount": 187}], "created_at": "2024-05-02T10:41:07", "total_baggages": 1, "nonfree_baggages": 0, '
    '"insurance": "no"}'
)

FLIGHTS = [
    {"flight_number": "HAT031", "origin": "ORD", "destination": "MIA", "status": "available",
     "available_seats": {"economy": 12, "business": 3}, "prices": {"economy": 143, "business": 512}, "date": "2024-05-21"},
    {"flight_number": "HAT207", "origin": "ORD", "destination": "MIA", "status": "available",
     "available_seats": {"economy": 0, "business": 9}, "prices": {"economy": 99, "business": 388}, "date": "2024-05-21"},
    {"flight_number": "HAT265", "origin": "ORD", "destination": "MIA", "status": "available",
     "available_seats": {"economy": 7, "business": 1}, "prices": {"economy": 160, "business": 470}, "date": "2024-05-21"},
]  # fmt: skip

FLIGHTS_TABLE = """\
3 items as rows of (flight_number, available_seats.economy, available_seats.business, prices.economy, prices.business)
constant in all 3 items: {origin: "ORD", destination: "MIA", status: "available", date: "2024-05-21"}
["HAT031",12,3,143,512]
["HAT207",0,9,99,388]
["HAT265",7,1,160,470]"""


def job(i: int, **changes) -> dict:
    """One record of a CI API's job listing."""
    record = {
        "id": 7000 + i,
        "name": f"build-{i:04d}",
        "kind": "ci_job",
        "status": "passed" if i % 5 else "queued",
        "runner": ["linux-a", "linux-b", "mac-a"][i % 3],
        "duration_ms": 4000 + (i * 37) % 900,
        "message": "ok",
    }
    record.update(changes)
    return record


def jobs(count: int = 300) -> list[dict]:
    """A long listing with one planted item of each outlier kind."""
    items = [job(i) for i in range(count)]
    items[41] = job(41, status="cancelled")  # a categorical value seen once
    items[97] = job(97, duration_ms=912345)  # far outside the others
    items[150] = job(150, message="upload failed: permission denied on /artifacts/build-0150.tar")
    items[188] = job(188, name="deploy-canary-eu")  # the query names it
    items[222] = job(222)
    items[250] = {"id": 7250, "name": "build-0250", "kind": "ci_job", "note": "manual"}  # other keys
    return items


def row_of(item: dict) -> str:
    """The table row of a job in the listing's table (kind is constant and hoisted)."""
    values = [item[k] for k in ("id", "name", "status", "runner", "duration_ms", "message")]
    return json.dumps(values, separators=(",", ":"))


# --- unchanged input ---------------------------------------------------------------------


def test_small_compact_api_response_is_returned_unchanged() -> None:
    compact = json.dumps(json.loads(RESERVATION), separators=(",", ":"))
    result = compress_json(compact, NO_QUERY)
    assert (result.text, result.kind, result.lossless, result.folds) == (compact, "json", True, ())


def test_small_api_response_with_spaces_is_only_minified() -> None:
    """Each `, "` and `: "` costs a token more than `,"` and `:"`: about a fifth of the tokens."""
    result = compress_json(RESERVATION, NO_QUERY)
    assert result.text == json.dumps(json.loads(RESERVATION), separators=(",", ":"))
    assert result.lossless and result.folds == ()


@pytest.mark.parametrize("text", ["", "   \n", "not json at all", '{"a": 1,', "[1, 2", '{"a": "\\ud800 lone"}'])
def test_invalid_or_empty_json_is_returned_unchanged_as_lossless_json(text: str) -> None:
    result = compress_json(text, NO_QUERY)
    assert (result.text, result.kind, result.lossless, result.folds) == (text, "json", True, ())


@pytest.mark.parametrize("text", ["[]", "{}", "42", '"just a string"', "[" * 600 + "]" * 600])
def test_trivial_or_too_deeply_nested_json_is_returned_unchanged(text: str) -> None:
    assert compress_json(text, NO_QUERY) == Result(text, "json", True, ())


def test_json_that_saves_too_little_is_returned_unchanged() -> None:
    text = json.dumps({f"key_{i}": f"distinct value number {i}" for i in range(60)})
    assert compress_json(text, NO_QUERY).text == text


# --- lossless table ----------------------------------------------------------------------


def test_array_of_similar_objects_becomes_a_table_with_nested_columns_and_constants() -> None:
    text = json.dumps(FLIGHTS, indent=2)
    result = compress_json(text, NO_QUERY)
    assert result.text == FLIGHTS_TABLE
    assert result.lossless and result.folds == ()
    assert decode(result.text) == FLIGHTS


def test_table_round_trips_with_odd_items_odd_keys_and_nested_values() -> None:
    items = [
        {"id": i, "a.b": "dotted key", "tags": ["x", i], "meta": {"n": i, "deep": {"k": [i]}}, "v": None}
        for i in range(6)
    ]
    items.insert(3, {"id": 99, "other": True})
    text = json.dumps(items, indent=4)
    result = compress_json(text, NO_QUERY, lossless_only=True)
    lines = result.text.split("\n")
    assert lines[0] == '7 items as rows of (id, tags, meta.n, meta.deep.k)'
    assert lines[1] == 'constant in all 6 items: {"a.b": "dotted key", v: null}'
    assert lines[5] == '{"id":99,"other":true}'
    assert result.lossless and decode(result.text) == items


def test_tables_inside_an_object_keyed_entries_and_lists_of_lists_round_trip() -> None:
    document = {
        "total": 3,
        "page": {"items": FLIGHTS, "next": None},
        "packages": {f"node_modules/lib{i}": {"version": f"2.{i}.1", "dev": i % 2 == 0} for i in range(5)},
        "itineraries": [[FLIGHTS[0], FLIGHTS[1]], [FLIGHTS[2], FLIGHTS[1]], [FLIGHTS[0]]],
    }
    result = compress_json(json.dumps(document, indent=2), NO_QUERY)
    lines = result.text.split("\n")
    assert lines[0] == '{"total":3,"page":{"items":"<table page.items>","next":null},"packages":"<table packages>","itineraries":"<table itineraries>"}'
    assert "table packages: 5 entries as rows of ([key], version, dev)" in lines
    assert '["node_modules/lib3","2.3.1",false]' in lines
    assert "table itineraries: 3 lists of 5 items in all, as rows of (" in result.text
    assert result.lossless and decode(result.text) == document


def test_numbers_are_copied_exactly_as_written() -> None:
    text = (
        '[{"sku": "A-1", "price": 1.50, "rate": 1e5, "delta": -0, "big": 12345678901234567890, "ratio": 0.10, "mass": 3.0},'
        ' {"sku": "A-2", "price": 2.25, "rate": 2E-3, "delta": -0.0, "big": 1, "ratio": 1.000, "mass": 4.0},'
        ' {"sku": "A-3", "price": 10, "rate": 7.5e+2, "delta": 0, "big": 2, "ratio": 0.333, "mass": 5.0}]'
    )
    result = compress_json(text, NO_QUERY)
    assert result.text.split("\n")[1:] == [
        '["A-1",1.50,1e5,-0,12345678901234567890,0.10,3.0]',
        '["A-2",2.25,2E-3,-0.0,1,1.000,4.0]',
        '["A-3",10,7.5e+2,0,2,0.333,5.0]',
    ]
    assert decode(result.text) == json.loads(text)


def test_projection_filters_compare_numbers_kept_as_written() -> None:
    text = json.dumps([{"sku": f"S{i}", "price": f"{i}.50", "qty": i, "notes": "fragile " * 8} for i in range(8)])
    text = text.replace('.50"', ".50").replace('"price": "', '"price": ')
    result = compress_json(text, NO_QUERY, projection="[?price > `5`].{sku: sku, price: price}")
    assert result.text.split("\n")[1:] == ["3 items as rows of (sku, price)", '["S5",5.50]', '["S6",6.50]', '["S7",7.50]']


def test_lossless_only_keeps_every_item_of_a_large_array() -> None:
    items = jobs()
    result = compress_json(json.dumps(items), NO_QUERY, lossless_only=True)
    assert result.lossless and result.folds == ()
    assert NOTE_PATTERN.search(result.text) is None
    assert decode(result.text) == items


def test_pretty_printed_json_without_arrays_is_minified() -> None:
    document = {"service": {"name": "billing", "replicas": 3, "env": {"LOG_LEVEL": "info", "PORT": "8080"}}}
    text = json.dumps(document, indent=8)
    result = compress_json(text, NO_QUERY)
    assert result.text == '{"service":{"name":"billing","replicas":3,"env":{"LOG_LEVEL":"info","PORT":"8080"}}}'
    assert result.lossless


# --- lossy folding -----------------------------------------------------------------------


def test_long_listing_keeps_ends_and_every_outlier_and_folds_the_rest() -> None:
    items = jobs()
    context = Context(query="Why was deploy-canary-eu slow, and what happened to job 7222?")
    result = compress_json(json.dumps(items), context)
    lines = result.text.split("\n")
    assert lines[0] == "300 items as rows of (id, name, status, runner, duration_ms, message)"
    assert lines[1] == 'constant in all 299 items: {kind: "ci_job"}'
    kept = [line for line in lines[2:] if not NOTE_PATTERN.fullmatch(line)]
    assert kept == [
        row_of(items[0]), row_of(items[1]), row_of(items[2]),
        row_of(items[41]),  # rare status
        row_of(items[97]),  # numeric outlier
        row_of(items[150]),  # error words
        row_of(items[188]),  # query term
        row_of(items[222]),  # id named in the query
        '{"id":7250,"name":"build-0250","kind":"ci_job","note":"manual"}',  # other keys
        row_of(items[298]), row_of(items[299]),
    ]  # fmt: skip
    assert lines[5] == "[… 38 items folded: id 7003…7040; status: passed 30, queued 8; runner: linux-a 13, linux-b 13, mac-a 12; message=ok]"
    notes = [line for line in lines if NOTE_PATTERN.fullmatch(line)]
    assert sum(int(note.split()[1].replace(",", "")) for note in notes) == 300 - len(kept)
    assert not result.lossless
    assert [fold.note for fold in result.folds] == notes
    assert all((fold.first_line, fold.last_line) == (1, 1) for fold in result.folds)


def test_a_frequent_error_value_keeps_only_a_few_items() -> None:
    items = [job(i, status="failed" if i % 3 == 0 else "passed") for i in range(400)]
    result = compress_json(json.dumps(items), NO_QUERY)
    failed_rows = [line for line in result.text.split("\n") if '"failed"' in line and not line.startswith("[…")]
    assert len(failed_rows) == 5 + 1  # five for the value, one more at the kept end
    assert "status: passed" in result.text  # the notes still count the failed ones


def test_fold_notes_stay_one_line_and_match_the_retrieval_pattern() -> None:
    items = [job(i, name=f"release]\n{i}") for i in range(200)]
    result = compress_json(json.dumps(items), NO_QUERY)
    for fold in result.folds:
        assert "\n" not in fold.note and NOTE_PATTERN.fullmatch(fold.note)


def test_projection_keeps_the_asked_fields_and_says_what_went() -> None:
    document = {
        "total_count": 3,
        "items": [
            {"id": 11, "state": "open", "title": "Crash on save", "body": "Steps: open, edit, save. " * 20, "user": {"login": "ana"}},
            {"id": 12, "state": "closed", "title": "Typo in docs", "body": "The README says teh. " * 20, "user": {"login": "bo"}},
            {"id": 13, "state": "open", "title": "Slow search", "body": "Search takes 9 s on big repos. " * 20, "user": {"login": "cy"}},
        ],
    }
    text = json.dumps(document, indent=2)
    result = compress_json(text, NO_QUERY, projection="items[].{id: id, state: state, title: title}")
    assert result.text == (
        "[… 5 fields folded: projected items().{id: id, state: state, title: title}; left out body, items, login, "
        "total_count, user]\n"
        "3 items as rows of (id, state, title)\n"
        '[11,"open","Crash on save"]\n'
        '[12,"closed","Typo in docs"]\n'
        '[13,"open","Slow search"]'
    )
    assert not result.lossless and result.folds[0].note == result.text.split("\n")[0]
    plain = compress_json(text, NO_QUERY)
    filtered = compress_json(text, NO_QUERY, projection="items[?state=='open'].{id: id, title: title}")
    assert filtered.text.split("\n")[1] == '[{"id":11,"title":"Crash on save"},{"id":13,"title":"Slow search"}]'  # too short for a table
    for expression in ("items[", "no_such_field", "items[].{id: id"):
        assert compress_json(text, NO_QUERY, projection=expression) == plain
    assert compress_json(text, NO_QUERY, projection="items[].id", lossless_only=True) == compress_json(
        text, NO_QUERY, lossless_only=True
    )


def test_long_strings_are_shortened_but_keep_their_error_lines() -> None:
    page = "<html><body>\n" + "<p>Catalogue entry, nothing unusual here.</p>\n" * 120
    page += "<p>Error: quota exceeded for project 4711</p>\n" + "<p>More catalogue text.</p>\n" * 60 + "</body></html>"
    document = {"url": "https://example.com/catalogue", "status": 200, "body": page, "avatar": "iVBORw0KGgo" + "QUFB" * 900}
    result = compress_json(json.dumps(document), NO_QUERY)
    out = json.loads(result.text)  # still valid JSON: notes sit inside the strings
    assert out["url"] == "https://example.com/catalogue" and out["status"] == 200
    assert out["avatar"] == "iVBORw0KGgoQUFBQUFBQUFBQ[… 3,587 chars folded: base64 or binary data]"
    entry = "<p>Catalogue entry, nothing unusual here.</p>"
    assert out["body"].split("\n") == [
        "<html><body>", entry, entry, entry,
        "[… 5,382 chars folded: html]",
        "<p>Error: quota exceeded for project 4711</p>",
        "[… 1,652 chars folded: html]",
        "<p>More catalogue text.</p>", "</body></html>",
    ]  # fmt: skip
    assert not result.lossless and len(result.folds) == 3


def test_a_long_single_line_string_keeps_its_head_and_tail() -> None:
    summary = "Release notes: " + "fixed a flaky retry in the uploader; " * 40 + "bumped version to 4.2.1"
    result = compress_json(json.dumps([{"tag": f"v4.2.{i}", "summary": summary + str(i)} for i in range(12)]), NO_QUERY)
    rows = [json.loads(line) for line in result.text.split("\n")[1:] if not line.startswith("[…")]
    assert rows[0] == ["v4.2.0", summary[:160] + "[… 1,299 chars folded: text]" + (summary + "0")[-60:]]


def test_deep_nesting_is_summarised_by_keys_and_size() -> None:
    def chain(depth: int) -> dict:
        return {"level": depth, "config": chain(depth - 1) if depth else {"values": list(range(1500))}}

    document = {"name": "cluster-a", "spec": chain(8)}
    result = compress_json(json.dumps(document), NO_QUERY)
    assert result.text == (
        '{"name":"cluster-a","spec":{"level":8,"config":{"level":7,"config":{"level":6,"config":{"level":5,'
        '"config":{"level":4,"config":"[… 1 object folded: 2 keys (level, config), 6,486 chars]"}}}}}}'
    )
    assert result.folds[0].note == "[… 1 object folded: 2 keys (level, config), 6,486 chars]"


def test_a_deep_value_with_an_error_is_not_summarised() -> None:
    def chain(depth: int) -> dict:
        return {"level": depth, "config": chain(depth - 1) if depth else {"values": list(range(1500)), "error": "disk full"}}

    result = compress_json(json.dumps({"spec": chain(8)}), NO_QUERY)
    assert '"error":"disk full"' in result.text and "object folded" not in result.text


# --- routing, determinism, helpers -------------------------------------------------------


def test_through_the_router_with_a_mini_swe_agent_envelope() -> None:
    text = "<returncode>0</returncode>\n<output>\n" + json.dumps(FLIGHTS, indent=2) + "\n</output>"
    result = compress(text, Context(tool_name="bash", tool_args={"command": "curl -s localhost:8080/flights"}), kind="json")
    assert result.text == "<returncode>0</returncode>\n<output>\n" + FLIGHTS_TABLE + "\n</output>"
    assert result.kind == "json" and result.lossless


def test_auto_routing_picks_json_for_a_json_body() -> None:
    result = compress(json.dumps(FLIGHTS, indent=2), Context(tool_name="get_flights"))
    assert result.kind == "json" and result.text == FLIGHTS_TABLE


def test_same_input_gives_the_same_output_in_fresh_interpreters() -> None:
    text = json.dumps(jobs())
    query = "what happened to deploy-canary-eu"
    script = (
        "import sys; from compressors import Context; from compressors.json_crusher import compress_json;"
        f"sys.stdout.write(compress_json(sys.stdin.read(), Context(query={query!r})).text)"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script], input=text, capture_output=True, text=True, check=True, cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }  # fmt: skip
    assert len(outputs) == 1
    assert outputs == {compress_json(text, Context(query=query)).text}


def test_a_string_equal_to_a_placeholder_turns_tables_off() -> None:
    document = {"items": [{"id": i, "ref": "<table items>"} for i in range(30)]}
    result = compress_json(json.dumps(document, indent=2), NO_QUERY)
    assert json.loads(result.text) == document
    html = {"items": [{"id": i, "body": "<table class='grid'><tr><td>1</td></tr></table>"} for i in range(30)]}
    result = compress_json(json.dumps(html, indent=2), NO_QUERY)
    assert result.text.startswith('{"items":"<table items>"}\ntable items: 30 items as rows of (id)')
    assert decode(result.text) == html


def test_error_prefilter_finds_what_the_shared_pattern_finds() -> None:
    texts = [
        '[1,"ok","fine"]', '[2,"timed out after 30s","x"]', '[3,"assertionerror: can\'t open"]',
        '[4,"unauthorised","no such file"]', '[5,"errors everywhere","panicked"]', '[6,"deprecated api"]',
    ]  # fmt: skip
    blob, starts = _joined(texts)
    lower = blob.lower()
    found = [(m.start(), m.group(0)) for m in _error_matches(lower, starts)]
    assert found == [(m.start(), m.group(0)) for m in _ERROR_LOWER.finditer(lower)]
    assert len(found) == 8


def test_a_document_inside_json_is_content_and_stays_whole() -> None:
    """An MCP tool that reads a note or an issue returns one object holding a long markdown
    string: its body is the content the model reads, not a value to cut to head and tail."""
    def body(n: int) -> str:
        steps = [f"{i}. call `advancedSearchCompanies()` with offset={i * 20} and note that row {i} repeats page {n}" for i in range(1, 40)]
        return "\n".join([f"# Pagination is ignored ({n})", "", "Steps to reproduce:", *steps, "", "Expected: `search-records` honours `offset`."])

    comments = [{"id": 3162461440 + n, "user": {"login": f"user{n}", "avatar_url": f"https://avatars.example/u/{n}?v=4"}, "body": body(n)} for n in range(6)]
    result = compress_json(json.dumps(comments), NO_QUERY)
    for n in range(6):  # every body whole, its middle steps included
        assert json.dumps(f"20. call `advancedSearchCompanies()` with offset=400 and note that row 20 repeats page {n}")[1:-1] in result.text


def test_a_long_document_inside_json_is_read_as_a_prose_file_is() -> None:
    """An issue whose body is a long markdown document gets the policy of a prose file Read:
    its opening and ending, every heading and the lines with the request's words stay; the
    runs between fold with notes. Source code in a string stays whole, as a symbol body."""
    sections = []
    for s in range(12):
        sections += [f"## Finding {s}", "", *[f"- row {s}.{i}: the importer retries page {i} and logs nothing useful" for i in range(20)], ""]
    sections[150] = "- row 7.x: `CUSTOM_FIELD_MAPPING` drops the currency field"
    body = "\n".join(["# Import regressions", "", *sections, "Owner: @octo"])
    handlers = [(f"def handler_{i}(event):", f"    if event.kind == {i}:", f"        return run(event, {i})", "    return None", "") for i in range(40)]
    code = "\n".join(["import os", "", *[line for handler in handlers for line in handler]])
    issue = {"number": 377, "title": "Import regressions", "body": body, "state": "open", "patch": code}
    result = compress_json(json.dumps(issue), Context(query="why is CUSTOM_FIELD_MAPPING dropping currency?"))
    kept = json.loads(result.text.split("\n")[0])["body"].split("\n")
    lines = body.split("\n")
    assert kept[:100] == lines[:100] and kept[-20:] == lines[-20:]
    assert "## Finding 9" in kept and "- row 7.x: `CUSTOM_FIELD_MAPPING` drops the currency field" in kept
    assert "- row 9.5: the importer retries page 5 and logs nothing useful" not in kept
    assert any(NOTE_PATTERN.search(line) for line in kept) and not result.lossless
    assert json.loads(result.text.split("\n")[0])["patch"] == code
    short = {"number": 1, "body": "\n".join(lines[:140])}  # a document of at most 150 lines stays whole
    assert json.loads(compress_json(json.dumps(short), NO_QUERY).text.split("\n")[0])["body"] == short["body"]


def test_api_link_fields_go_with_a_note_and_web_urls_and_data_stay():
    """GitHub-style REST output: API URLs, URL templates, node ids and avatars are left out
    (lossy, noted); the web URL, numbers, titles and bodies stay."""
    user = {"login": "octo", "id": 7, "node_id": "MDQ6VXNlcjc=", "avatar_url": "https://avatars.githubusercontent.com/u/7?v=4",
            "url": "https://api.github.com/users/octo", "followers_url": "https://api.github.com/users/octo/followers",
            "following_url": "https://api.github.com/users/octo/following{/other_user}", "type": "User"}  # fmt: skip
    issues = [
        {"url": f"https://api.github.com/repos/o/r/issues/{n}", "html_url": f"https://github.com/o/r/issues/{n}", "number": n,
         "node_id": f"I_kwDO{n:08d}", "title": f"Fix parser bug {n}", "user": user, "comments_url": f"https://api.github.com/repos/o/r/issues/{n}/comments",
         "body": f"Steps:\n1. run `parse --strict`\n2. see error E{n}\n"}  # fmt: skip
        for n in range(380, 400)
    ]
    text = json.dumps(issues, indent=2)
    result = compress_json(text, Context(tool_name="mcp__github__list_issues"))
    assert not result.lossless and "API link field" in result.folds[0].note
    for n in range(380, 400):
        assert f"https://github.com/o/r/issues/{n}" in result.text and f"Fix parser bug {n}" in result.text and f"E{n}" in result.text
    body = result.text.split("\n", 1)[1]  # after the fold note, which names the fields that went
    assert "api.github.com" not in body and "node_id" not in body and "avatars." not in body and "MDQ6" not in body
    lossless = compress_json(text, Context(), lossless_only=True)  # no retrieve path: every link kept
    assert lossless.lossless and all(f"https://api.github.com/repos/o/r/issues/{n}/comments" in lossless.text for n in range(380, 400))
