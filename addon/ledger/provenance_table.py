"""Provenance in the ledger: the composition of every request, and the retrieves the proxy answered.

A conversation re-sends its whole history on every turn, so storing each request's units in
full would grow with the square of its length. Instead each distinct unit record (its source,
fate and token figures, never its content) is stored once in `units` under a digest of the
record, and a request's composition is the first `base_units` keys of an earlier request of
the same session (`base_id`) followed by its own `units`: a turn costs the units it added.

`retrievals` holds every retrieve the proxy answered (id, outcome, time), so a trace can say
which folded segments the model asked for later. `calls` holds the tool calls of responses to
clients that chain requests (Responses' `previous_response_id`): their next request sends only
the calls' outputs, whose sources a trace then finds here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS units (key TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS compositions (
    request_id INTEGER PRIMARY KEY, session TEXT NOT NULL,
    base_id INTEGER, base_units INTEGER NOT NULL, units TEXT NOT NULL, first_new INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS compositions_session ON compositions (session, request_id);
CREATE TABLE IF NOT EXISTS retrievals (id INTEGER PRIMARY KEY, ts REAL NOT NULL, original_id TEXT NOT NULL, status TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS retrievals_original ON retrievals (original_id);
CREATE TABLE IF NOT EXISTS calls (call_id TEXT PRIMARY KEY, source TEXT NOT NULL);
"""
SQLITE_CHUNK = 500  # values bound in one query, under SQLite's limit on bound parameters
SESSIONS_REMEMBERED = 256  # the last composition of this many sessions, kept to write the next as a delta
_PER_REQUEST = ("pos", "new")  # a record's fields that depend on the request, not the unit


@dataclass(frozen=True)
class Retrieval:
    """One retrieve the proxy answered."""

    ts: float
    original_id: str
    status: str  # found | unknown | expired | …


def unit_key(record: dict) -> tuple[str, str]:
    """The digest and JSON of a record without its per-request fields."""
    text = json.dumps({k: v for k, v in record.items() if k not in _PER_REQUEST}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20], text


class CompositionWriter:
    """Writes compositions as deltas; lives on the ledger's writer thread (not thread-safe)."""

    def __init__(self) -> None:
        self._last: OrderedDict[str, tuple[int, list[str]]] = OrderedDict()

    def write(self, db: sqlite3.Connection, request_id: int, session: str, records: list[dict]) -> None:
        keys = []
        for record in records:
            key, text = unit_key(record)
            db.execute("INSERT OR IGNORE INTO units (key, record) VALUES (?, ?)", (key, text))
            keys.append(key)
        first_new = next((r.get("pos", i) for i, r in enumerate(records) if r.get("new")), len(records))
        base_id, base_keys = self._previous(db, session)
        shared = 0
        if base_id is not None:
            while shared < min(len(keys), len(base_keys)) and keys[shared] == base_keys[shared]:
                shared += 1
        db.execute(
            "INSERT OR REPLACE INTO compositions (request_id, session, base_id, base_units, units, first_new) VALUES (?, ?, ?, ?, ?, ?)",
            (request_id, session, base_id if shared else None, shared, json.dumps(keys[shared:]), first_new),
        )
        self._last[session] = (request_id, keys)
        self._last.move_to_end(session)
        while len(self._last) > SESSIONS_REMEMBERED:
            self._last.popitem(last=False)

    def _previous(self, db: sqlite3.Connection, session: str) -> tuple[int | None, list[str]]:
        if session in self._last:
            return self._last[session]
        found = db.execute("SELECT request_id FROM compositions WHERE session = ? ORDER BY request_id DESC LIMIT 1", (session,)).fetchone()
        if found is None:  # a new session, or written before a restart: one full list, then deltas again
            return None, []
        return found[0], composition_keys(db, found[0])


def write_calls(db: sqlite3.Connection, calls: dict[str, str]) -> None:
    db.executemany("INSERT OR REPLACE INTO calls (call_id, source) VALUES (?, ?)", list(calls.items()))


def call_sources(db: sqlite3.Connection, call_ids: set[str]) -> dict[str, str]:
    """The sources of these tool calls, where a response recorded them."""
    return dict(rows_in(db, "SELECT call_id, source FROM calls WHERE call_id IN ({marks})", call_ids))


def write_retrievals(db: sqlite3.Connection, retrievals: list[Retrieval]) -> None:
    db.executemany("INSERT INTO retrievals (ts, original_id, status) VALUES (?, ?, ?)", [(r.ts, r.original_id, r.status) for r in retrievals])


def composition_keys(db: sqlite3.Connection, request_id: int) -> list[str]:
    """A request's unit keys, its chain of bases resolved."""
    chain: list[tuple[int | None, int, list[str]]] = []
    current: int | None = request_id
    while current is not None:
        row = db.execute("SELECT base_id, base_units, units FROM compositions WHERE request_id = ?", (current,)).fetchone()
        if row is None:
            break
        chain.append((row[0], row[1], json.loads(row[2])))
        current = row[0]
    keys: list[str] = []
    for _, base_units, own in reversed(chain):
        keys = keys[:base_units] + own
    return keys


def read_composition(db: sqlite3.Connection, request_id: int) -> list[dict] | None:
    """A request's records in order (with `pos` and `new`), or None when none was recorded."""
    row = db.execute("SELECT first_new FROM compositions WHERE request_id = ?", (request_id,)).fetchone()
    if row is None:
        return None
    keys = composition_keys(db, request_id)
    stored = {key: json.loads(text) for key, text in rows_in(db, "SELECT key, record FROM units WHERE key IN ({marks})", set(keys))}
    return [{"pos": i, **stored.get(key, {"missing": True}), "new": i >= row[0]} for i, key in enumerate(keys)]


def retrieved_after(db: sqlite3.Connection, ids: set[str], since: float) -> dict[str, str]:
    """Of `ids`, those the model asked for at or after `since`: id → the first answer's status."""
    out: dict[str, str] = {}
    query = "SELECT original_id, status FROM retrievals WHERE ts >= ? AND original_id IN ({marks}) ORDER BY ts"
    for original_id, status in rows_in(db, query, ids, since):
        out.setdefault(original_id, status)  # the first answer: each chunk is in time order, and an id is in one chunk
    return out


def rows_in(db: sqlite3.Connection, query: str, values: set[str], *before: object) -> list[tuple]:
    """`query`'s rows for every value of `values` in its `IN ({marks})`, asked in chunks of
    SQLITE_CHUNK (SQLite's limit on bound parameters); `before`: parameters ahead of them."""
    wanted, rows = sorted(values), []
    for start in range(0, len(wanted), SQLITE_CHUNK):
        chunk = wanted[start : start + SQLITE_CHUNK]
        rows += db.execute(query.format(marks=", ".join("?" * len(chunk))), (*before, *chunk)).fetchall()
    return rows
