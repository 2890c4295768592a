"""What agrees between the answer to the original body and the answer to the forwarded one.

Verdicts: `agree` (same stop reason, same tool calls with equal arguments, texts alike),
`differ`, or `retrieve`: the compressed side asked for an original with the retrieve tool. Sent
directly to the provider, that call is an answer to record, not to follow; through the proxy it
would have been answered and the model would have gone on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from scripts.evaluation.answers import Answer, ToolCall, canonical

# Two texts mean the same above this (MiniLM cosine; difflib ratio in the fallback). Paraphrases
# of one answer score ~0.9-1.0, unrelated answers ~0.1-0.4.
SIMILAR = 0.85


@dataclass(frozen=True)
class Comparison:
    same_stop: bool
    same_tools: bool  # the same client tools called, in order (retrieve calls left out)
    arguments_equal: bool  # and with equal arguments
    argument_share: float | None  # share of argument fields equal, over all calls; None: no calls
    text_similarity: float | None  # None: neither side wrote text
    retrieved: bool  # the compressed side called the retrieve tool
    verdict: str  # agree | differ | retrieve

    def as_dict(self) -> dict:
        return asdict(self)


def compare(original: Answer, forwarded: Answer, similarity: Callable[[str, str], float], retrieve_tool: str | None = None) -> Comparison:
    """Compare the two answers of one A/B."""
    # The report names the retrieve tool the forwarded body carries (headroom_retrieve, or a variant
    # when the client has a tool of that name); the original body never carries it.
    a = list(original.tool_calls)
    b = [c for c in forwarded.tool_calls if retrieve_tool is None or c.name != retrieve_tool]
    retrieved = len(b) < len(forwarded.tool_calls)
    same_tools = [c.name for c in a] == [c.name for c in b]
    arguments_equal = same_tools and all(canonical(x.arguments) == canonical(y.arguments) for x, y in zip(a, b))
    share = argument_share(a, b)
    text = similarity(original.text, forwarded.text) if (original.text.strip() or forwarded.text.strip()) else None
    same_stop = original.stop == forwarded.stop
    if retrieved:
        verdict = "retrieve"
    elif same_stop and arguments_equal and (text is None or text >= SIMILAR):
        verdict = "agree"
    else:
        verdict = "differ"
    return Comparison(same_stop, same_tools, arguments_equal, share, text, retrieved, verdict)


def argument_share(a: list[ToolCall], b: list[ToolCall]) -> float | None:
    """Field by field: the share of argument fields with equal values, calls paired in order (a
    call without a partner of the same name shares nothing)."""
    if not a and not b:
        return None
    shares = []
    for i in range(max(len(a), len(b))):
        x, y = (a[i] if i < len(a) else None), (b[i] if i < len(b) else None)
        if x is None or y is None or x.name != y.name:
            shares.append(0.0)
            continue
        keys = set(x.arguments) | set(y.arguments)
        equal = sum(1 for k in keys if k in x.arguments and k in y.arguments and canonical(x.arguments[k]) == canonical(y.arguments[k]))
        shares.append(equal / len(keys) if keys else 1.0)
    return sum(shares) / len(shares)

