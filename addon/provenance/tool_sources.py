"""Where a tool output came from, in one short line: the tool and the identifying part of its
arguments (the file and lines of a read, the command of a shell, the URL of a fetch, the MCP
server and tool). Compact and stable, for `headroom trace` and the agents that read it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_CHARS = 160  # a source line is a label, not a copy of the arguments
_PATH_KEYS = ("file_path", "path", "notebook_path", "filename", "file", "absolute_path")
_COMMAND_KEYS = ("command", "cmd", "script")
_URL_KEYS = ("url", "uri")
_QUERY_KEYS = ("pattern", "query", "q", "regex", "glob")


def source_of(tool: str | None, args: Mapping[str, Any] | None) -> str:
    """`Read src/app.py:100-299`, `Bash $ pytest -q`, `WebFetch https://…`,
    `mcp github/get_issue owner=acme repo=web issue_number=12`, or the tool name alone."""
    if not tool:
        return ""
    args = args if isinstance(args, Mapping) else {}
    name = _mcp_name(tool) or tool
    if command := _command(args):
        return _cut(f"{name} $ {command}")
    if url := _first_str(args, _URL_KEYS):
        return _cut(f"{name} {url}")
    path = _first_str(args, _PATH_KEYS)
    if query := _first_str(args, _QUERY_KEYS):
        return _cut(f"{name} {json.dumps(query, ensure_ascii=False)}" + (f" in {path}" if path else ""))
    if path:
        return _cut(f"{name} {path}{_line_range(args)}")
    scalars = [f"{k}={_scalar(v)}" for k, v in args.items() if isinstance(v, str | int | float | bool) and k != "description"][:3]
    return _cut(" ".join([name, *scalars]))


def _mcp_name(tool: str) -> str | None:
    """`mcp__github__get_issue` (Claude Code's naming of MCP tools) → `mcp github/get_issue`."""
    if tool.startswith("mcp__") and tool.count("__") >= 2:
        _, server, name = tool.split("__", 2)
        return f"mcp {server}/{name}"
    return None


def _command(args: Mapping[str, Any]) -> str:
    for key in _COMMAND_KEYS:
        value = args.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = " ".join(value[2:] if value[:2] in (["bash", "-lc"], ["bash", "-c"], ["sh", "-c"]) else value)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    action = args.get("action")  # Responses' local_shell_call: {"action": {"command": [...]}}
    if isinstance(action, Mapping):
        return _command(action)
    code = args.get("input")  # Codex's `exec` custom tool: a script as its whole input
    if isinstance(code, str) and code.strip():
        return " ".join(code.split())
    return ""


def _line_range(args: Mapping[str, Any]) -> str:
    offset, limit = args.get("offset"), args.get("limit")
    if isinstance(offset, int) and isinstance(limit, int):
        return f":{offset}-{offset + limit - 1}"
    if isinstance(offset, int):
        return f":{offset}-"
    if isinstance(limit, int):
        return f":1-{limit}"
    return ""


def _first_str(args: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = args.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _scalar(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return " ".join(text.split())[:40]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
