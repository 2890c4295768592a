"""`headroom trace [SESSION] [--request N] [--json]`: what went into one context window, and from where.

Read from the ledger's provenance tables (addon/ledger/provenance_table.py): every unit of the
request in order with its source and fate, then the same summed: tokens by type and by tool,
what compression did and why it left the rest whole, which folded segments the model
retrieved later, and what the window holds more than once (the same file read three times).

The JSON form is compact and its keys stable, for an agent to read; the terminal form is for a
person (rich tables, like `headroom stats`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from addon.ledger.ledger_table import connect
from addon.ledger.provenance_table import call_sources, read_composition, retrieved_after
from addon.provenance.window_summary import summarize

FORMAT = 1  # the JSON form's version: bumped only when a key changes meaning
SEGMENTS_SHOWN = 40
REPEAT_MIN_TOKENS = 50  # identical texts smaller than this are not worth listing  # the terminal lists the largest units; --all lists every one


class TraceError(ValueError):
    """Nothing to trace: the message says what to do."""


@dataclass(frozen=True)
class RequestRef:
    id: int
    ts: float
    provider: str
    model: str | None
    session: str


def find_request(db: sqlite3.Connection, session: str | None, number: int | None) -> tuple[RequestRef, int, int]:
    """The request to trace (the session's `number`th client request, 1-based, negative from the
    end; default the last of its main thread, see `main_thread_last`), its number and the session's count. Without a session: the latest
    session with a recorded composition. A session may be given by a unique prefix."""
    query = "SELECT r.id, r.ts, r.provider, r.model, r.session FROM requests r JOIN compositions c ON c.request_id = r.id WHERE r.role = 'client'"
    if session is None:
        latest = db.execute(query + " ORDER BY r.id DESC LIMIT 1").fetchone()
        if latest is None:
            raise TraceError("the ledger holds no request with a recorded composition yet: run a client through the proxy first")
        session = latest[4]
    else:
        matches = [r[0] for r in db.execute("SELECT DISTINCT session FROM compositions WHERE session = ? OR session LIKE ?", (session, session + "%"))]
        if not matches:
            raise TraceError(f"no session {session!r} in the ledger (`headroom trace --sessions` lists them)")
        if len(matches) > 1 and session not in matches:
            raise TraceError(f"{session!r} names {len(matches)} sessions; give more of it: {', '.join(sorted(matches)[:5])}")
        session = session if session in matches else matches[0]
    rows = [RequestRef(*r) for r in db.execute(query + " AND r.session = ? ORDER BY r.id", (session,))]
    n = main_thread_last(rows) if number is None else number if number > 0 else len(rows) + number + 1
    if not 1 <= n <= len(rows):
        raise TraceError(f"session {session} has {len(rows)} traced requests; --request takes 1 to {len(rows)} (or -1 for the last)")
    return rows[n - 1], n, len(rows)


def main_thread_last(rows: list[RequestRef]) -> int:
    """The number of the session's last request on its most used model: an agent's side requests
    (a title, a quota check, a summary) go to a smaller model under the same session id, and the
    window worth reading is the main thread's."""
    if not rows:
        return 0
    counts = Counter(r.model for r in rows)
    main = max(counts, key=lambda m: (counts[m], max(i for i, r in enumerate(rows) if r.model == m)))
    return max(i for i, r in enumerate(rows) if r.model == main) + 1


def list_sessions(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """The sessions with traced requests, latest first."""
    query = """SELECT r.session, COUNT(*), MIN(r.ts), MAX(r.ts), MAX(r.provider), MAX(r.model)
               FROM requests r JOIN compositions c ON c.request_id = r.id WHERE r.role = 'client'
               GROUP BY r.session ORDER BY MAX(r.id) DESC"""
    return [
        {"session": s, "requests": n, "first": _iso(first), "last": _iso(last), "provider": provider, "model": model}
        for s, n, first, last, provider, model in db.execute(query)
    ]


def trace(ledger: Path, session: str | None = None, number: int | None = None) -> dict[str, Any]:
    """The trace of one request as a JSON-ready dict (see `summarize`)."""
    if not ledger.exists():
        raise TraceError(f"no ledger at {ledger}: the proxy has recorded nothing yet (is headroom_ledger off?)")
    db = connect(ledger)
    try:
        ref, n, total = find_request(db, session, number)
        records = read_composition(db, ref.id) or []
        if unresolved := {r["call"] for r in records if r.get("call") and not r.get("source")}:
            sources = call_sources(db, unresolved)  # calls made in an earlier response (a chained request)
            records = [r | {"source": sources[r["call"]]} if r.get("call") in sources and not r.get("source") else r for r in records]
        ids = {i for r in records for i in r.get("ids") or []}
        retrieved = retrieved_after(db, ids, ref.ts) if ids else {}
    finally:
        db.close()
    head = {"format": FORMAT, "session": ref.session, "request": n, "of": total, "ts": _iso(ref.ts), "provider": ref.provider, "model": ref.model}
    return head | summarize(records, retrieved)


def render(data: dict[str, Any], console: Console, show_all: bool = False) -> None:
    """The terminal form."""
    t = data["tokens"]
    share = 100 * (t["client"] - t["forwarded"]) / t["client"] if t["client"] else 0.0
    console.print(
        f"[bold]session {data['session']}[/] · request {data['request']} of {data['of']} · {data['ts']} · "
        f"{data['provider']} {data.get('model') or ''}\n"
        f"{t['client']:,} tokens from the client → {t['forwarded']:,} forwarded (−{share:.0f}%); {t['new']:,} new in this request"
    )
    console.print(_figures("by role/type", data["by_type"]))
    if data["by_tool"]:
        console.print(_figures("tool outputs by tool", data["by_tool"]))
    console.print(_figures("what compression did", data["fates"]))
    if data["whole_because"]:
        table = Table(title="left whole, because", title_justify="left")
        table.add_column("reason")
        table.add_column("units", justify="right")
        table.add_column("tokens", justify="right")
        for row in data["whole_because"]:
            table.add_row(row["name"] or "—", f"{row['units']:,}", f"{row['tokens']:,}")
        console.print(table)
    if data["repeats"]:
        table = Table(title="in the window more than once", title_justify="left")
        for name in ("what", "source", "count", "tokens", "positions"):
            table.add_column(name, justify="right" if name in ("count", "tokens") else "left")
        for g in data["repeats"][:15]:
            table.add_row(g["what"], g["source"] or "—", str(g["count"]), f"{g['tokens']:,}", ", ".join(map(str, g["positions"][:12])))
        console.print(table)
    if data["retrieved"]:
        console.print("retrieved later by the model: " + "; ".join(f"#{r['pos']} {r['source']}" for r in data["retrieved"]))
    segments = data["segments"]
    shown = segments if show_all else sorted(segments, key=lambda r: -int(r.get("tokens") or 0))[:SEGMENTS_SHOWN]
    table = Table(title=f"units ({len(shown)} of {len(segments)}{'' if show_all else ', largest first; --all for every one'})", title_justify="left")
    for name in ("#", "role/type", "source", "new", "tokens", "sent", "fate"):
        table.add_column(name, justify="right" if name in ("#", "tokens", "sent") else "left", overflow="fold")
    for r in sorted(shown, key=lambda r: r["pos"]):
        fate = r.get("fate", "")
        if r.get("kind"):
            fate += f" ({r['kind']}{', ' + r['mode'] if r.get('mode') else ''})"
        if r.get("reason"):
            fate += f": {r['reason']}"
        if r.get("retrieved"):
            fate += " · retrieved"
        table.add_row(
            str(r["pos"]), f"{r.get('role')}/{r.get('type')}", r.get("source") or "", "new" if r.get("new") else "",
            f"{int(r.get('tokens') or 0):,}", f"{int(r.get('sent') or 0):,}", fate,
        )  # fmt: skip
    console.print(table)


def _figures(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("", "units", "tokens", "sent", "saved"):
        table.add_column(name, justify="left" if not name else "right")
    for row in rows:
        saved = row["tokens"] - row["sent"]
        table.add_row(row["name"], f"{row['units']:,}", f"{row['tokens']:,}", f"{row['sent']:,}", f"{saved:,}" if saved else "")
    return table


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts).isoformat(timespec="seconds") if ts else None
