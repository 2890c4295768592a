"""The Compression addon: rewrite LLM request bodies in place, pass everything else through as it was.

pytest-asyncio is not installed: each test runs its scenario with asyncio.run, so mitmproxy's
master, the worker threads and the hook all share one real event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import taddons, tflow, tutils

from addon.assembly import HeadroomAddons
from addon.compression.compression import Compression
from compressors import Context, Result, compress
from compressors.tokens import count_tokens
from tests.support.bodies import anthropic_tool_turn, noisy_log, openai_tool_turn

LOG = noisy_log(300)
FOLDED = compress(LOG).text


def anthropic_body(output: str = LOG) -> bytes:
    return json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": anthropic_tool_turn(output)}).encode()


def make_flow(
    body: bytes,
    host: str = "api.anthropic.com",
    path: str = "/v1/messages",
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> http.HTTPFlow:
    all_headers = {"content-type": "application/json", **(headers or {})}
    return tflow.tflow(req=http.Request.make(method, f"https://{host}{path}", body, all_headers))


def tool_result(flow: http.HTTPFlow) -> str:
    return json.loads(flow.request.get_content())["messages"][2]["content"][0]["content"]


async def settle(rewrite: Compression) -> None:
    """Wait for work the hook left running after it returned (exact token counts)."""
    await asyncio.gather(*getattr(rewrite, "_background", ()))


@contextlib.asynccontextmanager
async def headroom(home: Path, **options: Any) -> AsyncIterator[tuple[Compression, taddons.context]]:
    """HostFilter and Compression loaded as mitmdump would, with all state under `home`."""
    addons = HeadroomAddons()
    rewrite = addons.compression
    with taddons.context(addons.hosts, addons.storage, addons.cache, rewrite) as tctx:
        tctx.configure(rewrite, headroom_home=str(home), headroom_workers=1, **options)
        try:
            yield rewrite, tctx
            await settle(rewrite)
        finally:
            rewrite.done()
            addons.storage.done()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_fresh_tool_result_is_rewritten(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path) as (rewrite, _):
            flow = make_flow(anthropic_body())
            await rewrite.request(flow)
            # The body is final when the hook returns; only the exact token counts may follow.
            assert tool_result(flow) == FOLDED
            assert flow.request.headers["content-length"] == str(len(flow.request.raw_content))
            assert rewrite.counters == {"rewritten": 1}
            assert flow.marked == ":scissors:"
            await settle(rewrite)
            meta = flow.metadata["headroom"]
            assert (meta["provider"], meta["segments"], meta["fresh"]) == ("anthropic", 1, 1)
            assert (meta["tokens_before"], meta["tokens_after"]) == (count_tokens(LOG), count_tokens(FOLDED))
            assert flow.comment.startswith(f"headroom: {count_tokens(LOG):,} → {count_tokens(FOLDED):,} tokens")
            assert rewrite.counters_command() == "rewritten=1"

    run(scenario)


def test_only_the_tool_output_bytes_change(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path) as (rewrite, _):
            body = anthropic_body().replace(b'"max_tokens": 1024', b'"max_tokens": 1.024e3, "t": -0.0')
            flow = make_flow(body)
            await rewrite.request(flow)
            literal = json.dumps(LOG).encode()
            start = body.index(literal)
            tail = len(body) - start - len(literal)
            out = flow.request.raw_content
            assert out[:start] == body[:start] and out[-tail:] == body[-tail:]

    run(scenario)


def test_decisions_survive_a_restart(tmp_path: Path) -> None:
    # The next turn re-sends the log as history: after a restart it must still go out folded.
    async def scenario() -> None:
        messages = anthropic_tool_turn(LOG)
        async with headroom(tmp_path) as (rewrite, _):
            await rewrite.request(make_flow(json.dumps({"messages": messages}).encode()))
        messages += [{"role": "assistant", "content": "declined"}, {"role": "user", "content": "and now?"}]
        async with headroom(tmp_path) as (rewrite, _):
            rewrite.compress_fn = broken
            flow = make_flow(json.dumps({"messages": messages}).encode())
            await rewrite.request(flow)
            assert tool_result(flow) == FOLDED
            assert rewrite.counters == {"rewritten": 1}
            assert flow.metadata["headroom"]["rewritten"][0]["memo"] is True

    run(scenario)


def test_openai_compatible_host_needs_headroom_hosts(tmp_path: Path) -> None:
    body = json.dumps({"model": "deepseek-chat", "messages": openai_tool_turn(LOG)}).encode()

    async def scenario() -> None:
        async with headroom(tmp_path) as (rewrite, tctx):
            flow = make_flow(body, host="api.deepseek.com", path="/chat/completions")
            await rewrite.request(flow)
            assert flow.request.raw_content == body and not rewrite.counters
            tctx.options.update(headroom_hosts=["api.deepseek.com"])
            flow = make_flow(body, host="api.deepseek.com", path="/chat/completions")
            await rewrite.request(flow)
            assert json.loads(flow.request.content)["messages"][3]["content"] == FOLDED

    run(scenario)


@pytest.mark.parametrize(
    "change",
    [
        {"host": "example.com"},  # not an LLM host
        {"method": "GET"},
        {"path": "/v1/models"},  # no adapter
        {"path": "/v1/messages/count_tokens"},
    ],
)
def test_requests_that_are_not_ours_pass_untouched(tmp_path: Path, change: dict[str, str]) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path) as (rewrite, _):
            body = anthropic_body()
            flow = make_flow(body, **change)
            await rewrite.request(flow)
            assert flow.request.raw_content == body
            assert not rewrite.counters and "headroom" not in flow.metadata and flow.comment == ""

    run(scenario)


def test_disabled_and_answered_flows_pass_untouched(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path, headroom_enabled=False) as (rewrite, tctx):
            flow = make_flow(anthropic_body())
            await rewrite.request(flow)
            assert flow.request.raw_content == anthropic_body()
            tctx.options.update(headroom_enabled=True)
            flow.response = tutils.tresp()  # e.g. answered by another addon
            await rewrite.request(flow)
            assert flow.request.raw_content == anthropic_body() and not rewrite.counters

    run(scenario)


def broken(text: str, context: Context) -> Result:
    raise RuntimeError("compressor exploded")


def test_compressor_failure_fails_open(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path) as (rewrite, _):
            rewrite.compress_fn = broken
            body = anthropic_body()
            flow = make_flow(body)
            headers = flow.request.headers.copy()
            await rewrite.request(flow)
            assert flow.request.raw_content == body
            assert flow.request.headers == headers
            assert rewrite.counters["errors"] == 1 and rewrite.counters["rewritten"] == 0
            assert flow.metadata["headroom"]["errors"] == ["RuntimeError: compressor exploded"]

    run(scenario)


@pytest.mark.parametrize(
    "body, headers, counter",
    [
        (b"{oops", {}, "not_json"),
        (b"\xff\xfe\x00{", {}, "not_json"),
        (b"key=value", {"content-type": "application/x-www-form-urlencoded"}, "not_json"),
        (b'{"prompt": "Human: hi"}', {}, "unknown_shape"),
        (anthropic_body(), {"authorization": "AWS4-HMAC-SHA256 Credential=AKIA/20250101/us-east-1/bedrock/aws4_request"}, "signed_passthrough"),
        (anthropic_body(), {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, "signed_passthrough"),
    ],
)
def test_pass_through_reasons_are_counted(tmp_path: Path, body: bytes, headers: dict[str, str], counter: str) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path) as (rewrite, _):
            flow = make_flow(body, headers=headers)
            await rewrite.request(flow)
            assert flow.request.raw_content == body
            assert rewrite.counters == {counter: 1}
            assert flow.comment == "" and not flow.marked

    run(scenario)


def test_too_large_body_passes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path, headroom_max_body_mb=0) as (rewrite, _):
            flow = make_flow(anthropic_body())
            await rewrite.request(flow)
            assert flow.request.raw_content == anthropic_body() and rewrite.counters == {"too_large": 1}

    run(scenario)


def test_nothing_to_compress_is_counted_unchanged(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path) as (rewrite, _):
            body = anthropic_body("short output")
            flow = make_flow(body)
            await rewrite.request(flow)
            assert flow.request.raw_content == body
            assert rewrite.counters == {"unchanged": 1}
            assert flow.metadata["headroom"]["segments"] == 1 and flow.metadata["headroom"]["rewritten"] == []
            assert flow.comment == "" and not flow.marked

    run(scenario)


def test_gzip_body_is_rewritten_and_stays_gzip(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path) as (rewrite, _):
            flow = make_flow(anthropic_body(), headers={"content-encoding": "gzip"})
            assert flow.request.raw_content[:2] == b"\x1f\x8b"
            await rewrite.request(flow)
            assert rewrite.counters == {"rewritten": 1}
            assert flow.request.headers["content-encoding"] == "gzip"
            raw = flow.request.raw_content
            assert raw[:2] == b"\x1f\x8b"
            assert json.loads(gzip.decompress(raw))["messages"][2]["content"][0]["content"] == FOLDED
            assert flow.request.headers["content-length"] == str(len(raw))

    run(scenario)


def test_min_tokens_option_leaves_smaller_segments_to_the_lossless_passes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path, headroom_min_tokens=len(LOG)) as (rewrite, _):
            # Under min_tokens only the lossless passes run: the log's repeated lines are
            # counted, nothing is folded away.
            flow = make_flow(anthropic_body())
            await rewrite.request(flow)
            sent = flow.request.content.decode()
            assert "[previous line repeated" in sent and "folded" not in sent

    run(scenario)


@pytest.mark.parametrize("option", [{"headroom_workers": 0}, {"headroom_min_saving_pct": 101}, {"headroom_min_saving_pct": -1}])
def test_invalid_options_are_refused(tmp_path: Path, option: dict[str, int]) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path) as (rewrite, tctx):
            with pytest.raises(exceptions.OptionsError):
                tctx.configure(rewrite, **option)

    run(scenario)


def test_counters_command_before_any_request(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path) as (rewrite, _):
            assert rewrite.counters_command() == "nothing yet"

    run(scenario)


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("headroom_kinds", ["json=sometimes"], "KIND=MODE"),
        ("headroom_json_projections", ["mcp__x=items[.oops"], "jmespath"),
        ("headroom_workers", 0, "at least 1"),
        ("headroom_min_saving_pct", 150, "between 0 and 100"),
        ("headroom_video_fps", 0.0, "frames per second"),
    ],
)
def test_bad_options_are_refused_with_advice(tmp_path: Path, option: str, value: Any, message: str) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path) as (rewrite, tctx):
            with pytest.raises(exceptions.OptionsError, match=message):
                tctx.configure(rewrite, **{option: value})

    run(scenario)


def test_settings_follow_the_options(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with headroom(tmp_path, headroom_kinds=["log=on"], headroom_exclude_tools=["mcp__crm"]) as (rewrite, _):
            assert rewrite.settings.mode("log") == "on"
            assert rewrite.settings.mode("json") == "on"  # lossless applies per request, when no retrieve path
            assert rewrite.settings.exclude_tools == ("mcp__crm",)

    run(scenario)


def test_rewrite_workers_that_die_are_replaced_and_threads_serve_meanwhile(tmp_path: Path, monkeypatch) -> None:
    """`headroom_processes`: a killed worker (out of memory, say) costs its request the worker,
    not the rewrite: threads serve it, and new workers take over once ready."""
    import os
    import signal

    from addon.compression import compression

    monkeypatch.setattr(compression, "WORKER_RESTART_S", 0.0)

    async def ready(rewrite: Compression) -> None:
        for _ in range(1200):
            if rewrite.workers is not None and rewrite.workers.ready:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the rewrite workers never became ready")

    async def scenario() -> None:
        async with headroom(tmp_path, headroom_processes=1) as (rewrite, _):
            rewrite.running()
            await ready(rewrite)
            first = rewrite.workers
            [process] = list(first._pools[0]._processes.values())
            os.kill(process.pid, signal.SIGKILL)
            process.join(10)
            flow = make_flow(anthropic_body())
            await rewrite.request(flow)
            assert tool_result(flow) == FOLDED  # the threads served it
            assert rewrite.counters["rewrite_workers_broken"] == 1 and rewrite.workers is not first
            await ready(rewrite)
            submitted = []
            original_submit = rewrite.workers.submit
            monkeypatch.setattr(rewrite.workers, "submit", lambda job, route: submitted.append(job) or original_submit(job, route))
            again = make_flow(anthropic_body())
            await rewrite.request(again)
            assert tool_result(again) == FOLDED and len(submitted) == 1  # a worker again

    run(scenario)
