"""Cost replay: whole agent conversations, turn by turn, through a provider prompt-cache simulator.

Each conversation (../shared/corpus/conversations.jsonl, plus a generated one with large tool
outputs) is replayed as its client sent it: request k is the message list up to the k-th
assistant turn, whose recorded reply gives the output tokens. Four APIs: the conversation as
OpenAI Chat (gpt-4.1 prices), converted to Anthropic Messages (claude-sonnet-4-5), to OpenAI
Responses (`instructions` + input items, gpt-4.1) and to Gemini (`systemInstruction` +
contents, gemini-2.5-pro). Arms:

- direct:              the bodies as the client sends them;
- headroom:            each body through the proxy's real `rewrite_body`, with a decision memo and
                       store of originals in a temporary HEADROOM_HOME and a retrieval path, so lossy
                       compression applies (the proxy is restarted half-way: memo and store reopened);
- headroom, lossless:  the same with no retrieval path (lossless transforms only);
- headroom, aligned:   compression as `headroom`, plus the cache aligner as API-key traffic gets
                       it (addon/cache/cache_aligner.py): the system prompt kept as first sent when only
                       its dynamic values changed (the new values told at the end), Anthropic
                       breakpoints where the client placed none, the TTL chosen per thread from its
                       turn gaps (after a restart the client's gaps come back, as the proxy reads
                       them from the ledger).

Conversations: the corpus ones, two generated agent loops with large tool outputs, and a generated
one whose system prompt carries the current time and a git status that changes every few turns
(a client that renders its environment into every request).

Schedules: `20s` (every request 20 s after the previous one) and `pauses` (every 5th request
waits 7 minutes, a sub-agent holding the main thread: the 5-minute cache expires).
`breaks` counts requests whose forwarded prompt does not start with the previous forwarded prompt.
Usage: scripts/bench_cost.py [--corpus PATH] [--limit N] [--ttl 5m|1h] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.cache.cache_aligner import AlignOptions, AlignRequest, CacheAligner  # noqa: E402
from addon.compression.decision_memo import DecisionMemo  # noqa: E402
from addon.cache.cache_alignment import MOVE_PROVIDERS  # noqa: E402
from addon.proxy.home import store_dir  # noqa: E402
from addon.proxy.home import private_dir  # noqa: E402
from addon.retrieval.original_store import SALT_BYTES, open_store, owner_of  # noqa: E402
from addon.ledger.pricing import load_pricing  # noqa: E402
from addon.providers import provider_for, provider_named  # noqa: E402
from addon.providers.provider import parse_arguments  # noqa: E402
from addon.compression.segment_decisions import Policy  # noqa: E402
from addon.retrieval.retrieval_path import RetrievalPath  # noqa: E402
from addon.compression.pipeline import rewrite_body  # noqa: E402
from scripts.cache_simulator import TTL_1H, TTL_5M, CacheSimulator, common_prefix_units, units_for  # noqa: E402
from compressors.tokens import count_tokens  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "conversations.jsonl"
MODELS = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-4.1", "responses": "gpt-4.1", "gemini": "gemini-2.5-pro"}
PATHS = {
    "anthropic": "/v1/messages",
    "openai": "/v1/chat/completions",
    "responses": "/v1/responses",
    "gemini": "/v1beta/models/gemini-2.5-pro:generateContent",
}
RETRIEVAL_PROVIDER = {"anthropic": "anthropic", "openai": "openai_chat", "responses": "openai_responses", "gemini": "gemini"}
PROVIDERS = tuple(MODELS)
ARMS = ("direct", "headroom", "headroom, lossless", "headroom, aligned")
SCHEDULES = ("20s", "pauses")
GAP_S = 20.0
PAUSE_S = 7 * 60.0
PAUSE_EVERY = 5


@dataclass
class Conversation:
    id: str
    messages: list[dict]
    tools: list[dict] | None = None
    system_at: Callable[[float, int], str] | None = None  # the system prompt the client renders at (time, request)
    native: bool = False  # messages already in Anthropic Messages shape (Claude Code sessions): Anthropic only


@dataclass
class ArmResult:
    conversation: str
    provider: str
    schedule: str
    arm: str
    requests: int = 0
    tokens_sent: int = 0  # prompt tokens billed, all price classes
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    dollars: float = 0.0
    breaks: int = 0
    compressed_segments: int = 0
    saving: float = 0.0  # share of direct's dollars
    not_above_direct: bool = True
    per_request: list[dict] = field(default_factory=list, repr=False)


# ---- conversations -------------------------------------------------------------------------


def load_conversations(path: Path, limit: int | None = None) -> list[Conversation]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            out.append(Conversation(record["id"], record["messages"], record.get("tools")))
    return out[:limit] if limit else out


def load_claude_code(path: Path, limit: int | None = None) -> list[Conversation]:
    """Whole Claude Code sessions (Anthropic Messages lists), replayed as the Anthropic traffic
    they were. Their tool definitions were not recorded: each session gets a minimal definition
    of every tool it used (Claude Code's real ones are ~15k tokens, so the cached front here is
    smaller than a real session's and savings relative to it are, if anything, understated)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        names = sorted({b.get("name") for m in record["messages"] if isinstance(m.get("content"), list) for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_use"})
        tools = [{"name": n, "description": f"Claude Code's {n} tool.", "input_schema": {"type": "object"}} for n in names if n]
        out.append(Conversation(record["id"], record["messages"], tools, native=True))
    return out[:limit] if limit else out


def native_anthropic_body(messages: list[dict], tools: list[dict] | None) -> dict:
    """The request Claude Code sent: its messages with its own breakpoint on the last block (the
    recorded sessions carry none; Claude Code marks the end of the conversation every turn)."""
    body: dict = {"model": MODELS["anthropic"], "max_tokens": 8192, "messages": json.loads(json.dumps(messages))}
    for message in body["messages"]:  # Claude Code sends every message's content as blocks
        if isinstance(message.get("content"), str):
            message["content"] = [{"type": "text", "text": message["content"]}]
    last = body["messages"][-1] if body["messages"] else None
    if last is not None:
        blocks = [b for b in last.get("content") or [] if isinstance(b, dict) and b.get("type") not in ("thinking", "redacted_thinking")]
        if blocks:
            blocks[-1]["cache_control"] = {"type": "ephemeral"}
    if tools:
        body["tools"] = tools
    return body


def generated_conversation(turns: int = 12, seed: int = 0, quiet_turns: int = 0) -> Conversation:
    """A tool-calling agent whose tools return large test logs, JSON listings and file reads
    (after `quiet_turns` small outputs that nothing compresses)."""
    rng = random.Random(seed)
    messages: list[dict] = [
        {"role": "system", "content": "You are a coding agent. Use the tools to fix the failing test.\n" + "Rules: be brief.\n" * 40},
        {"role": "user", "content": "The test suite fails on main; find out why and fix it."},
    ]
    tools = [
        {"type": "function", "function": {"name": name, "description": f"{name} tool", "parameters": {"type": "object", "properties": {"arg": {"type": "string"}}}}}
        for name in ("run_tests", "list_issues", "read_file")
    ]  # fmt: skip
    for t in range(turns):
        name = ("run_tests", "list_issues", "read_file")[t % 3]
        if t < quiet_turns:
            output = json.dumps({"step": t, "status": "ok", "files": [f"src/mod{t}_{i}.py" for i in range(12)]})
        elif name == "run_tests":
            lines = [f"tests/test_mod{t}.py::test_case_{i} PASSED [{i * 100 // 300:3d}%]" for i in range(300)]
            lines.insert(rng.randrange(300), f"tests/test_mod{t}.py::test_edge FAILED - AssertionError: expected {rng.randrange(999)}")
            output = "\n".join(lines) + f"\n===== 1 failed, 300 passed in {rng.random() * 9:.2f}s ====="
        elif name == "list_issues":
            output = json.dumps([
                {"id": 1000 + i, "title": f"Issue {i} in module {rng.choice('abcdef')}", "state": rng.choice(["open", "closed"]),
                 "labels": ["bug"] if i % 3 else ["feature"], "comments": rng.randrange(20), "author": f"user{rng.randrange(50)}"}
                for i in range(120)
            ])  # fmt: skip
        else:
            output = "\n".join(f"{i + 1:5d}\tdef function_{t}_{i}(value):\n      \treturn value * {i} + {rng.randrange(100)}" for i in range(150))
        call_id = f"call_{t}"
        messages.append({"role": "assistant", "content": f"Step {t}: calling {name}.", "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps({"arg": f"step{t}"})}}]})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": output})
    messages.append({"role": "assistant", "content": "Fixed: the edge case now returns the expected value."})
    label = f"gen:agent-{turns}-turns" + (f"-first-fold-at-{quiet_turns + 1}" if quiet_turns else "")
    return Conversation(label, messages, tools)


def dynamic_system_conversation(turns: int = 16, seed: int = 1) -> Conversation:
    """An agent loop whose client renders the time and a git status into its system prompt on
    every request (the status changes every 4 requests), with a mid-sized tool output a turn."""
    base = generated_conversation(turns, seed)
    rules = "You are a coding agent. Use the tools to fix the failing test.\n" + "Rules: be brief, verify every change.\n" * 60

    def system_at(now: float, k: int) -> str:
        clock = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(1_764_000_000 + now))
        status = "\n".join(f" M src/mod{i}.py" for i in range(1 + k // 4))
        return f"{rules}<env>\nWorking directory: /repo\nCurrent time: {clock}\ngitStatus: Current branch: main\nStatus:\n{status}\n</env>"

    return Conversation(f"gen:dynamic-system-{turns}-turns", base.messages, base.tools, system_at)


def requests_of(conversation: Conversation) -> list[tuple[list[dict], dict]]:
    """(messages the client sends, the recorded reply) for every assistant turn."""
    return [(conversation.messages[:i], m) for i, m in enumerate(conversation.messages) if m.get("role") == "assistant" and i > 0]


def openai_body(messages: list[dict], tools: list[dict] | None) -> dict:
    body: dict = {"model": MODELS["openai"], "messages": messages}
    if tools:
        body["tools"] = tools
    return body


def anthropic_body(messages: list[dict], tools: list[dict] | None) -> dict:
    """The same turns as an Anthropic Messages request (roles alternate; tool results are user blocks)."""
    system: list[str] = []
    out: list[dict] = []

    def add(role: str, blocks: list[dict]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for m in messages:
        role, content = m.get("role"), m.get("content")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
        if role == "system":
            system.append(text)
        elif role == "user":
            add("user", [{"type": "text", "text": text}] if text else [])
        elif role == "assistant":
            blocks = [{"type": "text", "text": text}] if text else []
            for call in m.get("tool_calls") or []:
                function = call.get("function") or {}
                blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": dict(parse_arguments(function.get("arguments")))})
            add("assistant", blocks)
        elif role in ("tool", "function"):
            add("user", [{"type": "tool_result", "tool_use_id": m.get("tool_call_id"), "content": text}])
    body: dict = {"model": MODELS["anthropic"], "max_tokens": 8192, "messages": out}
    if system:
        body["system"] = "\n\n".join(system)
    if tools:
        body["tools"] = [
            {"name": t["function"]["name"], "description": t["function"].get("description", ""), "input_schema": t["function"].get("parameters", {"type": "object"})}
            for t in tools if t.get("function")
        ]  # fmt: skip
    return body


def _text(content) -> str:
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


def responses_body(messages: list[dict], tools: list[dict] | None) -> dict:
    """The same turns as a Responses request: system → instructions, tool calls and outputs as items."""
    system = [_text(m.get("content")) for m in messages if m.get("role") == "system"]
    items: list[dict] = []
    for m in messages:
        role, text = m.get("role"), _text(m.get("content"))
        if role == "user":
            items.append({"role": "user", "content": text})
        elif role == "assistant":
            if text:
                items.append({"role": "assistant", "content": text})
            for call in m.get("tool_calls") or []:
                function = call.get("function") or {}
                items.append({"type": "function_call", "call_id": call.get("id"), "name": function.get("name"), "arguments": function.get("arguments") or "{}"})
        elif role in ("tool", "function"):
            items.append({"type": "function_call_output", "call_id": m.get("tool_call_id"), "output": text})
    body: dict = {"model": MODELS["responses"], "input": items, "store": False}
    if system:
        body["instructions"] = "\n\n".join(system)
    if tools:
        body["tools"] = [{"type": "function", **t["function"]} for t in tools if t.get("function")]
    return body


def gemini_body(messages: list[dict], tools: list[dict] | None) -> dict:
    """The same turns as a Gemini request: system → systemInstruction, calls as functionCall parts,
    results as functionResponse parts of one user content per run of tool messages."""
    system = [_text(m.get("content")) for m in messages if m.get("role") == "system"]
    contents: list[dict] = []
    names: dict[str, str] = {}

    def add(role: str, parts: list[dict]) -> None:
        if not parts:
            return
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for m in messages:
        role, text = m.get("role"), _text(m.get("content"))
        if role == "user":
            add("user", [{"text": text}] if text else [])
        elif role == "assistant":
            parts: list[dict] = [{"text": text}] if text else []
            for call in m.get("tool_calls") or []:
                function = call.get("function") or {}
                names[str(call.get("id"))] = str(function.get("name"))
                parts.append({"functionCall": {"name": function.get("name"), "args": dict(parse_arguments(function.get("arguments")))}})
            add("model", parts)
        elif role in ("tool", "function"):
            name = names.get(str(m.get("tool_call_id")), "tool")
            add("user", [{"functionResponse": {"name": name, "response": {"output": text}}}])
    body: dict = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    if tools:
        declarations = [{k: v for k, v in t["function"].items() if k in ("name", "description", "parameters")} for t in tools if t.get("function")]
        body["tools"] = [{"functionDeclarations": declarations}]
    return body


BUILDERS = {"anthropic": anthropic_body, "openai": openai_body, "responses": responses_body, "gemini": gemini_body}


def reply_tokens(reply: dict) -> int:
    text = reply.get("content") or ""
    calls = json.dumps(reply.get("tool_calls")) if reply.get("tool_calls") else ""
    return count_tokens(text if isinstance(text, str) else json.dumps(text)) + count_tokens(calls)


def gaps(n: int, schedule: str) -> list[float]:
    """Seconds before each request (the first at 0)."""
    return [0.0 if k == 0 else PAUSE_S if schedule == "pauses" and k % PAUSE_EVERY == 0 else GAP_S for k in range(n)]


# ---- arms -----------------------------------------------------------------------------------


class HeadroomArm:
    """The proxy's rewrite with its memo and store, kept across turns (and across a restart)."""

    def __init__(self, home: Path, provider: str, lossless: bool, aligned: bool = False) -> None:
        from addon.assembly import HeadroomAddons

        self.home, self.provider, self.lossless, self.aligned = home, provider, lossless, aligned
        self.aligner: CacheAligner | None = None
        self.rewrite = HeadroomAddons().compression
        self.rewrite.count_executor.shutdown()
        self.adapter = provider_for(PATHS[provider])
        self.memo: DecisionMemo | None = None
        self.originals = None
        self.open()

    def open(self) -> None:
        salt = private_dir(store_dir(self.home)) / "salt"
        if not salt.exists():  # a fixed salt: marker ids, hence the figures, repeat run to run
            salt.write_bytes(b"bench-cost".ljust(SALT_BYTES, b"."))
            salt.chmod(0o600)
        self.memo = DecisionMemo(store_dir(self.home) / "decisions")
        self.originals = open_store(self.home, None)
        if self.aligned:
            previous = self.aligner
            self.aligner = CacheAligner(self.memo, AlignOptions(move=frozenset(MOVE_PROVIDERS)))
            if previous is not None:  # the proxy reads its clients' turn gaps back from the ledger
                for client, gaps in previous.client_gaps().items():
                    self.aligner.add_client_gaps(client, gaps)

    def restart(self) -> None:
        self.close()
        self.open()

    def close(self) -> None:
        if self.memo:
            self.memo.close()
        if self.originals:
            self.originals.close()
        self.memo = self.originals = None

    def forward(self, body: dict, now: float = 0.0) -> tuple[dict, int]:
        raw = json.dumps(body).encode("utf-8")
        alignment = (self.aligner, AlignRequest({}, True, now, "bench-client")) if self.aligner is not None else None
        retrieval = None
        if not self.lossless:
            retrieval = RetrievalPath(self.originals, owner_of("bench-cost-key"), provider_named(RETRIEVAL_PROVIDER[self.provider]))
        out, report = rewrite_body(
            raw, self.adapter, self.memo, Policy(), self.rewrite.compress_segment, True, retrieval, self.rewrite.compress_lossless,
            alignment=alignment,
        )
        return json.loads(out), len(report.rewritten)


def replay(conversation: Conversation, provider: str, schedule: str, arm: str, ttl: float = TTL_5M, restart: bool = True) -> ArmResult:
    """One conversation through one arm: bill every request in the simulator."""
    table = load_pricing()
    price = table.price_for(MODELS[provider])
    assert price is not None, MODELS[provider]
    simulator = CacheSimulator(provider, MODELS[provider], price, default_ttl=ttl)
    result = ArmResult(conversation.id, provider, schedule, arm)
    requests = requests_of(conversation)
    build = native_anthropic_body if conversation.native else BUILDERS[provider]
    with tempfile.TemporaryDirectory(prefix="headroom-bench-cost-") as home:
        headroom = HeadroomArm(Path(home), provider, arm.endswith("lossless"), arm.endswith("aligned")) if arm != "direct" else None
        try:
            now, previous = 0.0, None
            for k, ((messages, reply), gap) in enumerate(zip(requests, gaps(len(requests), schedule))):
                now += gap
                if conversation.system_at is not None:
                    messages = [{"role": "system", "content": conversation.system_at(now, k)}, *messages[1:]]
                body = build(messages, conversation.tools)
                if headroom is not None:
                    if restart and k == len(requests) // 2:
                        headroom.restart()
                    body, compressed = headroom.forward(body, now)
                    result.compressed_segments += compressed
                units = units_for(provider, body)
                if previous is not None and common_prefix_units(previous, units) < len(previous):
                    result.breaks += 1
                previous = units
                billed = simulator.request(body, now, reply_tokens(reply))
                result.requests += 1
                result.tokens_sent += billed.prompt_tokens
                result.input_tokens += billed.input_tokens
                result.cache_read_tokens += billed.cache_read_tokens
                result.cache_write_tokens += billed.cache_write_tokens
                result.output_tokens += billed.output_tokens
                result.dollars += billed.dollars
                result.per_request.append({"t": now, **asdict(billed)})
        finally:
            if headroom is not None:
                headroom.close()
    return result


def run(conversations: list[Conversation], ttl: float = TTL_5M, restart: bool = True) -> list[ArmResult]:
    results = []
    for provider in PROVIDERS:
        for conversation in conversations:
            if conversation.native and provider != "anthropic":
                continue
            for schedule in SCHEDULES:
                direct = None
                for arm in ARMS:
                    r = replay(conversation, provider, schedule, arm, ttl, restart)
                    direct = direct or r
                    r.saving = 1 - r.dollars / direct.dollars if direct.dollars else 0.0
                    r.not_above_direct = r.dollars <= direct.dollars + 1e-12
                    results.append(r)
    return results


def totals(results: list[ArmResult]) -> list[ArmResult]:
    """Sums per provider, schedule and arm."""
    out: dict[tuple[str, str, str], ArmResult] = {}
    for r in results:
        t = out.setdefault((r.provider, r.schedule, r.arm), ArmResult("all", r.provider, r.schedule, r.arm))
        for name in ("requests", "tokens_sent", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "dollars", "breaks", "compressed_segments"):
            setattr(t, name, getattr(t, name) + getattr(r, name))
        t.not_above_direct = t.not_above_direct and r.not_above_direct
    for t in out.values():
        direct = out[(t.provider, t.schedule, "direct")]
        t.saving = 1 - t.dollars / direct.dollars if direct.dollars else 0.0
    return list(out.values())


# ---- output ---------------------------------------------------------------------------------


def render(results: list[ArmResult], summary: list[ArmResult], pricing_title: str, ttl: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"Cost replay, prices: {pricing_title}; TTL {'1h' if ttl == TTL_1H else '5m'}; models {MODELS}")
    for provider in PROVIDERS:
        rows = [r for r in results if r.provider == provider]
        if not rows:
            continue
        console.print(_table(Table, f"{provider} ({MODELS[provider]}): per conversation", rows, per_conversation=True))
    console.print(_table(Table, "All conversations", summary, per_conversation=False))


def _table(Table, title: str, rows: list[ArmResult], per_conversation: bool):
    table = Table(title=title)
    if per_conversation:
        table.add_column("conversation", max_width=34, overflow="ellipsis", no_wrap=True)
    else:
        table.add_column("provider")
    for name in ("schedule", "arm"):
        table.add_column(name)
    for name in ("requests", "tokens sent", "cache read", "cache write", "breaks", "dollars", "saving vs direct", "never above direct"):
        table.add_column(name, justify="right")
    for r in rows:
        first = r.conversation if per_conversation else f"{r.provider} ({MODELS[r.provider]})"
        table.add_row(
            first, r.schedule, r.arm, f"{r.requests:,}", f"{r.tokens_sent:,}", f"{r.cache_read_tokens:,}", f"{r.cache_write_tokens:,}",
            str(r.breaks), f"${r.dollars:.4f}", "—" if r.arm == "direct" else f"{100 * r.saving:.1f}%",
            "—" if r.arm == "direct" else ("✓" if r.not_above_direct else "✗"),
        )  # fmt: skip
    return table


def as_json(results: list[ArmResult], summary: list[ArmResult], pricing_title: str, ttl: float) -> dict:
    def row(r: ArmResult) -> dict:
        data = asdict(r)
        data.pop("per_request")
        return data

    return {
        "pricing": pricing_title,
        "models": MODELS,
        "ttl_s": ttl,
        "schedules": {"20s": f"{GAP_S:g} s between requests", "pauses": f"every {PAUSE_EVERY}th request waits {PAUSE_S:g} s"},
        "conversations": [row(r) for r in results],
        "totals": [row(r) for r in summary],
        "never_above_direct": all(r.not_above_direct for r in results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="only the first N corpus conversations")
    parser.add_argument("--no-generated", action="store_true", help="leave out the generated conversation")
    parser.add_argument("--ttl", choices=("5m", "1h"), default="5m", help="TTL of the modelled end-of-prompt breakpoint")
    parser.add_argument("--no-restart", action="store_true", help="do not restart the proxy half-way")
    parser.add_argument("--claude-code", type=Path, default=None, metavar="PATH",
                        help="replay these whole Claude Code sessions (e.g. ../shared/corpus/claude_code/conversations.jsonl) as Anthropic traffic instead")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.claude_code is not None:
        conversations = load_claude_code(args.claude_code, args.limit)
    else:
        conversations = load_conversations(args.corpus, args.limit)
    if not args.no_generated and args.claude_code is None:
        conversations += [generated_conversation(), generated_conversation(16, quiet_turns=10), dynamic_system_conversation()]
    ttl = TTL_1H if args.ttl == "1h" else TTL_5M
    results = run(conversations, ttl, not args.no_restart)
    summary = totals(results)
    title = load_pricing().title
    if args.json:
        print(json.dumps(as_json(results, summary, title, ttl), indent=2))
    else:
        render(results, summary, title, ttl)
    return 0 if all(r.not_above_direct for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
