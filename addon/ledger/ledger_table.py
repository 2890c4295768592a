"""The savings ledger: one SQLite row per LLM request, under HEADROOM_HOME/ledger.sqlite3.

Pure of mitmproxy. The file is the user's own (0600, in the 0700 home; no telemetry), in WAL
mode so that `headroom stats` reads while the proxy writes. Writes go through one writer thread
fed by a queue: the proxy's event loop only enqueues a function that builds the row, so parsing
bodies and SQLite I/O never run on it, and a failure is counted and logged, never raised.

Rows and what they count (see addon/ledger/flow_record.py for how a flow becomes a row):

- `role = client`: a request a client made. Its compression figures are Headroom's savings.
- `role = follow_up`: a request the proxy made itself to answer the retrieve tool.
  `retrieve_round` marks those that carry a retrieve answer; their whole cost counts against
  the savings (`saved_usd` is minus their cost).
- `billed`: the row's usage is what the provider billed and counts once in spend. A non-streamed
  client row already carries the usage of its retrieval rounds summed (addon/retrieval/answer_retrieval.py),
  so its follow-ups are not billed again; a streamed client row answered by the loopback responder
  shows the client a spliced usage, so there its follow-ups (every round) are the billed rows.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from addon.ledger import provenance_table
from addon.ledger.provenance_table import CompositionWriter, Retrieval
from addon.proxy.home import private_dir
from addon.ledger.usage import Usage

log = logging.getLogger(__name__)

FILE_NAME = "ledger.sqlite3"
SCHEMA_VERSION = 3  # 3: provenance (addon/ledger/provenance_table.py)
QUEUE_LIMIT = 10_000  # rows waiting to be written; beyond this new rows are dropped (and counted)

_COLUMNS = (
    "ts", "provider", "model", "session", "role", "billed", "streamed", "status",
    "usage_known", "input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens",
    "tokens_before", "tokens_after", "segments", "retrieve_round", "retrieval_rounds", "errors", "error",
    "latency_ms", "ttfb_ms", "pricing", "cost_usd", "saved_usd",
    "client", "thread", "cache_ttl", "prefix_break_tokens", "cache",
)  # fmt: skip
# Columns added after version 1, with their types (older files get them by ALTER TABLE).
_ADDED = {"client": "TEXT", "thread": "TEXT", "cache_ttl": "TEXT", "prefix_break_tokens": "INTEGER", "cache": "TEXT"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL, provider TEXT NOT NULL, model TEXT, session TEXT NOT NULL,
    role TEXT NOT NULL, billed INTEGER NOT NULL, streamed INTEGER NOT NULL, status INTEGER,
    usage_known INTEGER NOT NULL, input_tokens INTEGER, cache_read_tokens INTEGER,
    cache_write_5m_tokens INTEGER, cache_write_1h_tokens INTEGER, output_tokens INTEGER,
    tokens_before INTEGER NOT NULL, tokens_after INTEGER NOT NULL, segments TEXT NOT NULL,
    retrieve_round INTEGER NOT NULL, retrieval_rounds INTEGER NOT NULL, errors INTEGER NOT NULL, error TEXT,
    latency_ms REAL, ttfb_ms REAL, pricing TEXT, cost_usd REAL, saved_usd REAL,
    client TEXT, thread TEXT, cache_ttl TEXT, prefix_break_tokens INTEGER, cache TEXT
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
""" + provenance_table.SCHEMA


class LedgerError(RuntimeError):
    """A ledger file this version cannot use."""


@dataclass(frozen=True)
class SegmentFigures:
    """One compressed segment of a request: exact token counts before and after."""

    kind: str
    tokens_before: int
    tokens_after: int
    replayed: bool  # an earlier decision replayed (the segment sat in the cached prefix)


@dataclass
class LedgerRow:
    """One LLM request, as the ledger stores it."""

    ts: float
    provider: str
    model: str | None
    session: str
    role: str = "client"  # client | follow_up
    billed: bool = True
    streamed: bool = False
    status: int | None = None
    usage: Usage | None = None
    segments: list[SegmentFigures] = field(default_factory=list)
    retrieve_round: bool = False
    retrieval_rounds: int = 0  # rounds the proxy answered for this client request (non-streamed)
    errors: int = 0
    error: str | None = None
    latency_ms: float | None = None
    ttfb_ms: float | None = None
    pricing: str | None = None  # the pricing table's title, when money figures are known
    cost_usd: float | None = None  # what the provider billed for this row (None: unknown price or usage)
    saved_usd: float | None = None  # net of cache effects; negative for retrieval rounds
    client: str | None = None  # the client program (User-Agent product)
    thread: str | None = None  # the cache aligner's thread: one conversation, model, tool set, system prompt
    cache: dict = field(default_factory=dict)  # the cache aligner's report (addon/cache/cache_aligner.py)
    # every unit's source and fate: written to provenance_table's tables, not read back with the row
    composition: list[dict] | None = field(default=None, compare=False, repr=False)
    id: int | None = field(default=None, compare=False)  # the row's id, once written or read
    calls: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # its response's tool calls: id → source

    @property
    def cache_ttl(self) -> str | None:
        return self.cache.get("ttl")

    @property
    def prefix_break_tokens(self) -> int | None:
        """≈ tokens of the prompt that were still cached where the forwarded prompt broke its thread's prefix."""
        brk = self.cache.get("prefix_break")
        return brk.get("tokens") if isinstance(brk, dict) else None

    @property
    def tokens_before(self) -> int:
        return sum(s.tokens_before for s in self.segments)

    @property
    def tokens_after(self) -> int:
        return sum(s.tokens_after for s in self.segments)

    def values(self) -> tuple:
        u = self.usage
        segments = json.dumps([[s.kind, s.tokens_before, s.tokens_after, int(s.replayed)] for s in self.segments])
        figures = (u.input_tokens, u.cache_read_tokens, u.cache_write_5m_tokens, u.cache_write_1h_tokens, u.output_tokens) if u else (None,) * 5
        return (
            self.ts, self.provider, self.model, self.session, self.role, int(self.billed), int(self.streamed), self.status,
            int(u is not None), *figures, self.tokens_before, self.tokens_after, segments,
            int(self.retrieve_round), self.retrieval_rounds, self.errors, self.error,
            self.latency_ms, self.ttfb_ms, self.pricing, self.cost_usd, self.saved_usd,
            self.client, self.thread, self.cache_ttl, self.prefix_break_tokens, json.dumps(self.cache) if self.cache else None,
        )  # fmt: skip

    @classmethod
    def from_record(cls, r: sqlite3.Row) -> LedgerRow:
        usage = None
        if r["usage_known"]:
            usage = Usage(r["input_tokens"], r["cache_read_tokens"], r["cache_write_5m_tokens"], r["cache_write_1h_tokens"], r["output_tokens"], r["model"])
        segments = [SegmentFigures(k, b, a, bool(m)) for k, b, a, m in json.loads(r["segments"])]
        return cls(
            r["ts"], r["provider"], r["model"], r["session"], r["role"], bool(r["billed"]), bool(r["streamed"]), r["status"],
            usage, segments, bool(r["retrieve_round"]), r["retrieval_rounds"], r["errors"], r["error"],
            r["latency_ms"], r["ttfb_ms"], r["pricing"], r["cost_usd"], r["saved_usd"],
            r["client"], r["thread"], json.loads(r["cache"]) if r["cache"] else {}, None, r["id"],
        )  # fmt: skip


def ledger_path(home: Path) -> Path:
    return home / FILE_NAME


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the ledger: owner-only file, WAL, current schema."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)  # also when an older file was looser
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA busy_timeout = 10000")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        db.close()
        raise LedgerError(f"{path} was written by a newer Headroom (schema {version}); update Headroom or move the file away")
    db.execute("PRAGMA journal_mode = WAL")
    if version < SCHEMA_VERSION:
        _migrate(db)
    return db


def _migrate(db: sqlite3.Connection) -> None:
    """Create the table, or give an older one the new columns, and only then mark the schema
    version, in one transaction: a crash or a second process midway leaves it as it was."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:  # not done meanwhile by another process
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            present = {r[1] for r in db.execute("PRAGMA table_info(requests)")}
            for name, kind in _ADDED.items():
                if name not in present:
                    db.execute(f"ALTER TABLE requests ADD COLUMN {name} {kind}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def read_rows(path: Path, since: float | None = None) -> list[LedgerRow]:
    """Every row (from `since`, a Unix time, when given), oldest first."""
    if not path.exists():
        return []
    db = connect(path)
    try:
        records = db.execute("SELECT * FROM requests WHERE ts >= ? ORDER BY ts, id", (since or 0.0,)).fetchall()
    finally:
        db.close()
    return [LedgerRow.from_record(r) for r in records]


def insert(db: sqlite3.Connection, rows: list[LedgerRow], compositions: CompositionWriter | None = None, retrievals: list[Retrieval] = ()) -> None:
    marks = ", ".join("?" * len(_COLUMNS))
    statement = f"INSERT INTO requests ({', '.join(_COLUMNS)}) VALUES ({marks})"
    compositions = compositions or CompositionWriter()
    db.execute("BEGIN")  # one transaction
    try:
        for row in rows:
            row.id = db.execute(statement, row.values()).lastrowid
            if row.composition is not None and row.id is not None:
                compositions.write(db, row.id, row.session, row.composition)
            if row.calls:
                provenance_table.write_calls(db, row.calls)
        if retrievals:
            provenance_table.write_retrievals(db, list(retrievals))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


RowMaker = Callable[[], "LedgerRow | Retrieval | None"]
Written = Callable[["LedgerRow"], None]  # told of a row once it is committed


class LedgerWriter:
    """Writes rows on its own thread. `submit` never blocks and never raises."""

    def __init__(self, path: Path) -> None:
        self.path = path
        connect(path).close()  # a file that cannot be used fails here, where the caller can report it
        self.written = 0
        self.failed = 0
        self.dropped = 0
        self._queue: queue.Queue[tuple[RowMaker, Written | None] | threading.Event | None] = queue.Queue(QUEUE_LIMIT)
        self._compositions = CompositionWriter()  # used on the writer thread only
        self._thread = threading.Thread(target=self._run, name="headroom-ledger", daemon=True)
        self._thread.start()

    def submit(self, make_row: RowMaker, written: Written | None = None) -> None:
        """Queue a function that builds a row; it runs on the writer thread. `written` is called
        with the row once it is committed (so what it tells, a reader of the file finds)."""
        try:
            self._queue.put_nowait((make_row, written))
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        while True:
            item = self._queue.get()
            batch: list[tuple[RowMaker, Written | None] | threading.Event | None] = [item]
            while item is not None and len(batch) < 200:  # commit what is waiting in one go
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
            rows: list[LedgerRow] = []
            retrievals: list[Retrieval] = []
            told: list[tuple[Written, LedgerRow]] = []
            for entry in batch:
                if isinstance(entry, tuple):
                    make_row, written = entry
                    try:
                        if isinstance(row := make_row(), Retrieval):
                            retrievals.append(row)
                        elif row is not None:
                            rows.append(row)
                            if written is not None:
                                told.append((written, row))
                    except Exception as e:  # one bad flow costs its own row only
                        self.failed += 1
                        log.warning("headroom: a ledger row could not be built (%s: %s)", type(e).__name__, e)
            if rows or retrievals:
                try:
                    db = db or connect(self.path)
                    insert(db, rows, self._compositions, retrievals)
                    self.written += len(rows)
                    for written, row in told:
                        written(row)
                except Exception as e:
                    self.failed += len(rows)
                    log.warning("headroom: %d ledger row(s) not written to %s (%s: %s)", len(rows), self.path, type(e).__name__, e)
                    if db is not None:
                        db.close()
                    db = None  # reconnect next time (the file may have been moved away)
                    self._compositions = CompositionWriter()  # its last compositions were rolled back
            for entry in batch:
                if isinstance(entry, threading.Event):
                    entry.set()
            if None in batch:
                if db is not None:
                    db.close()
                return
