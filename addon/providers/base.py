"""The one small interface every provider adapter implements."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from addon.wire.json_splice import Path

# Pasted user text counts as a document worth compressing only above this many characters.
DOCUMENT_MIN_CHARS = 8_000


class UnknownShape(ValueError):
    """The body is JSON, but not of a shape this adapter knows: it passes through untouched."""


@dataclass(frozen=True)
class Segment:
    """One string in a request body that compression may rewrite."""

    path: Path  # where the string lives in the JSON body
    text: str
    source: str  # tool_output | document
    fresh: bool  # sent after the model's last turn: the provider has not seen it yet
    tool_name: str | None = None
    tool_args: Mapping[str, Any] = field(default_factory=dict)
    is_error: bool = False


@dataclass(frozen=True)
class ParsedRequest:
    """What an adapter finds in a body."""

    segments: list[Segment]
    query: str  # the user's latest words, for relevance
    first_turn: bool = False  # no model turn yet: the provider has cached nothing of this conversation


class ProviderAdapter(Protocol):
    """Turns one provider's request body into segments; knows JSON shapes, not compression."""

    name: str

    def matches(self, path: str) -> bool:
        """Whether this adapter owns the request path (query string excluded)."""

    def parse(self, body: Any) -> ParsedRequest:
        """Segments and query of a decoded JSON body; raise UnknownShape for shapes it does not know."""


def parse_arguments(raw: Any) -> Mapping[str, Any]:
    """Tool-call arguments as a mapping, whether sent as an object or a JSON string."""
    import json

    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return {"input": raw}
        return value if isinstance(value, Mapping) else {"input": value}
    return {}


# Agents that send tool output back as a user message (mini-swe-agent and its kin) wrap it
# like this; the command is the last shell block of the assistant turn before it.
_AGENT_OUTPUT = re.compile(r"\A<returncode>-?\d+</returncode>\n")
_SHELL_BLOCK = re.compile(r"```(?:bash|sh|shell)?\n(.*?)```", re.DOTALL)


def is_agent_tool_output(text: str) -> bool:
    """Whether a user message is an agent's wrapped tool output rather than the user's words."""
    return _AGENT_OUTPUT.match(text) is not None


def shell_command_in(text: str | None) -> Mapping[str, Any]:
    """The last fenced shell command in an assistant message, as tool arguments."""
    blocks = _SHELL_BLOCK.findall(text or "")
    return {"command": blocks[-1].strip()} if blocks else {}


def last_index(items: list[Any], predicate) -> int:
    """Index of the last item matching predicate, or -1."""
    for i in range(len(items) - 1, -1, -1):
        if predicate(items[i]):
            return i
    return -1
