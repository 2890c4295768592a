"""A retrieval round, whatever the API: the calls the model made, and the sums over rounds.

Each provider reads the model's retrieve calls out of its own response shape, builds the
follow-up request and merges the rounds into the one response the client sees (its
retrieval_rounds.py); the addon (addon/retrieval/answer_retrieval.py) does the I/O. Follow-ups
are built by appending to the forwarded body's bytes, so the provider sees the same prefix.

Mixed turns (a retrieve call beside the client's own tool calls): the proxy answers the
retrieve call in a follow-up whose assistant turn carries only the retrieve calls; the model,
now holding the original, answers again and re-issues whatever client tool calls it still
needs. The client sees only the final round.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_ROUNDS = 5


@dataclass(frozen=True)
class RetrieveCall:
    call_id: str
    original_id: str  # as the model wrote it: an original's id, or a fold's (`<id>:<first>-<last>`)
    query: str | None
    lines: str | None = None  # a line range of the original the model asked for


def call_of(call_id: str, arguments: dict) -> RetrieveCall:
    """A retrieve call from its id and parsed arguments."""
    query, lines = arguments.get("query"), arguments.get("lines")
    return RetrieveCall(
        call_id, str(arguments.get("id", "")), query if isinstance(query, str) and query else None, lines if isinstance(lines, str) and lines else None
    )


def with_summed_usage(rounds: list[dict], fields: tuple[str, ...]) -> dict:
    """A copy of the last round, its usage object's `fields` added up over all rounds."""
    final: dict[str, Any] = json.loads(json.dumps(rounds[-1]))
    usage = dict(final.get("usage") or {})
    for name in fields:
        values = [r.get("usage", {}).get(name) for r in rounds]
        if any(isinstance(v, int) for v in values):
            usage[name] = sum(v for v in values if isinstance(v, int))
    final["usage"] = usage
    return final


def answers_retrieve(body: dict, tool_prefix: str, call_names: Callable[[dict], list[object]]) -> bool:
    """Whether a chat-shaped body's last assistant turn called the retrieve tool and something
    follows it (its results): a retrieval round. `call_names` reads the tool names the
    provider's assistant message called."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    assistant = next((m for m in reversed(messages) if m.get("role") == "assistant"), None)
    if assistant is None or messages[-1] is assistant:
        return False
    return any(isinstance(n, str) and n.startswith(tool_prefix) for n in call_names(assistant))
