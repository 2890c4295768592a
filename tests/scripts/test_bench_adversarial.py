"""bench_adversarial on a tiny slice: every row measured, the summary per kind, exit status."""

from __future__ import annotations

import json

from scripts import bench_adversarial as bench


def test_small_run_reports_every_case(capsys) -> None:
    rc = bench.main(["--kinds", "log,json,html", "--inputs", "identical lines,deep JSON array,unclosed comments", "--scale", "0.05", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert len(report["rows"]) == 3 * 3 * 2
    assert all(row["status"] == "ok" and row["ms"] >= 0 for row in report["rows"])
    assert set(report["kinds"]) == {"log", "json", "html"}
    deep = [r for r in report["rows"] if r["input"] == "deep JSON array"]
    assert all(r["kept_pct"] == 100.0 for r in deep)  # returned whole, not raised


def test_summary_flags_failures_and_growth() -> None:
    rows = [
        {"kind": "log", "input": "a", "size": 1, "unit": "x", "ms": 10.0, "ms_per_mb": 100.0, "status": "ok"},
        {"kind": "log", "input": "a", "size": 10, "unit": "x", "ms": 1000.0, "ms_per_mb": 1000.0, "status": "ok"},
        {"kind": "log", "input": "b", "size": 1, "unit": "x", "ms": 5.0, "ms_per_mb": 50.0, "status": "RecursionError"},
    ]
    summary = bench.summarize(rows, ["log"])["log"]
    assert summary["worst_ms_per_mb"] == 1000.0 and summary["worst_input"] == "a"
    assert summary["worst_growth"] == 10.0
    assert summary["failures"] == ["b (1 x): RecursionError"]
