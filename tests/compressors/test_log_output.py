"""select_log: template folding, lossless repeats, errors and tracebacks kept, ends kept."""

from __future__ import annotations

import pytest

from compressors import compress
from compressors.lines import Keep, Note, check_selection, render
from compressors.log_output import select_log
from compressors.log_templates import template
from compressors.notes import NOTE_PATTERN
from compressors.types import Context

CTX = Context(tool_name="bash", tool_args={"command": "python serve.py"})


def app_log() -> list[str]:
    """A web server log: a burst of near-identical request lines around a warning and a crash."""
    lines = ["2024-05-01 10:00:00,001 INFO server starting on port 8080", "2024-05-01 10:00:00,004 INFO loaded 12 routes"]
    lines += [
        f"2024-05-01 10:00:{k // 10:02d}.{k:03d} INFO request GET /api/items/{1000 + k} served in {3 + k % 7}ms" for k in range(60)
    ]
    lines += ["2024-05-01 10:00:07,120 WARN slow query on orders: 1532ms"]
    lines += [f"2024-05-01 10:00:08.{k:03d} INFO request GET /api/items/{2000 + k} served in {4 + k % 5}ms" for k in range(30)]
    lines += [
        "2024-05-01 10:00:09,000 ERROR worker-3 crashed",
        "Traceback (most recent call last):",
        '  File "/srv/app/worker.py", line 88, in run',
        "    self.handle(job)",
        '  File "/srv/app/jobs.py", line 41, in handle',
        "    total = compute_total(job.items)",
        "KeyError: 'price'",
        "2024-05-01 10:00:09,010 INFO restarting worker-3",
        "2024-05-01 10:00:09,500 INFO worker-3 ready",
    ]
    return lines


CHAINED = """\
Setting up models...
Traceback (most recent call last):
  File "/srv/shop/db/backends/utils.py", line 89, in _execute
    return self.cursor.execute(sql, params)
  File "/srv/shop/db/backends/sqlite3/base.py", line 378, in execute
    return super().execute(query, params)
sqlite3.OperationalError: no such table: shop_order

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/shop/reproduce.py", line 41, in <module>
    Order.objects.create(total=10)
  File "/srv/shop/db/models/query.py", line 675, in create
    obj.save(force_insert=True, using=self.db)
  File "/srv/shop/db/models/base.py", line 814, in save
    self.save_base(
  File "/opt/py/lib/python3.11/contextlib.py", line 155, in __exit__
    self.gen.throw(typ, value, traceback)
  File "/opt/py/lib/python3.11/site-packages/sqlparse/engine.py", line 12, in run
    stream = self.process(stream)
  File "/opt/py/lib/python3.11/site-packages/sqlparse/filters.py", line 80, in process
    yield from stmt
  File "/srv/shop/db/utils.py", line 91, in __exit__
    raise dj_exc_value.with_traceback(traceback) from exc_value
  File "/srv/shop/db/backends/utils.py", line 89, in _execute
    return self.cursor.execute(sql, params)
  File "/srv/shop/db/backends/sqlite3/base.py", line 378, in execute
    return super().execute(query, params)
shop.db.utils.OperationalError: no such table: shop_order"""


def run(lines: list[str], context: Context = CTX) -> tuple[list[Keep | Note], str]:
    selection = select_log(lines, context)
    check_selection(selection, len(lines))
    return selection, render(lines, selection)


def notes(selection: list[Keep | Note]) -> list[Note]:
    return [item for item in selection if isinstance(item, Note)]


def test_template_masks_variable_parts() -> None:
    assert template("2024-05-01 10:00:00.017 INFO request GET /api/items/1017 served in 3ms") == (
        "<*> INFO request GET /api/items/<*> served in <*>ms"
    )
    assert template("job 7f3a9c2e-1b44-4d0e-9a51-0c2f7d9e8b10 done at 0x7ffe12ab") == "job <*> done at <*>"
    assert template("no variable parts here") == "no variable parts here"


def test_similar_lines_fold_to_first_with_template_note() -> None:
    lines = app_log()
    selection, out = run(lines)
    kept = out.split("\n")
    assert kept[:3] == lines[:3]  # the first request line is kept verbatim
    assert notes(selection)[0].text == '[… 59 similar lines folded: "<*> INFO request GET /api/items/<*> served in <*>ms"]'
    assert "2024-05-01 10:00:07,120 WARN slow query on orders: 1532ms" in kept
    assert len(out) < len(lines) * 20


def test_errors_and_whole_tracebacks_kept() -> None:
    lines = app_log()
    selection, out = run(lines)
    assert out.split("\n")[-9:] == lines[-9:]


WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()


def unique_lines(count: int) -> list[str]:
    """Lines with nothing in common to fold: only trimming can shorten them."""
    return [f"{WORDS[k % 12]} {WORDS[k // 12 % 12]} stage {WORDS[k // 144 % 12]}-{k} wrote {WORDS[k % 7]} report" for k in range(count)]


def test_tail_kept_and_more_of_it_than_the_head() -> None:
    lines = unique_lines(300)
    selection, out = run(lines)
    assert len(notes(selection)) == 1
    before, after = selection[0], selection[2]
    assert isinstance(before, Keep) and isinstance(after, Keep)
    assert before.start == 0 and after.end == len(lines)
    assert 5 <= before.end - before.start < after.end - after.start  # more of the tail
    assert len(out) <= 0.55 * len("\n".join(lines))
    assert all(NOTE_PATTERN.fullmatch(note.text) for note in notes(selection))


def test_consecutive_repeats_fold_losslessly() -> None:
    lines = ["starting sync", *["WARNING: retrying connection to db-primary:5432"] * 13, *[f"synced table t{k}" for k in range(12)]]
    selection = select_log(lines, CTX)
    check_selection(selection, len(lines))
    assert selection[:3] == [Keep(0, 2), Note("[previous line repeated 12 more times]", 2, 14, lossless=True), Keep(14, 15)]
    result = compress("\n".join(lines), CTX, kind="log")
    assert not result.lossless  # the synced tables also folded


def test_chained_tracebacks_keep_every_new_frame() -> None:
    lines = CHAINED.split("\n")
    selection, out = run(lines)
    kept = out.split("\n")
    for line in ("  File \"/srv/shop/reproduce.py\", line 41, in <module>", "    Order.objects.create(total=10)",
                 "sqlite3.OperationalError: no such table: shop_order", "shop.db.utils.OperationalError: no such table: shop_order",
                 "The above exception was the direct cause of the following exception:",
                 '  File "/srv/shop/db/utils.py", line 91, in __exit__'):  # fmt: skip
        assert line in kept
    texts = [note.text for note in notes(selection)]
    assert "[… 6 lines folded: library frames]" in texts  # contextlib's and sqlparse's frames
    assert "[… 4 lines folded: frames repeated from above]" in texts
    assert kept.count('  File "/srv/shop/db/backends/utils.py", line 89, in _execute') == 1


def test_java_and_js_stacks_keep_first_last_and_caused_by() -> None:
    frames = [f"\tat com.acme.sync.Step{k}.run(Step{k}.java:{10 + k})" for k in range(30)]
    lines = [
        "12:00:01 INFO sync starting",
        "Exception in thread \"main\" java.lang.IllegalStateException: cursor closed",
        *frames,
        "Caused by: java.io.IOException: stream reset",
        "\tat com.acme.net.Channel.read(Channel.java:88)",
        "\tat com.acme.net.Channel.poll(Channel.java:54)",
        "\t... 27 more",
        "12:00:02 INFO sync stopped",
    ]
    selection, out = run(lines)
    kept = out.split("\n")
    assert frames[0] in kept and frames[7] in kept and frames[-1] in kept
    assert frames[12] not in kept
    assert "[… 18 stack frames folded]" in [note.text for note in notes(selection)]
    for line in lines[-5:]:
        assert line in kept


def test_go_panic_kept() -> None:
    lines = [*[f"level=info msg=\"tick\" n={k}" for k in range(40)], "panic: runtime error: index out of range [5] with length 3", "",
             "goroutine 1 [running]:", "main.pick(...)", "\t/app/main.go:14", "main.main()", "\t/app/main.go:9 +0x1d",
             "exit status 2"]  # fmt: skip
    selection, out = run(lines)
    assert out.split("\n")[-8:] == lines[-8:]
    assert notes(selection)[0].text == '[… 38 similar lines folded: "level=info msg="tick" n=<*>"]'


def test_carriage_return_progress_collapsed() -> None:
    bar = "\r".join(f"Downloading model.bin: {p:3d}%|{'#' * (p // 10):<10}| {p * 4}/400MB" for p in range(0, 101, 5))
    lines = ["fetching weights", bar, "saved to /tmp/model.bin", "checksum ok", "loading", "ready", "serving", "done"]
    selection, out = run(lines)
    note = "[… 1 progress line (21 redraws) folded: last: Downloading model.bin: 100%|##########| 400/400MB]"
    assert notes(selection)[0] == Note(note, 1, 2)
    assert "saved to /tmp/model.bin" in out


def test_query_terms_keep_lines() -> None:
    lines = unique_lines(300)
    lines[150] = "gamma mu stage parse_header_block returned None for sector west"
    context = Context(tool_name="bash", tool_args={"command": "python scan.py"}, query="Why does parse_header_block return None?")
    selection, out = run(lines, context)
    assert lines[150] in out.split("\n")
    selection, out = run(lines, CTX)
    assert lines[150] not in out.split("\n")


@pytest.mark.parametrize("lines", [[], [""], ["one line"], ["a", "b", "c"], ["x" * 50] * 5])
def test_small_inputs_unchanged(lines: list[str]) -> None:
    selection = select_log(lines, CTX)
    assert selection == ([Keep(0, len(lines))] if lines else [])


def test_dense_output_left_alone() -> None:
    values = ["x", 1.5, None, [1, 2], "why", 7, 8, {"k": 1}, "z", 0, -1, "end"]
    lines = [f"{name} = {value!r}" for name, value in zip("abcdefghijkl", values)]
    assert select_log(lines, CTX) == [Keep(0, len(lines))]


def test_deterministic_and_valid() -> None:
    lines = app_log() + CHAINED.split("\n")
    first = select_log(lines, CTX)
    assert first == select_log(list(lines), CTX)
    check_selection(first, len(lines))


def test_through_router_with_envelope() -> None:
    body = "\n".join(app_log())
    text = f"<returncode>1</returncode>\n<output>\n{body}\n</output>"
    result = compress(text, CTX, kind="log")
    assert result.kind == "log" and not result.lossless
    assert result.text.startswith("<returncode>1</returncode>\n<output>\n2024-05-01 10:00:00,001 INFO server starting")
    assert result.text.endswith("\n".join([*app_log()[-3:], "</output>"]))
    assert result.folds[0].first_line == 4 + 2 and result.folds[0].note.startswith("[… 59 similar lines folded")  # + the envelope's 2 lines


def test_outlier_in_a_similar_run_is_kept() -> None:
    lines = ["checking signal receivers"]
    lines += [f"Checking model <class 'shop.models.M{k}'>, has_pre: False, has_post: False" for k in range(30)]
    lines[17] = "Checking model <class 'shop.models.M16'>, has_pre: False, has_post: True"
    lines += ["done"]
    selection, out = run(lines)
    assert lines[17] in out.split("\n")
    assert lines[10] not in out.split("\n")


def test_scattered_warning_repeats_fold_after_first() -> None:
    lines = []
    for k in range(25):
        lines += [f"/srv/app/client.py:{200 + k}: ResourceWarning: unclosed <socket.socket fd={k + 3}, laddr=('10.0.0.5', {40000 + k})>",
                  "  resp = session.get(url)", f"case {k}: status 200"]  # fmt: skip
    lines += ["FAILED: case 25 raised TimeoutError: read timed out after 30s", "Ran 26 cases"]
    selection, out = run(lines)
    kept = out.split("\n")
    assert kept.count(lines[0]) == 1 and lines[-5] in kept  # first and last warning
    assert lines[3] not in kept
    assert "FAILED: case 25 raised TimeoutError: read timed out after 30s" in kept
    assert len(out) < 0.5 * len("\n".join(lines))


def test_text_already_holding_a_repeat_note_is_not_claimed_lossless() -> None:
    lines = ["[previous line repeated 3 more times]", *["poll: waiting for lock /var/run/app.lock"] * 10]
    lines += [f"step {k} ok" for k in range(12)]
    result = compress("\n".join(lines), CTX, kind="log")
    assert "[previous line repeated 9 more times]" not in result.text
    assert "[… 9 repeated lines folded]" in result.text
    assert not result.lossless


def test_table_rows_are_data_and_never_fold_as_similar_lines() -> None:
    box = ["┌────────────┬───────┐", "│ service    │ count │", "├────────────┼───────┤"]
    box += [f"│ worker-{i:<4}│ {i * 7 % 13:<5} │" for i in range(40)] + ["└────────────┴───────┘"]
    aligned = ["NAME          READY   STATUS     RESTARTS   AGE"] + [f"web-{i:<9} 1/1     Running    {i % 5:<10} {i}d" for i in range(40)]
    filler = [f"INFO polling queue {i % 3}, attempt {i}" for i in range(80)]
    lines = filler + box + filler + aligned + filler
    text = "\n".join(lines)
    result = compress(text, Context(tool_name="Bash", tool_args={"command": "python report.py"}))
    assert result.kind == "log"
    for i in range(40):  # every count and every restart figure is still there
        assert f"│ worker-{i:<4}│ {i * 7 % 13:<5} │" in result.text
        assert f"web-{i:<9} 1/1     Running    {i % 5:<10} {i}d" in result.text
    assert len(result.text) < len(text)  # the log lines around the tables still fold
