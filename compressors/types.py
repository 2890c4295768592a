"""The values that cross the compressor boundary: what a compressor is told and what it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Context:
    """What is known about a piece of text besides the text itself."""

    tool_name: str | None = None
    tool_args: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None  # file path, when the tool call names one
    query: str = ""  # the user's latest request, for relevance
    source: str = "tool_output"  # tool_output | document

    @property
    def command(self) -> str:
        """The shell command that produced the output, when the tool call carries one."""
        for name in ("command", "cmd", "script"):
            value = self.tool_args.get(name)
            if isinstance(value, str):
                return value
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return " ".join(value)
        return ""


@dataclass(frozen=True)
class Fold:
    """A run of original lines that the output stands in for (1-based, inclusive). From
    `compress`, they count the lines of the text it was given (an envelope's wrapper and a
    read's own numbering included), so retrieval can answer a fold with exactly its lines."""

    first_line: int
    last_line: int
    note: str


@dataclass(frozen=True)
class Result:
    """A compressor's output. `lossless` means the original can be rebuilt from `text` alone
    (terminal escape codes aside, which carry nothing for a model)."""

    text: str
    kind: str
    lossless: bool = True
    folds: tuple[Fold, ...] = ()
