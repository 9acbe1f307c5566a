"""The purchase journal in Redis: one duplicate guard for every process on every host.

:class:`RedisPurchaseJournal` has the semantics of :class:`SQLitePurchaseJournal` (same methods,
same errors, same duplicate rule) with its state in Redis, so processes on several hosts share
one exactly-once guard. The keys (``{prefix}`` is ``key_prefix``, ``scaledmail:journal``)::

    {prefix}:entry:<id>                       HASH    the entry's fields (domains as JSON; a
                                                      None field is absent)
    {prefix}:entries                          ZSET    every entry id, scored by created_at
    {prefix}:ev:<key_id>:<sha256(evidence)>   STRING  the id of the entry holding that evidence
    {prefix}:tag:<sha256(tag)>                SET     the ids of the entries with that tag

(hashes cut to 32 hex digits). The claim is one Lua script (``_lua/journal_claim.lua``): it
reads every evidence key of the spend and, when a ``pending``/``applied``/``unknown`` entry holds
one, returns that entry instead of writing (:class:`DuplicatePurchaseError`); otherwise it writes
the entry, its ``entries`` member, its evidence keys and its tag index in the same step. Redis
runs one script at a time, so two hosts claiming the same tag cannot both win.
``mark_sent`` (``journal_mark_sent.lua``) and ``resolve_unsent``
(``journal_resolve_unsent.lua``) are compare-and-sets; ``resolve`` (``journal_resolve.lua``) and
``resolve_unsent`` free only the evidence keys that still point to the entry.

**The Redis server must persist.** Entries never expire (no key has a TTL): they are the durable
record of every spend. Run Redis with AOF on (``appendonly yes``) and ``appendfsync everysec``
(loses at most about a second of claims on a power cut) or ``always``, and keep its
``maxmemory-policy`` at ``noeviction`` (or a ``volatile-*`` one: an ``allkeys-*`` policy evicts
keys without a TTL). A Redis without persistence is not a journal. The journal logs one
WARNING when the server reports AOF off. For Redis Cluster put the prefix in braces
(``key_prefix="{scaledmail:journal}"``) so that every key lands in one slot.

**Failures.** A Redis error, a refused or reset connection, or no answer within
``socket_timeout`` raises :class:`JournalUnavailableError` (nothing else), whose message names the
store by its URL without password and keeps no Redis exception as its cause or context. Raised by
``claim`` or ``mark_sent``, it means **nothing was sent**. A claim whose reply was lost (a read
timeout, a connection reset after the request was written) may still have been applied by Redis:
its entry is then ``pending`` and never sent (the message names it), which reconciliation gives
up (``resolve_unsent``: ``not_applied``). At most 8 calls per event loop are in flight; the others
wait their turn (a busy process is not an outage, so the deadline starts with the turn), and fail
at once when Redis was found down while they waited: a hung server fails a deep queue within
about one deadline (``2 * socket_timeout``).

The same redis-py precautions as :class:`~scaledmail_async.RedisRateLimiter`: one client per event
loop (redis-py #3351), a small ``BlockingConnectionPool`` (#2517), no client-level retries (a
re-sent claim would find itself), explicit socket timeouts, script calls shielded from the
caller's cancellation (#2624). ``redis`` is imported only when a journal is created.

Its size (about 650 lines): one Lua script per journal step, per-loop clients, an in-flight bound
and secret-free error texts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from scaledmail_async._journal import (
    _STATES,
    LIVE_STATES,
    EntryState,
    JournalEntry,
    JournalUnavailableError,
    PurchaseJournal,
    _check_entry,
    _duplicate_error,
)
from scaledmail_async.errors import REDACTED, ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from redis.asyncio import Redis

__all__ = ["RedisPurchaseJournal"]

logger = logging.getLogger("scaledmail_async")

T = TypeVar("T")
#: When a store failure happens: before the request is sent (claim, mark_sent), while recording
#: its outcome (resolve), or on a read.
_Phase = Literal["before_send", "outcome", "read"]

_OPTIONS: Final = frozenset({"key_prefix", "socket_timeout"})
#: Entries read per round trip by entries() and find_tag().
_BATCH: Final = 256
#: Calls in flight per event loop (and connections of the pool the journal creates). More wait
#: their turn in the process: a saturated loop is not an outage, so the deadline starts when a
#: call's turn comes.
_IN_FLIGHT: Final = 8


def _script(name: str) -> str:
    return resources.files("scaledmail_async").joinpath("_lua", name).read_text("utf-8")


_CLAIM: Final = _script("journal_claim.lua")
_MARK_SENT: Final = _script("journal_mark_sent.lua")
_RESOLVE: Final = _script("journal_resolve.lua")
_RESOLVE_UNSENT: Final = _script("journal_resolve_unsent.lua")


def _require_redis() -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "RedisPurchaseJournal needs redis-py: pip install 'scaledmail-async[redis]'"
        ) from None
    return redis_asyncio


def _redis_failures() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """What counts as "the store cannot be used" (every redis-py error, socket errors, timeouts,
    the RuntimeError of a client used on a loop it does not belong to), and the part of it that
    is an outage (the calls waiting their turn then fail at once instead of each timing out)."""
    import redis.exceptions

    outage = (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        OSError,
        TimeoutError,
    )
    return (redis.exceptions.RedisError, RuntimeError, EOFError, *outage), outage


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _shown_url(url: str) -> tuple[str, str | None]:
    """``url`` without its password (in the user info or a ``password=`` query), and the
    password (to scrub from error texts)."""
    from yarl import URL

    try:
        u = URL(url)
    except ValueError:
        return "<redis url>", None
    secret = u.password or u.query.get("password")
    if u.password:
        u = u.with_password(None)
    if "password" in u.query:
        u = u.without_query_params("password")
    return str(u), secret or None


def _client_target(client: Any) -> str:
    """A password-free description of a caller's client (its host, port and db when known)."""
    try:
        kw = client.connection_pool.connection_kwargs
        if kw.get("path"):
            return f"unix://{kw['path']}?db={kw.get('db', 0)}"
        return f"redis://{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"
    except Exception:
        return "<redis client>"


def _text(value: Any) -> str:
    return value.decode("utf-8", "surrogatepass") if isinstance(value, bytes) else str(value)


def _pairs(flat: Sequence[Any] | Mapping[Any, Any]) -> dict[str, str]:
    """A HGETALL reply (a flat field/value list from a script, or a dict) as ``str -> str``."""
    if isinstance(flat, Mapping):
        return {_text(k): _text(v) for k, v in flat.items()}
    it = iter(flat)
    return {_text(k): _text(v) for k, v in zip(it, it, strict=False)}


def _float(value: float) -> str:
    """A float as text that reads back to the same float (``repr`` is the shortest one)."""
    return repr(float(value))


def _entry_fields(entry: JournalEntry) -> list[str]:
    """The entry hash as field, value pairs; ``None`` fields are left out."""
    fields: dict[str, str | None] = {
        "id": entry.id,
        "operation": entry.operation,
        "tag": entry.tag,
        "domains": json.dumps(list(entry.domains), ensure_ascii=False),
        "state": entry.state,
        "order_id": entry.order_id,
        "payment_pending": "1" if entry.payment_pending else "0",
        "fingerprint": entry.fingerprint,
        "key_id": entry.key_id,
        "organization_id": entry.organization_id,
        "created_at": _float(entry.created_at),
        "sent_at": None if entry.sent_at is None else _float(entry.sent_at),
        "updated_at": _float(entry.updated_at),
        "note": entry.note,
    }
    out: list[str] = []
    for name, value in fields.items():
        if value is not None:
            out += (name, value)
    return out


def _parse_entry(h: Mapping[str, str]) -> JournalEntry:
    """A :class:`JournalEntry` from its hash; ValueError/KeyError/TypeError when malformed."""
    sent = h.get("sent_at")
    state = h["state"]
    if state not in _STATES:
        raise ValueError(f"unknown state {state!r}")
    domains = json.loads(h["domains"])
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise ValueError("domains is not a list of names")
    return JournalEntry(
        id=h["id"],
        operation=h["operation"],
        tag=h.get("tag"),
        domains=tuple(domains),
        state=state,  # type: ignore[arg-type]  # checked above
        order_id=h.get("order_id"),
        payment_pending=h.get("payment_pending") == "1",
        fingerprint=h["fingerprint"],
        key_id=h["key_id"],
        organization_id=h.get("organization_id"),
        created_at=float(h["created_at"]),
        sent_at=float(sent) if sent else None,
        updated_at=float(h["updated_at"]),
        note=h.get("note", ""),
    )


class _LoopState:
    """One event loop's Redis client, scripts, and the turn of its calls."""

    def __init__(self, client: Redis, owned: bool) -> None:
        self.client = client
        self.owned = owned
        self.gate = asyncio.Semaphore(_IN_FLIGHT)
        #: When (loop time) a call last found Redis down, and why.
        self.down_at = -math.inf
        self.down_detail = ""
        self.claim = client.register_script(_CLAIM)
        self.mark_sent = client.register_script(_MARK_SENT)
        self.resolve = client.register_script(_RESOLVE)
        self.resolve_unsent = client.register_script(_RESOLVE_UNSENT)


class RedisPurchaseJournal(PurchaseJournal):
    """A :class:`PurchaseJournal` in Redis, shared by every process and host that uses it.

    ``RedisPurchaseJournal.from_url("redis://journal-host:6379/0")`` (the journal creates its own
    small Redis client per event loop and closes it in :meth:`aclose`) or
    ``RedisPurchaseJournal(redis_client)`` (yours, created with the same care: a client is bound
    to one event loop; never closed by the journal). Pass it as ``ScaledmailClient(journal=...)``.

    The server **must persist** (AOF, ``appendfsync everysec`` or ``always``; ``noeviction``):
    entries never expire. Any Redis failure raises :class:`JournalUnavailableError`; from
    :meth:`claim` and :meth:`mark_sent` it means nothing was sent.

    Args:
        redis_client: a ``redis.asyncio.Redis`` to use instead of a URL.
        key_prefix: the prefix of every key (``scaledmail:journal``).
        socket_timeout: the longest (seconds) a connect or a reply may take before the store
            counts as unavailable; a call is abandoned after twice that at the latest.
    """

    def __init__(
        self,
        redis_client: Redis | None = None,
        *,
        key_prefix: str = "scaledmail:journal",
        socket_timeout: float = 1.0,
        _url: str | None = None,
    ) -> None:
        if (
            isinstance(socket_timeout, bool)
            or not isinstance(socket_timeout, int | float)
            or not math.isfinite(socket_timeout)
            or socket_timeout <= 0
        ):
            raise ConfigurationError(
                f"socket_timeout must be a finite number of seconds > 0, not {socket_timeout!r}"
            )
        if not isinstance(key_prefix, str) or not key_prefix.strip():
            raise ConfigurationError(f"key_prefix must be a non-empty string, not {key_prefix!r}")
        if redis_client is None and _url is None:
            raise ConfigurationError(
                "pass a redis.asyncio.Redis client, or use RedisPurchaseJournal.from_url(url)"
            )
        if redis_client is not None and not callable(
            getattr(redis_client, "register_script", None)
        ):
            raise ConfigurationError(
                f"redis_client must be a redis.asyncio.Redis, not {type(redis_client).__name__}"
            )
        self._client = redis_client
        self._url = _url
        self._secret: str | None = None
        if _url is not None:
            self._target, self._secret = _shown_url(_url)
        else:
            self._target = _client_target(redis_client)
        self._prefix = key_prefix
        self._socket_timeout = float(socket_timeout)
        self._deadline = 2.0 * self._socket_timeout
        self._lock = threading.Lock()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._persistence_checked = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisPurchaseJournal:
        """A journal at ``url`` (``redis://[:password@]host:port/db``, ``rediss://``,
        ``unix://``); ``options`` are ``key_prefix`` and ``socket_timeout``."""
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            shown = _shown_url(url)[0] if isinstance(url, str) else type(url).__name__
            raise ConfigurationError(
                f"a Redis journal URL looks like redis://127.0.0.1:6379/0, not {shown!r}"
            )
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ConfigurationError(
                f"unknown RedisPurchaseJournal option(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(_OPTIONS))})"
            )
        _require_redis()
        return cls(None, _url=url, **options)

    def __repr__(self) -> str:
        return f"RedisPurchaseJournal({self._target!r}, key_prefix={self._prefix!r})"

    # -- keys -----------------------------------------------------------------------------------

    def _entry_key(self, entry_id: str) -> str:
        return f"{self._prefix}:entry:{entry_id}"

    def _entries_key(self) -> str:
        return f"{self._prefix}:entries"

    def _evidence_key(self, key_id: str, evidence: str) -> str:
        return f"{self._prefix}:ev:{key_id}:{_digest(evidence)}"

    def _tag_key(self, tag: str) -> str:
        return f"{self._prefix}:tag:{_digest(tag)}"

    # -- clients --------------------------------------------------------------------------------

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.get(loop)
            if state is None:
                for old in [lp for lp in self._loops if lp.is_closed()]:
                    del self._loops[old]  # a closed loop's client can never be used again
                if self._client is not None:
                    state = _LoopState(self._client, owned=False)
                else:
                    assert self._url is not None
                    state = _LoopState(self._new_client(self._url), owned=True)
                self._loops[loop] = state
            return state

    def _new_client(self, url: str) -> Redis:
        redis_asyncio = _require_redis()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        pool = redis_asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=2 * _IN_FLIGHT,  # room for calls whose caller was cancelled
            timeout=self._socket_timeout,
            socket_timeout=self._socket_timeout,
            socket_connect_timeout=self._socket_timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
        )
        # from_pool: the client owns the pool, so aclose() also closes its connections.
        client: Redis = redis_asyncio.Redis.from_pool(pool)
        return client

    async def aclose(self) -> None:
        """Close the Redis client this journal created for the running event loop (never one
        you passed in) and forget those of closed loops. A journal used from several event loops
        is closed from each; using it again later opens a new client."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.pop(loop, None)
            for old in [lp for lp in self._loops if lp.is_closed()]:
                del self._loops[old]
        if state is not None and state.owned:
            try:
                await state.client.aclose()
            except Exception as exc:  # closing is best effort: the sockets are gone either way
                logger.debug("closing the journal's Redis client failed: %s", type(exc).__name__)

    # -- calls ----------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, REDACTED)
        return text[:300]

    async def _call(
        self,
        what: str,
        op: Callable[[_LoopState], Awaitable[T]],
        *,
        phase: _Phase,
        claimed: str | None = None,
    ) -> T:
        """Run ``op`` on this loop's client within the deadline; any failure of the store
        becomes :class:`JournalUnavailableError` (raised outside the handler: no context).

        At most ``_IN_FLIGHT`` calls per loop run at once; the others wait their turn, and fail
        at once when Redis was found down while they waited (so a hung server fails a deep
        queue within about one deadline, not one deadline per call)."""
        failures, outage = _redis_failures()
        state = self._loop_state()
        loop = asyncio.get_running_loop()
        queued_at = loop.time()
        uncertain = False  # the request may have reached Redis (a reply lost, not a connect)
        async with state.gate:
            if state.down_at >= queued_at:
                detail = state.down_detail
            else:
                try:
                    # Shielded: a cancelled caller must not leave the connection mid-reply
                    # (redis-py #2624); the deadline still bounds the call itself.
                    task = asyncio.ensure_future(asyncio.wait_for(op(state), self._deadline))
                    task.add_done_callback(_retrieve)
                    return await asyncio.shield(task)
                except failures as exc:
                    if isinstance(exc, TimeoutError) and not str(exc):
                        detail = f"no answer within {self._deadline:g}s"
                    else:
                        detail = self._scrub(f"{type(exc).__name__}: {exc}")
                    if isinstance(exc, outage):
                        state.down_at, state.down_detail = loop.time(), detail
                        uncertain = "connecting" not in str(exc).lower()
        if phase == "before_send":
            advice = (
                "Nothing was sent; check that the Redis server is up and reachable, then try again."
            )
        elif phase == "outcome":
            advice = (
                "The outcome was not recorded (the entry keeps its previous state); reconcile "
                "it once the journal is reachable again."
            )
        else:
            advice = "Check that the Redis server is up and reachable."
        if claimed is not None and uncertain:
            advice += (
                f" If the claim reached Redis anyway, entry {claimed} is pending and was never "
                "sent: reconciliation gives it up (not_applied)."
            )
        raise JournalUnavailableError(
            f"purchase journal {self._target}: could not {what} ({detail}). {advice}"
        ) from None

    def _parse(self, h: Mapping[str, str]) -> JournalEntry:
        try:
            return _parse_entry(h)
        except (KeyError, ValueError, TypeError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        raise JournalUnavailableError(
            f"purchase journal {self._target}: entry {h.get('id', '?')!r} is malformed "
            f"({self._scrub(problem)}); it was not written by this SDK's journal."
        ) from None

    async def _read_many(self, ids: Sequence[str]) -> list[JournalEntry]:
        """The entries with these ids, in this order (missing ones skipped)."""
        out: list[JournalEntry] = []
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]

            async def read(state: _LoopState, chunk: Sequence[str] = chunk) -> list[Any]:
                pipe = state.client.pipeline(transaction=False)
                for entry_id in chunk:
                    pipe.hgetall(self._entry_key(entry_id))
                replies: list[Any] = await pipe.execute()
                return replies

            for reply in await self._call("read the journal", read, phase="read"):
                h = _pairs(reply)
                if h:
                    out.append(self._parse(h))
        return out

    # -- operations -----------------------------------------------------------------------------

    async def claim(self, entry: JournalEntry, *, allow_duplicate: bool = False) -> JournalEntry:
        """Write ``entry`` and claim its evidence in one script (see ``journal_claim.lua``)."""
        _check_entry(entry)
        keys = [
            self._entry_key(entry.id),
            self._entries_key(),
            self._tag_key(entry.tag if entry.tag is not None else ""),
            *(self._evidence_key(entry.key_id, ev) for ev in entry.evidence),
        ]
        args = [
            "1" if allow_duplicate else "0",
            f"{self._prefix}:entry:",
            entry.id,
            _float(entry.created_at),
            "0" if entry.tag is None else "1",
            ",".join(sorted(LIVE_STATES)),
            *_entry_fields(entry),
        ]

        async def run(state: _LoopState) -> Any:
            return await state.claim(keys=keys, args=args)

        reply = await self._call("claim a purchase", run, phase="before_send", claimed=entry.id)
        verdict = _text(reply[0])
        if verdict == "duplicate":
            raise _duplicate_error(entry, self._parse(_pairs(reply[1])))
        if verdict == "exists":
            raise JournalUnavailableError(
                f"purchase journal {self._target}: could not claim a purchase (entry {entry.id!r} "
                "is already written). Nothing was sent; claim a new entry."
            )
        if not self._persistence_checked:
            self._persistence_checked = True
            await self._check_persistence()
        return entry

    async def _check_persistence(self) -> None:
        """Log one WARNING when the server says AOF is off (best effort, never raises)."""
        try:
            state = self._loop_state()
            info: Any = await asyncio.wait_for(
                state.client.info("persistence"), self._socket_timeout
            )
            aof = info.get("aof_enabled", info.get(b"aof_enabled"))
        except Exception:
            return
        if aof is not None and str(aof) in ("0", "b'0'"):
            logger.warning(
                "purchase journal %s: the Redis server has AOF off (appendonly no), so a restart "
                "or crash loses recent journal entries and with them the duplicate guard; run it "
                "with appendonly yes and appendfsync everysec (or always)",
                self._target,
            )

    async def mark_sent(self, entry_id: str, at: float) -> bool:
        """Set ``sent_at`` if the entry is still an unsent ``pending`` one (compare-and-set)."""
        key = self._entry_key(entry_id)
        stamp = _float(at)

        async def run(state: _LoopState) -> Any:
            return await state.mark_sent(keys=[key], args=[stamp])

        reply = await self._call("mark a purchase as sent", run, phase="before_send")
        return int(reply) == 1

    async def resolve(
        self,
        entry_id: str,
        state: EntryState,
        *,
        order_id: str | None = None,
        payment_pending: bool = False,
        note: str = "",
    ) -> JournalEntry:
        """Update the entry; free the evidence still pointing to it when ``not_applied``."""
        if state not in _STATES:
            raise ConfigurationError(f"unknown journal state {state!r}")
        keys = [self._entry_key(entry_id)]
        if state == "not_applied":
            # The evidence keys follow from the entry's tag, domains and key_id, which never
            # change after the claim: reading them first keeps every key the script writes
            # declared in KEYS.
            current = await self._get(entry_id, "record a purchase's outcome", "outcome")
            if current is None:
                raise JournalUnavailableError(f"purchase journal: no entry {entry_id!r}")
            keys += [self._evidence_key(current.key_id, ev) for ev in current.evidence]
        args = [
            entry_id,
            state,
            "0" if order_id is None else "1",
            "" if order_id is None else order_id,
            "1" if payment_pending else "0",
            note[:500],
            _float(time.time()),
        ]

        async def run(st: _LoopState) -> Any:
            return await st.resolve(keys=keys, args=args)

        reply = await self._call("record a purchase's outcome", run, phase="outcome")
        if not reply:
            raise JournalUnavailableError(f"purchase journal: no entry {entry_id!r}")
        return self._parse(_pairs(reply))

    async def resolve_unsent(self, entry_id: str, note: str) -> JournalEntry | None:
        """``not_applied`` (evidence freed) if still an unsent ``pending`` entry, in one script
        (``journal_resolve_unsent.lua``); the entry as it is afterwards, ``None`` if unknown."""
        current = await self._get(entry_id, "record a purchase's outcome", "outcome")
        if current is None:
            return None
        keys = [
            self._entry_key(entry_id),
            *(self._evidence_key(current.key_id, ev) for ev in current.evidence),
        ]
        args = [entry_id, note[:500], _float(time.time())]

        async def run(st: _LoopState) -> Any:
            return await st.resolve_unsent(keys=keys, args=args)

        reply = await self._call("record a purchase's outcome", run, phase="outcome")
        return self._parse(_pairs(reply)) if reply else None

    async def get(self, entry_id: str) -> JournalEntry | None:
        """The entry with this id, or ``None``."""
        return await self._get(entry_id, "read the journal", "read")

    async def _get(self, entry_id: str, what: str, phase: _Phase) -> JournalEntry | None:
        key = self._entry_key(entry_id)

        async def run(state: _LoopState) -> Any:
            return await state.client.hgetall(key)

        h = _pairs(await self._call(what, run, phase=phase))
        return self._parse(h) if h else None

    async def entries(self, *, states: Iterable[str] | None = None) -> list[JournalEntry]:
        """Every entry, oldest first (or only those in ``states``)."""
        wanted = None if states is None else frozenset(states)
        if wanted is not None and not wanted:
            return []

        async def run(state: _LoopState) -> Any:
            return await state.client.zrange(self._entries_key(), 0, -1)

        ids = [_text(i) for i in await self._call("read the journal", run, phase="read")]
        found = await self._read_many(ids)
        return [e for e in found if wanted is None or e.state in wanted]

    async def find_tag(self, tag: str) -> list[JournalEntry]:
        """The entries with this tag, newest first."""
        key = self._tag_key(tag)

        async def run(state: _LoopState) -> Any:
            return await state.client.smembers(key)

        ids = sorted(_text(i) for i in await self._call("read the journal", run, phase="read"))
        found = [e for e in await self._read_many(ids) if e.tag == tag]
        return sorted(found, key=lambda e: (e.created_at, e.id), reverse=True)


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Fetch a shielded call's exception, so that one whose caller was cancelled is not
    reported as never retrieved."""
    if not task.cancelled():
        task.exception()
