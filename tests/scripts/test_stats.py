"""`headroom stats` on a ledger filled here: the tables, --json, --since and --pricing."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from addon.ledger.ledger_table import LedgerRow, LedgerWriter, SegmentFigures, ledger_path
from addon.ledger.usage import Usage
from scripts.cli import main
from scripts.ledger_stats import parse_since

ROOT = Path(__file__).resolve().parents[2]
NOW = time.time()


def fill(home: Path) -> None:
    sonnet = "claude-sonnet-4-5-20250929"
    rows = [
        # session a: a fresh log folded (written to a 5m cache), then replayed and read from cache
        LedgerRow(NOW - 60, "anthropic", sonnet, "prompt:a", usage=Usage(100, 0, 2000, 0, 50, sonnet), segments=[SegmentFigures("log", 10_000, 1_000, False)]),
        LedgerRow(NOW - 30, "anthropic", sonnet, "prompt:a", usage=Usage(100, 2000, 0, 0, 50, sonnet), segments=[SegmentFigures("log", 10_000, 1_000, True)]),
        # its retrieval round (non-streamed: already summed into the client's row)
        LedgerRow(NOW - 29, "anthropic", sonnet, "prompt:a", role="follow_up", billed=False, retrieve_round=True, usage=Usage(1000, 0, 0, 0, 10, sonnet)),
        # session b: an OpenAI model with no compression, and an unpriced model
        LedgerRow(NOW - 20, "openai_chat", "gpt-4.1", "prompt:b", usage=Usage(300, 600, 0, 0, 30, "gpt-4.1")),
        LedgerRow(NOW - 10, "openai_chat", "local-llama", "prompt:b", usage=Usage(10, 0, 0, 0, 1, "local-llama"), segments=[SegmentFigures("json", 500, 100, False)]),
        # two days old
        LedgerRow(NOW - 2 * 86400, "anthropic", sonnet, "prompt:old", usage=Usage(1, 0, 0, 0, 1, sonnet), segments=[SegmentFigures("test", 4000, 400, False)]),
    ]  # fmt: skip
    writer = LedgerWriter(ledger_path(home))
    for r in rows:
        writer.submit(lambda r=r: r)
    assert writer.flush()
    writer.close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))
    fill(tmp_path)
    return tmp_path


def stats_json(capsys, *args: str) -> dict:
    assert main(["stats", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_figures(home, capsys):
    report = stats_json(capsys, "--since", "24h")
    total = report["total"]
    assert report["pricing"].startswith("headroom-list-prices")
    assert total["requests"] == 4 and total["retrieve_rounds"] == 1 and total["retrieve_rate"] == 0.25
    assert (total["tokens_before"], total["tokens_after"]) == (20_500, 2_100)
    # spend: billed rows only; the follow-up is inside its client's usage, llama has no price
    sonnet = (100 * 3 + 2000 * 3.75 + 50 * 15) / 1e6 + (100 * 3 + 2000 * 0.3 + 50 * 15) / 1e6
    gpt = (300 * 2 + 600 * 0.5 + 30 * 8) / 1e6
    assert total["cost_usd"] == pytest.approx(sonnet + gpt) and total["unpriced"] == 1
    # saved: fresh 9,000 tokens at the 5m write rate, replayed 9,000 at the read rate, minus the round
    round_cost = (1000 * 3 + 10 * 15) / 1e6
    assert total["saved_usd"] == pytest.approx(9000 * 3.75 / 1e6 + 9000 * 0.3 / 1e6 - round_cost)
    assert total["cache_hit_ratio"] == pytest.approx((2000 + 600) / (2100 + 2100 + 900 + 10))
    sessions = {s["name"]: s for s in report["sessions"]}
    assert set(sessions) == {"prompt:a", "prompt:b"} and sessions["prompt:a"]["retrieve_rate"] == 0.5
    models = {m["name"]: m for m in report["models"]}
    assert models["local-llama"]["unpriced"] == models["local-llama"]["unpriced_savings"] == 1 and models["gpt-4.1"]["saved_usd"] == 0
    kinds = {k["kind"]: k for k in report["kinds"]}
    assert set(kinds) == {"log", "json"} and kinds["log"]["tokens_saved"] == 18_000
    assert kinds["log"]["saved_usd"] == pytest.approx(9000 * 3.75 / 1e6 + 9000 * 0.3 / 1e6) and kinds["json"]["saved_usd"] == 0


def test_all_time_and_another_table(home, capsys, tmp_path):
    assert stats_json(capsys)["total"]["requests"] == 5
    table = tmp_path / "flat.json"
    table.write_text(json.dumps({"name": "flat", "as_of": "2030-01-01", "models": [
        {"match": "*", "input": 1, "output": 1, "cache_write_5m": 1, "cache_write_1h": 1, "cache_read": 1}]}))  # fmt: skip
    report = stats_json(capsys, "--pricing", str(table), "--since", "1h")
    assert report["pricing"] == "flat (as of 2030-01-01)" and report["total"]["unpriced"] == 0


def test_the_tables(home, capsys):
    assert main(["stats", "--since", "24h"]) == 0
    out = capsys.readouterr().out
    assert "Headroom savings ledger since" in out and "prices: headroom-list-prices" in out
    for title in ("Sessions", "Models", "Compressor kinds", "prompt:a", "gpt-4.1", "log", "json"):
        assert title in out
    assert "20,500 → 2,100" in out and "+1 unpriced" in out and "claude-sonnet-4-5-20250929" in out and "saved $ (net) =" in out


def test_the_shell_shim(home):
    result = subprocess.run([str(ROOT / "scripts" / "stats"), "--json"], capture_output=True, text=True, env={"HEADROOM_HOME": str(home), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"]["requests"] == 5


def test_bad_arguments_say_what_to_do(home, capsys, tmp_path):
    with pytest.raises(SystemExit, match="give a span such as 24h"):
        main(["stats", "--since", "yesterday"])
    with pytest.raises(SystemExit, match="cannot read the pricing table"):
        main(["stats", "--pricing", str(tmp_path / "none.json")])


def test_parse_since():
    assert parse_since("24h", now=100_000) == 100_000 - 86400
    assert parse_since("30m", now=10_000) == 10_000 - 1800
    assert parse_since("2025-11-20") > 0


def test_an_empty_ledger(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEADROOM_HOME", str(tmp_path))
    assert main(["stats"]) == 0
    assert "No requests recorded yet" in capsys.readouterr().out
