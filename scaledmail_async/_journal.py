"""The purchase journal: the durable record of every spend, written before its request leaves.

The API has no idempotency keys. What it has is evidence a client chooses: the order ``tag``
(visible in order details) and the names of bought domains (visible in ``/domains`` and
``/purchased-domains``). The journal turns that into an exactly-once guarantee, the way a
transactional outbox or brandur's idempotency-key table does for a server
(https://brandur.org/idempotency-keys):

* **intent first**: an entry (operation, evidence, a fingerprint of the body, state
  ``pending``) is *claimed* before the limiter wait; right before the request is written it is
  marked sent (``sent_at``). A crash before that instant provably sent nothing; after it, the
  entry is what reconciliation resolves. If the journal cannot be written, nothing is sent
  (:class:`JournalUnavailableError`).
* **an atomic claim per piece of evidence**: a spend whose evidence (its tag, or any of its
  domain names) is held by a live entry (``pending``, ``unknown``, ``applied``) of the same API
  key raises :class:`DuplicatePurchaseError` naming that entry, before anything is sent; in
  every process and host that shares the journal, because the claim is one transaction
  (SQLite) or one script (Redis).
* **no secrets**: the entry keeps the evidence and an HMAC-SHA256 fingerprint of the canonical
  body keyed by a hash of the API key; never the body (a ``sequencer.password`` is covered by
  the fingerprint, not written), never the key.

States: ``pending`` -> ``applied`` (with the order or payment id when the answer has one;
``payment_pending`` for "subscription created but unable to charge") | ``not_applied``
(provably never processed: a connect failure, a 4xx, a 429, never sent) | ``unknown`` (an
:class:`~scaledmail_async.OutcomeUnknownError`). ``unknown`` and a sent ``pending`` are resolved
by :meth:`ScaledmailClient.reconcile <scaledmail_async.ScaledmailClient.reconcile>`. An entry
that ends ``not_applied`` frees its evidence.

:class:`SQLitePurchaseJournal` is the default store (stdlib ``sqlite3``, WAL, ``synchronous=FULL``,
several processes of one host); :class:`~scaledmail_async.RedisPurchaseJournal` (extra ``redis``)
serves several hosts. Hand-written: no library journals purchases against an API without
idempotency keys; SQLite's own transactions give the atomic claim.

Its size (about 600 lines): the interface, the entry record, the SQLite store and the environment
setting belong together as the journal's contract.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import hmac
import json
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import attrs

from scaledmail_async.errors import ConfigurationError, ScaledmailError

__all__ = [
    "LIVE_STATES",
    "DuplicatePurchaseError",
    "EntryState",
    "JournalEntry",
    "JournalUnavailableError",
    "PurchaseJournal",
    "SQLitePurchaseJournal",
    "evidence_keys",
    "fingerprint",
    "key_id",
]

EntryState = Literal["pending", "applied", "not_applied", "unknown"]
#: States whose entry holds its evidence (a new spend with the same evidence is a duplicate).
LIVE_STATES: Final[frozenset[str]] = frozenset({"pending", "applied", "unknown"})
_STATES: Final = frozenset({"pending", "applied", "not_applied", "unknown"})


class JournalUnavailableError(ScaledmailError):
    """The purchase journal could not be read or written (a read-only or locked file, Redis
    down). When raised before a spend, **nothing was sent**; fix the store and try again."""


class DuplicatePurchaseError(ScaledmailError):
    """A spend whose evidence (tag or domain names) matches an earlier journal entry that is
    ``pending``, ``unknown`` or ``applied``. Nothing was sent.

    ``entry`` is that earlier :class:`JournalEntry`. Reconcile it
    (``await client.reconcile(entry)``), or pass ``allow_duplicate=True`` to buy the same thing
    again on purpose.
    """

    def __init__(self, message: str, *, entry: JournalEntry) -> None:
        super().__init__(message)
        self.entry = entry


@attrs.frozen
class JournalEntry:
    """One spend as the journal knows it. No secret and no card data: ``fingerprint`` is an
    HMAC of the body, never the body."""

    #: A unique id (``uuid4`` hex).
    id: str
    #: The operation id: ``create_custom_order``, ``create_order``, ``buy_domains``,
    #: ``buy_pre_warm_inboxes``.
    operation: str
    #: The order tag sent (given or minted), or ``None`` for an operation without one.
    tag: str | None
    #: The domain names the spend buys or provisions (lowercase), in the body's order.
    domains: tuple[str, ...]
    state: EntryState
    #: The order or payment id from the answer (or found by reconciliation), when known.
    order_id: str | None
    #: ``True`` for "subscription created but unable to charge" (applied, payment pending).
    payment_pending: bool
    #: HMAC-SHA256 (hex) of the canonical JSON body, keyed by a hash of the API key.
    fingerprint: str
    #: A hash of the API key (never the key): the scope of the duplicate guard.
    key_id: str
    organization_id: str | None
    #: Unix times (seconds): claimed, request about to be written (``None``: never sent), last
    #: change.
    created_at: float
    sent_at: float | None
    updated_at: float
    #: A short, secret-free note: the error that decided the state, or reconciliation's finding.
    note: str = ""

    @property
    def evidence(self) -> tuple[str, ...]:
        """The evidence keys this entry holds (``tag:<tag>``, ``domain:<name>``)."""
        return evidence_keys(self.tag, self.domains)


def key_id(api_key: str) -> str:
    """The API key's scope in the journal: the first 32 hex digits of its SHA-256."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:32]


def evidence_keys(tag: str | None, domains: Sequence[str]) -> tuple[str, ...]:
    """The pieces of evidence a spend claims: its tag when it has one, else each domain."""
    if tag:
        return (f"tag:{tag}",)
    return tuple(f"domain:{d}" for d in dict.fromkeys(domains))


def fingerprint(api_key: str, operation: str, body: Any) -> str:
    """HMAC-SHA256 of ``operation`` and the canonical JSON of ``body`` (sorted keys, no spaces),
    keyed by a hash of ``api_key``: equal bodies give equal fingerprints, and the fingerprint
    reveals nothing of a secret inside the body to someone without the key."""
    secret = hashlib.sha256(b"scaledmail-journal:" + api_key.encode("utf-8")).digest()
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    message = operation.encode() + b"\n" + canonical.encode("utf-8", "surrogatepass")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def new_entry(
    *,
    operation: str,
    tag: str | None,
    domains: Iterable[str],
    fingerprint: str,
    key_id: str,
    organization_id: str | None,
    now: float | None = None,
) -> JournalEntry:
    """A fresh ``pending`` entry (not yet claimed)."""
    at = time.time() if now is None else now
    return JournalEntry(
        id=uuid.uuid4().hex,
        operation=operation,
        tag=tag,
        domains=tuple(domains),
        state="pending",
        order_id=None,
        payment_pending=False,
        fingerprint=fingerprint,
        key_id=key_id,
        organization_id=organization_id,
        created_at=at,
        sent_at=None,
        updated_at=at,
    )


class PurchaseJournal(abc.ABC):
    """Where spends are recorded. Implementations must make :meth:`claim` atomic across every
    process that shares the store, and must raise :class:`JournalUnavailableError` (never
    another exception) when the store cannot be used."""

    @abc.abstractmethod
    async def claim(self, entry: JournalEntry, *, allow_duplicate: bool = False) -> JournalEntry:
        """Record ``entry`` (state ``pending``) and claim its evidence, atomically.

        Raises :class:`DuplicatePurchaseError` (nothing written) when a live entry of the same
        ``key_id`` holds any of its evidence, unless ``allow_duplicate``: then the entry is
        written and takes the evidence over (the earlier entry keeps its state).
        """

    @abc.abstractmethod
    async def mark_sent(self, entry_id: str, at: float) -> bool:
        """Set ``sent_at`` of a ``pending`` entry that was never sent; ``False`` (nothing
        changed) when the entry is no longer an unsent ``pending`` one (reconciliation resolved
        it meanwhile): then the request must not be sent."""

    @abc.abstractmethod
    async def resolve(
        self,
        entry_id: str,
        state: EntryState,
        *,
        order_id: str | None = None,
        payment_pending: bool = False,
        note: str = "",
    ) -> JournalEntry:
        """Move an entry to ``state`` (keeping a known ``order_id`` when none is given); a
        ``not_applied`` entry frees its evidence. Returns the updated entry."""

    @abc.abstractmethod
    async def resolve_unsent(self, entry_id: str, note: str) -> JournalEntry | None:
        """Atomically: if the entry is ``pending`` and was never sent, make it ``not_applied``
        (freeing its evidence). Returns the entry as it is afterwards (``None``: no such
        entry); a caller that finds it sent meanwhile must reconcile it instead."""

    @abc.abstractmethod
    async def get(self, entry_id: str) -> JournalEntry | None:
        """The entry with this id, or ``None``."""

    @abc.abstractmethod
    async def entries(self, *, states: Iterable[str] | None = None) -> list[JournalEntry]:
        """Every entry (oldest first), or those in ``states``."""

    async def find_tag(self, tag: str) -> list[JournalEntry]:
        """The entries with this tag (newest first)."""
        found = [e for e in await self.entries() if e.tag == tag]
        return sorted(found, key=lambda e: e.created_at, reverse=True)

    async def aclose(self) -> None:  # noqa: B027 - optional for stores without resources
        """Release the store's resources (a client never closes a journal it was given)."""


# --------------------------------------------------------------------------- SQLite

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS purchases (
    id TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    tag TEXT,
    domains TEXT NOT NULL,
    state TEXT NOT NULL,
    order_id TEXT,
    payment_pending INTEGER NOT NULL DEFAULT 0,
    fingerprint TEXT NOT NULL,
    key_id TEXT NOT NULL,
    organization_id TEXT,
    created_at REAL NOT NULL,
    sent_at REAL,
    updated_at REAL NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS purchases_tag ON purchases(tag);
CREATE TABLE IF NOT EXISTS evidence (
    key_id TEXT NOT NULL,
    evidence TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    PRIMARY KEY (key_id, evidence)
);
"""

_COLUMNS: Final = (
    "id, operation, tag, domains, state, order_id, payment_pending, fingerprint, key_id, "
    "organization_id, created_at, sent_at, updated_at, note"
)


def _row_entry(row: Sequence[Any]) -> JournalEntry:
    return JournalEntry(
        id=row[0],
        operation=row[1],
        tag=row[2],
        domains=tuple(json.loads(row[3])),
        state=row[4],
        order_id=row[5],
        payment_pending=bool(row[6]),
        fingerprint=row[7],
        key_id=row[8],
        organization_id=row[9],
        created_at=row[10],
        sent_at=row[11],
        updated_at=row[12],
        note=row[13],
    )


class SQLitePurchaseJournal(PurchaseJournal):
    """The default journal: one SQLite file, safe for several processes of one host.

    WAL mode, ``synchronous=FULL`` (a committed claim survives a power cut), ``BEGIN
    IMMEDIATE`` claims (one writer at a time: the duplicate guard holds across processes), a
    ``busy_timeout`` of ``busy_timeout`` seconds (5 s) before a locked database counts as
    unavailable. Calls run in a worker thread (``asyncio.to_thread``), one connection per
    thread. For several hosts use :class:`~scaledmail_async.RedisPurchaseJournal` (SQLite's
    locking does not hold over network file systems).

    Args:
        path: the database file (created with its directory's permissions; ``0600`` when new).
        busy_timeout: seconds to wait for another process's write lock.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 5.0) -> None:
        if not isinstance(path, str | os.PathLike) or not str(path).strip():
            raise ConfigurationError(
                f"SQLitePurchaseJournal needs a file path, not {type(path).__name__}"
            )
        if (
            isinstance(busy_timeout, bool)
            or not isinstance(busy_timeout, int | float)
            or not math.isfinite(busy_timeout)
            or busy_timeout < 0
        ):
            raise ConfigurationError(
                f"busy_timeout must be a finite number of seconds >= 0, not {busy_timeout!r}"
            )
        self.path = Path(path)
        self._busy_ms = int(busy_timeout * 1000)
        self._local = threading.local()
        self._init_lock = threading.Lock()
        self._initialised = False

    def __repr__(self) -> str:
        return f"SQLitePurchaseJournal({str(self.path)!r})"

    # -- connection ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        new_file = not self.path.exists()
        conn = sqlite3.connect(str(self.path), timeout=self._busy_ms / 1000.0, isolation_level=None)
        try:
            if new_file:
                try:
                    os.chmod(self.path, 0o600)
                except OSError:  # pragma: no cover - a file system without modes
                    pass
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            with self._init_lock:
                if not self._initialised:
                    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                    if mode is None or str(mode[0]).lower() != "wal":
                        raise sqlite3.OperationalError(f"journal_mode WAL refused: {mode!r}")
                    conn.executescript(_SCHEMA)
                    self._initialised = True
            conn.execute("PRAGMA synchronous = FULL")
        except BaseException:
            conn.close()
            raise
        self._local.conn = conn
        return conn

    async def _run(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(self._guarded, fn, *args)
        except (sqlite3.Error, OSError) as exc:
            raise JournalUnavailableError(
                f"purchase journal {str(self.path)!r}: could not {what} "
                f"({type(exc).__name__}: {exc}). Nothing was sent; check that the file and its "
                "directory are writable and not locked by another program."
            ) from None

    def _guarded(self, fn: Any, *args: Any) -> Any:
        conn = self._connect()
        try:
            return fn(conn, *args)
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise

    # -- operations ---------------------------------------------------------------------------

    async def claim(self, entry: JournalEntry, *, allow_duplicate: bool = False) -> JournalEntry:
        """Insert ``entry`` and its evidence rows in one ``BEGIN IMMEDIATE`` transaction."""
        _check_entry(entry)
        duplicate = await self._run("claim a purchase", self._claim, entry, allow_duplicate)
        if duplicate is not None:
            raise _duplicate_error(entry, duplicate)
        return entry

    @staticmethod
    def _claim(
        conn: sqlite3.Connection, entry: JournalEntry, allow_duplicate: bool
    ) -> JournalEntry | None:
        conn.execute("BEGIN IMMEDIATE")
        evidence = entry.evidence
        if not allow_duplicate and evidence:
            marks = ",".join("?" * len(evidence))
            row = conn.execute(
                f"SELECT {', '.join('p.' + c.strip() for c in _COLUMNS.split(','))} "
                "FROM evidence e JOIN purchases p ON p.id = e.entry_id "
                f"WHERE e.key_id = ? AND e.evidence IN ({marks}) "
                "AND p.state IN ('pending', 'applied', 'unknown') ORDER BY p.created_at LIMIT 1",
                (entry.key_id, *evidence),
            ).fetchone()
            if row is not None:
                conn.rollback()
                return _row_entry(row)
        conn.execute(
            f"INSERT INTO purchases ({_COLUMNS}) VALUES ({','.join('?' * 14)})",
            (
                entry.id,
                entry.operation,
                entry.tag,
                json.dumps(list(entry.domains)),
                entry.state,
                entry.order_id,
                int(entry.payment_pending),
                entry.fingerprint,
                entry.key_id,
                entry.organization_id,
                entry.created_at,
                entry.sent_at,
                entry.updated_at,
                entry.note,
            ),
        )
        conn.executemany(
            "INSERT OR REPLACE INTO evidence (key_id, evidence, entry_id) VALUES (?, ?, ?)",
            [(entry.key_id, ev, entry.id) for ev in evidence],
        )
        conn.commit()
        return None

    async def mark_sent(self, entry_id: str, at: float) -> bool:
        """Set ``sent_at`` if the entry is still an unsent ``pending`` one."""
        changed: bool = await self._run("mark a purchase as sent", self._mark_sent, entry_id, at)
        return changed

    @staticmethod
    def _mark_sent(conn: sqlite3.Connection, entry_id: str, at: float) -> bool:
        cur = conn.execute(
            "UPDATE purchases SET sent_at = ?, updated_at = ? "
            "WHERE id = ? AND state = 'pending' AND sent_at IS NULL",
            (at, at, entry_id),
        )
        return cur.rowcount == 1

    async def resolve(
        self,
        entry_id: str,
        state: EntryState,
        *,
        order_id: str | None = None,
        payment_pending: bool = False,
        note: str = "",
    ) -> JournalEntry:
        """Update the entry; free its evidence when ``not_applied``."""
        if state not in _STATES:
            raise ConfigurationError(f"unknown journal state {state!r}")
        entry: JournalEntry | None = await self._run(
            "record a purchase's outcome",
            self._resolve,
            entry_id,
            state,
            order_id,
            payment_pending,
            note,
        )
        if entry is None:
            raise JournalUnavailableError(f"purchase journal: no entry {entry_id!r}")
        return entry

    @staticmethod
    def _resolve(
        conn: sqlite3.Connection,
        entry_id: str,
        state: str,
        order_id: str | None,
        payment_pending: bool,
        note: str,
    ) -> JournalEntry | None:
        conn.execute("BEGIN IMMEDIATE")
        now = time.time()
        conn.execute(
            "UPDATE purchases SET state = ?, order_id = COALESCE(?, order_id), "
            "payment_pending = ?, note = ?, updated_at = ? WHERE id = ?",
            (state, order_id, int(payment_pending), note[:500], now, entry_id),
        )
        if state == "not_applied":
            conn.execute("DELETE FROM evidence WHERE entry_id = ?", (entry_id,))
        row = conn.execute(f"SELECT {_COLUMNS} FROM purchases WHERE id = ?", (entry_id,)).fetchone()
        conn.commit()
        return None if row is None else _row_entry(row)

    async def resolve_unsent(self, entry_id: str, note: str) -> JournalEntry | None:
        """``not_applied`` if still an unsent ``pending`` entry (one transaction)."""
        row = await self._run("record a purchase's outcome", self._resolve_unsent, entry_id, note)
        return None if row is None else _row_entry(row)

    @staticmethod
    def _resolve_unsent(conn: sqlite3.Connection, entry_id: str, note: str) -> Any:
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.execute(
            "UPDATE purchases SET state = 'not_applied', note = ?, updated_at = ? "
            "WHERE id = ? AND state = 'pending' AND sent_at IS NULL",
            (note[:500], time.time(), entry_id),
        )
        if cur.rowcount == 1:
            conn.execute("DELETE FROM evidence WHERE entry_id = ?", (entry_id,))
        row = conn.execute(f"SELECT {_COLUMNS} FROM purchases WHERE id = ?", (entry_id,)).fetchone()
        conn.commit()
        return row

    async def get(self, entry_id: str) -> JournalEntry | None:
        """The entry with this id, or ``None``."""
        row = await self._run("read the journal", self._get, entry_id)
        return None if row is None else _row_entry(row)

    @staticmethod
    def _get(conn: sqlite3.Connection, entry_id: str) -> Any:
        return conn.execute(
            f"SELECT {_COLUMNS} FROM purchases WHERE id = ?", (entry_id,)
        ).fetchone()

    async def entries(self, *, states: Iterable[str] | None = None) -> list[JournalEntry]:
        """Every entry, oldest first (or only those in ``states``)."""
        wanted = None if states is None else tuple(states)
        rows = await self._run("read the journal", self._entries, wanted)
        return [_row_entry(r) for r in rows]

    @staticmethod
    def _entries(conn: sqlite3.Connection, states: tuple[str, ...] | None) -> list[Any]:
        if states is None:
            return conn.execute(
                f"SELECT {_COLUMNS} FROM purchases ORDER BY created_at, id"
            ).fetchall()
        if not states:
            return []
        marks = ",".join("?" * len(states))
        return conn.execute(
            f"SELECT {_COLUMNS} FROM purchases WHERE state IN ({marks}) ORDER BY created_at, id",
            states,
        ).fetchall()

    async def find_tag(self, tag: str) -> list[JournalEntry]:
        """The entries with this tag, newest first."""
        rows = await self._run("read the journal", self._find_tag, tag)
        return [_row_entry(r) for r in rows]

    @staticmethod
    def _find_tag(conn: sqlite3.Connection, tag: str) -> list[Any]:
        return conn.execute(
            f"SELECT {_COLUMNS} FROM purchases WHERE tag = ? ORDER BY created_at DESC", (tag,)
        ).fetchall()

    async def aclose(self) -> None:
        """Close this thread's connection (worker threads' connections close with them)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _check_entry(entry: JournalEntry) -> None:
    if entry.state != "pending" or entry.sent_at is not None:
        raise ConfigurationError("only a fresh pending entry can be claimed")


def _duplicate_error(entry: JournalEntry, earlier: JournalEntry) -> DuplicatePurchaseError:
    what = f"tag {earlier.tag!r}" if earlier.tag else "domains " + ", ".join(earlier.domains)
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(earlier.created_at))
    order = f", order {earlier.order_id}" if earlier.order_id else ""
    return DuplicatePurchaseError(
        f"{entry.operation}: not sent: the journal already has "
        f"{'an' if earlier.state[0] in 'aeiou' else 'a'} {earlier.state} "
        f"{earlier.operation} with {what} (entry {earlier.id}, {when}{order}). "
        "Reconcile it with `await client.reconcile(entry)`, or pass allow_duplicate=True to buy "
        "it again on purpose.",
        entry=earlier,
    )


# --------------------------------------------------------------------------- SCALEDMAIL_JOURNAL

_env_journals: dict[str, PurchaseJournal] = {}
_env_lock = threading.Lock()


def journal_from_setting(value: str, *, source: str = "journal") -> PurchaseJournal:
    """The process-wide journal of a ``SCALEDMAIL_JOURNAL``-style value: a ``redis://`` /
    ``rediss://`` / ``unix://`` URL (:class:`~scaledmail_async.RedisPurchaseJournal`), else a
    file path (:class:`SQLitePurchaseJournal`). One instance per value per process."""
    text = value.strip()
    if not text:
        raise ConfigurationError(f"{source} must be a file path or a redis:// URL")
    with _env_lock:
        found = _env_journals.get(text)
        if found is None:
            if text.split("://", 1)[0].lower() in ("redis", "rediss", "unix"):
                from scaledmail_async._journal_redis import RedisPurchaseJournal

                found = RedisPurchaseJournal.from_url(text)
            else:
                found = SQLitePurchaseJournal(text)
            _env_journals[text] = found
    return found
