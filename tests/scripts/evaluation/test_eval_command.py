"""eval_command: the `headroom eval` verb: arguments, refusals and a dry run in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.io import FlowWriter
from mitmproxy.test import tflow

from scripts.cli import build_parser, main


def write_flows(path: Path) -> None:
    body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 4096, "messages": [{"role": "user", "content": "x " * 500}]}).encode()
    f = tflow.tflow(req=http.Request.make("POST", "https://api.anthropic.com/v1/messages", b'{"model": "claude-sonnet-4-5", "messages": []}',
                                          {"content-type": "application/json", "x-api-key": "k"}), resp=True)  # fmt: skip
    f.metadata.update(headroom={"provider": "anthropic", "rewritten": [{"kind": "text", "tool_name": None}]}, headroom_original=body)
    with path.open("wb") as out:
        FlowWriter(out).add(f)


def test_the_verb_and_its_options():
    args = build_parser().parse_args(["eval", "flows", "--budget", "2", "--limit", "5", "--model", "m", "--json", "out.json"])
    assert args.flows == Path("flows") and args.budget == 2.0 and args.limit == 5 and args.model == "m" and args.json_out == Path("out.json")
    assert args.max_tokens == 512 and args.concurrency == 4 and not args.trust_env


@pytest.mark.parametrize(("argv", "message"), [
    (["eval", "flows"], "give --budget"),
    (["eval", "flows", "--budget", "0"], "more than 0"),
    (["eval", "flows", "--dry-run", "--limit", "0"], "--limit"),
])  # fmt: skip
def test_refusals_say_what_to_do(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert message in str(exit_info.value)


def test_dry_run_prints_the_plan_with_list_prices(tmp_path, capsys):
    flows = tmp_path / "flows"
    write_flows(flows)
    plan = tmp_path / "plan.json"
    assert main(["eval", str(flows), "--dry-run", "--json", str(plan)]) == 0
    out = capsys.readouterr().out
    assert "claude-sonnet-4-5" in out and "estimated cost at most $" in out
    report = json.loads(plan.read_text())
    assert report["dry_run"] and report["results"][0]["state"] == "planned" and report["results"][0]["estimate_usd"] > 0
    assert report["results"][0]["original"]["tokens"] > report["results"][0]["forwarded"]["tokens"]


def test_a_missing_flow_file_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no flow file"):
        main(["eval", str(tmp_path / "nope"), "--dry-run"])
