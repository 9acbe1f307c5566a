"""RedisPurchaseJournal against a real ``redis-server`` (started per test) and real OS processes.

The semantic tests run against both stores (``journal`` is parametrized over SQLite and Redis), so
the Redis journal is held to exactly the behaviour of :class:`SQLitePurchaseJournal`. The Redis-only
tests cover what only Redis has: the key layout (no secret, no TTL), two processes racing through
one Lua script, a killed and a hung server, several event loops and threads, and which clients
``aclose()`` closes. Nothing mocks Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import redis.asyncio as redis_asyncio
from redis_server import RedisServer

from scaledmail_async._journal import (
    DuplicatePurchaseError,
    JournalEntry,
    JournalUnavailableError,
    PurchaseJournal,
    SQLitePurchaseJournal,
    _duplicate_error,
    fingerprint,
    key_id,
    new_entry,
)
from scaledmail_async._journal_redis import RedisPurchaseJournal, _digest
from scaledmail_async.errors import ConfigurationError

API_KEY = "sk_live_SECRET_journal_key_0123456789"
KEY = key_id(API_KEY)
OTHER_KEY = key_id("sk_live_SECRET_other_key")


def make(
    *,
    tag: str | None = None,
    domains: tuple[str, ...] = (),
    key: str = KEY,
    operation: str = "create_order",
    at: float | None = None,
    body: Any = None,
) -> JournalEntry:
    return new_entry(
        operation=operation,
        tag=tag,
        domains=domains,
        fingerprint=fingerprint(API_KEY, operation, body if body is not None else {"tag": tag}),
        key_id=key,
        organization_id="org_1",
        now=at,
    )


@pytest.fixture(params=["sqlite", "redis"])
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PurchaseJournal]:
    """The same tests against both stores: Redis must behave exactly as SQLite does."""
    store: PurchaseJournal
    if request.param == "sqlite":
        store = SQLitePurchaseJournal(tmp_path / "purchases.db")
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        store = RedisPurchaseJournal.from_url(server.url)
    try:
        yield store
    finally:
        await store.aclose()


async def raw_client(server: RedisServer) -> Any:
    client: Any = redis_asyncio.Redis.from_url(server.url)
    return client


# -- import, options, repr -------------------------------------------------------------------------


def test_import_does_not_import_redis() -> None:
    code = (
        "import sys, scaledmail_async, scaledmail_async._journal, scaledmail_async._journal_redis; "
        "assert 'redis' not in sys.modules, sorted(m for m in sys.modules if 'redis' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_options_are_configuration_errors() -> None:
    for url in ("http://127.0.0.1:6379", "", "127.0.0.1:6379"):
        with pytest.raises(ConfigurationError, match="redis://"):
            RedisPurchaseJournal.from_url(url)
    with pytest.raises(ConfigurationError):
        RedisPurchaseJournal.from_url(None)  # type: ignore[arg-type]
    for timeout in (0, -1, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ConfigurationError, match="socket_timeout"):
            RedisPurchaseJournal.from_url("redis://127.0.0.1:1/0", socket_timeout=timeout)
    for prefix in ("", "  ", None, 3):
        with pytest.raises(ConfigurationError, match="key_prefix"):
            RedisPurchaseJournal.from_url("redis://127.0.0.1:1/0", key_prefix=prefix)
    with pytest.raises(ConfigurationError, match="unknown RedisPurchaseJournal option"):
        RedisPurchaseJournal.from_url("redis://127.0.0.1:1/0", busy_timeout=5)
    with pytest.raises(ConfigurationError, match="from_url"):
        RedisPurchaseJournal()
    with pytest.raises(ConfigurationError, match="redis_client"):
        RedisPurchaseJournal("redis://127.0.0.1:1/0")  # type: ignore[arg-type]
    # ConfigurationError is a ValueError, as for every other option of the SDK.
    with pytest.raises(ValueError):
        RedisPurchaseJournal.from_url("redis://127.0.0.1:1/0", socket_timeout=0)


def test_repr_shows_no_password() -> None:
    for url in (
        "redis://:hunter2pass@127.0.0.1:6379/0",
        "redis://user:hunter2pass@127.0.0.1:6379/0",
        "rediss://user:hunter2pass@cache.example:6380/2",
        "unix:///tmp/redis.sock?db=0&password=hunter2pass",
    ):
        journal = RedisPurchaseJournal.from_url(url)
        assert "hunter2pass" not in repr(journal), repr(journal)
        assert repr(journal).startswith("RedisPurchaseJournal(")
    with pytest.raises(ConfigurationError) as info:
        RedisPurchaseJournal.from_url("http://u:hunter2pass@x/")
    assert "hunter2pass" not in str(info.value)


# -- the semantics of SQLitePurchaseJournal, on both stores ----------------------------------------


async def test_claim_round_trips_every_field(journal: PurchaseJournal) -> None:
    tagged = make(tag="sm-ROUNDTRIP01", domains=("a.example", "b.example"))
    untagged = new_entry(
        operation="buy_domains",
        tag=None,
        domains=("éxample-ünicode.com", "x.io"),
        fingerprint="f" * 64,
        key_id=KEY,
        organization_id=None,
        now=1_700_000_000.123456789,
    )
    assert await journal.claim(tagged) == tagged
    assert await journal.claim(untagged) == untagged
    assert await journal.get(tagged.id) == tagged
    assert await journal.get(untagged.id) == untagged
    assert await journal.get("no-such-entry") is None


async def test_a_live_tag_is_a_duplicate_naming_the_earlier_entry(journal: PurchaseJournal) -> None:
    first = await journal.claim(make(tag="sm-DUP1"))
    second = make(tag="sm-DUP1", operation="create_custom_order")
    with pytest.raises(DuplicatePurchaseError) as info:
        await journal.claim(second)
    assert info.value.entry == first
    assert str(info.value) == str(_duplicate_error(second, first))
    assert await journal.get(second.id) is None  # nothing written
    # Every live state holds the evidence; another API key's journal scope does not collide.
    for state in ("applied", "unknown"):
        await journal.resolve(first.id, state)
        with pytest.raises(DuplicatePurchaseError):
            await journal.claim(make(tag="sm-DUP1"))
    await journal.claim(make(tag="sm-DUP1", key=OTHER_KEY))
    assert len(await journal.entries()) == 2


async def test_allow_duplicate_takes_the_evidence_over(journal: PurchaseJournal) -> None:
    first = await journal.claim(make(tag="sm-AGAIN"))
    await journal.resolve(first.id, "applied", order_id="ord_1")
    second = await journal.claim(make(tag="sm-AGAIN"), allow_duplicate=True)
    assert (await journal.get(first.id)).state == "applied"  # type: ignore[union-attr]
    with pytest.raises(DuplicatePurchaseError) as info:
        await journal.claim(make(tag="sm-AGAIN"))
    assert info.value.entry.id == second.id
    # The earlier entry going not_applied frees nothing that now belongs to the later one.
    await journal.resolve(first.id, "not_applied")
    with pytest.raises(DuplicatePurchaseError) as info:
        await journal.claim(make(tag="sm-AGAIN"))
    assert info.value.entry.id == second.id
    # The later one going not_applied frees it.
    await journal.resolve(second.id, "not_applied", note="connect failure")
    await journal.claim(make(tag="sm-AGAIN"))


async def test_not_applied_frees_the_evidence(journal: PurchaseJournal) -> None:
    first = await journal.claim(make(tag="sm-FREE"))
    await journal.mark_sent(first.id, time.time())
    resolved = await journal.resolve(first.id, "not_applied", note="HTTP 422")
    assert resolved.state == "not_applied"
    assert resolved.note == "HTTP 422"
    again = await journal.claim(make(tag="sm-FREE"))
    assert [e.id for e in await journal.find_tag("sm-FREE")] == [again.id, first.id]


async def test_domains_are_evidence_one_by_one(journal: PurchaseJournal) -> None:
    ab = await journal.claim(make(domains=("a.com", "b.com"), operation="buy_domains"))
    with pytest.raises(DuplicatePurchaseError) as info:
        await journal.claim(make(domains=("c.com", "b.com"), operation="buy_domains"))
    assert info.value.entry.id == ab.id
    assert "domains a.com, b.com" in str(info.value)
    cd = await journal.claim(make(domains=("c.com", "d.com"), operation="buy_domains"))
    # Both a.com (ab) and c.com (cd) are held: the earliest holder is named.
    with pytest.raises(DuplicatePurchaseError) as info:
        await journal.claim(make(domains=("c.com", "a.com"), operation="buy_domains"))
    assert info.value.entry.id == ab.id
    await journal.resolve(ab.id, "not_applied")
    with pytest.raises(DuplicatePurchaseError) as info:
        await journal.claim(make(domains=("c.com", "a.com"), operation="buy_domains"))
    assert info.value.entry.id == cd.id
    await journal.claim(make(domains=("b.com", "a.com"), operation="buy_domains"))
    # With a tag, the tag is the evidence (not the domains).
    await journal.claim(make(tag="sm-T", domains=("d.com",), operation="create_order"))


async def test_mark_sent_is_a_compare_and_set(journal: PurchaseJournal) -> None:
    entry = await journal.claim(make(tag="sm-CAS"))
    at = 1_800_000_000.5
    results = await asyncio.gather(*(journal.mark_sent(entry.id, at) for _ in range(10)))
    assert sorted(results) == [False] * 9 + [True]
    got = await journal.get(entry.id)
    assert got is not None
    assert (got.sent_at, got.updated_at, got.state) == (at, at, "pending")
    other = await journal.claim(make(tag="sm-CAS2"))
    await journal.resolve(other.id, "not_applied")
    assert await journal.mark_sent(other.id, at) is False
    assert await journal.mark_sent("no-such-entry", at) is False


async def test_resolve_keeps_a_known_order_id(journal: PurchaseJournal) -> None:
    entry = await journal.claim(make(tag="sm-ORD"))
    applied = await journal.resolve(entry.id, "applied", order_id="ord_42", payment_pending=True)
    assert (applied.state, applied.order_id, applied.payment_pending) == ("applied", "ord_42", True)
    assert applied.updated_at >= entry.updated_at
    later = await journal.resolve(entry.id, "unknown", note="x" * 900)
    assert (later.order_id, later.payment_pending, later.note) == ("ord_42", False, "x" * 500)
    assert await journal.get(entry.id) == later
    with pytest.raises(ConfigurationError, match="unknown journal state"):
        await journal.resolve(entry.id, "maybe")  # type: ignore[arg-type]
    with pytest.raises(JournalUnavailableError, match="no entry"):
        await journal.resolve("no-such-entry", "applied")
    with pytest.raises(JournalUnavailableError, match="no entry"):
        await journal.resolve("no-such-entry", "not_applied")


async def test_resolve_unsent_only_gives_up_an_unsent_pending_entry(
    journal: PurchaseJournal,
) -> None:
    unsent = await journal.claim(make(tag="sm-UNSENT"))
    done = await journal.resolve_unsent(unsent.id, "crashed before sending")
    assert done is not None
    assert (done.state, done.note) == ("not_applied", "crashed before sending")
    await journal.claim(make(tag="sm-UNSENT"))  # its evidence was freed
    sent = await journal.claim(make(tag="sm-SENT"))
    assert await journal.mark_sent(sent.id, time.time())
    kept = await journal.resolve_unsent(sent.id, "ignored")
    assert kept is not None
    assert (kept.state, kept.note) == ("pending", "")
    with pytest.raises(DuplicatePurchaseError):
        await journal.claim(make(tag="sm-SENT"))
    assert await journal.resolve_unsent("no-such-entry", "x") is None


async def test_entries_states_and_find_tag(journal: PurchaseJournal) -> None:
    a = await journal.claim(make(tag="sm-A", at=1000.0))
    b = await journal.claim(make(tag="sm-B", at=1001.0))
    c = await journal.claim(make(tag="sm-A", at=1002.0), allow_duplicate=True)
    d = await journal.claim(make(domains=("x.com",), at=999.0, operation="buy_domains"))
    await journal.resolve(b.id, "applied", order_id="ord_b")
    assert [e.id for e in await journal.entries()] == [d.id, a.id, b.id, c.id]
    assert [e.id for e in await journal.entries(states=["pending"])] == [d.id, a.id, c.id]
    assert [e.id for e in await journal.entries(states=("applied", "unknown"))] == [b.id]
    assert await journal.entries(states=[]) == []
    assert [e.id for e in await journal.find_tag("sm-A")] == [c.id, a.id]
    assert await journal.find_tag("sm-none") == []
    assert await journal.find_tag("") == []


async def test_reclaiming_the_same_entry(journal: PurchaseJournal) -> None:
    entry = await journal.claim(make(tag="sm-TWICE"))
    with pytest.raises(DuplicatePurchaseError):
        await journal.claim(entry)
    with pytest.raises(JournalUnavailableError):
        await journal.claim(entry, allow_duplicate=True)
    with pytest.raises(ConfigurationError, match="fresh pending"):
        await journal.claim(await journal.resolve(entry.id, "applied"))
    assert len(await journal.entries()) == 1


# -- Redis only: the keys --------------------------------------------------------------------------


async def dump_redis(server: RedisServer) -> dict[str, tuple[str, Any, int]]:
    """Every key of the server: ``{key: (type, value, ttl)}``."""
    r = await raw_client(server)
    try:
        out: dict[str, tuple[str, Any, int]] = {}
        async for raw in r.scan_iter(count=1000):
            key = raw.decode()
            kind = (await r.type(key)).decode()
            value: Any
            if kind == "hash":
                value = {k.decode(): v.decode() for k, v in (await r.hgetall(key)).items()}
            elif kind == "zset":
                value = [(m.decode(), s) for m, s in await r.zrange(key, 0, -1, withscores=True)]
            elif kind == "set":
                value = sorted(m.decode() for m in await r.smembers(key))
            else:
                value = (await r.get(key)).decode()
            out[key] = (kind, value, await r.ttl(key))
        return out
    finally:
        await r.aclose()


async def test_keys_hold_no_secret_and_never_expire(redis_server: RedisServer) -> None:
    password = "sequencer-PASSWORD-s3cr3t"
    body = {"domains": ["p.com"], "sequencer": {"platform": "x", "password": password}}
    journal = RedisPurchaseJournal.from_url(redis_server.url)
    try:
        entry = await journal.claim(
            make(tag="sm-SECRET", operation="buy_pre_warm_inboxes", body=body)
        )
        other = await journal.claim(make(domains=("q.com", "r.com"), operation="buy_domains"))
        await journal.mark_sent(entry.id, time.time())
        await journal.resolve(entry.id, "applied", order_id="ord_s")
    finally:
        await journal.aclose()
    keys = await dump_redis(redis_server)
    prefix = "scaledmail:journal"
    assert set(keys) == {
        f"{prefix}:entry:{entry.id}",
        f"{prefix}:entry:{other.id}",
        f"{prefix}:entries",
        f"{prefix}:tag:{_digest('sm-SECRET')}",
        *(f"{prefix}:ev:{KEY}:{_digest(ev)}" for ev in entry.evidence),
        *(f"{prefix}:ev:{KEY}:{_digest(ev)}" for ev in other.evidence),
    }
    kinds = {k: kind for k, (kind, _, _) in keys.items()}
    assert kinds[f"{prefix}:entries"] == "zset"
    assert kinds[f"{prefix}:entry:{entry.id}"] == "hash"
    for name, (_, _, ttl) in keys.items():
        assert ttl == -1, f"{name} expires: the journal is the durable record"
    text = json.dumps(keys)
    assert password not in text
    assert API_KEY not in text
    assert "SECRET_journal" not in text
    stored = keys[f"{prefix}:entry:{entry.id}"][1]
    assert stored["fingerprint"] == fingerprint(API_KEY, "buy_pre_warm_inboxes", body)
    assert json.loads(stored["domains"]) == []
    assert "sequencer" not in text
    assert set(stored) <= {a.name for a in attrs.fields(JournalEntry)}


async def test_custom_key_prefix(redis_server: RedisServer) -> None:
    journal = RedisPurchaseJournal.from_url(redis_server.url, key_prefix="{jr:test}")
    try:
        await journal.claim(make(tag="sm-PFX"))
        assert len(await journal.find_tag("sm-PFX")) == 1
    finally:
        await journal.aclose()
    assert all(k.startswith("{jr:test}:") for k in await dump_redis(redis_server))


async def test_a_malformed_entry_is_a_journal_error(redis_server: RedisServer) -> None:
    r = await raw_client(redis_server)
    journal = RedisPurchaseJournal.from_url(redis_server.url)
    try:
        await r.hset("scaledmail:journal:entry:bad", mapping={"id": "bad", "state": "weird"})
        with pytest.raises(JournalUnavailableError, match="malformed"):
            await journal.get("bad")
    finally:
        await journal.aclose()
        await r.aclose()


async def test_warns_when_redis_does_not_persist(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scaledmail_async")
    journal = RedisPurchaseJournal.from_url(redis_server.url)
    try:
        await journal.claim(make(tag="sm-AOF1"))
        await journal.claim(make(tag="sm-AOF2"))
    finally:
        await journal.aclose()
    warnings = [r for r in caplog.records if "AOF off" in r.getMessage()]
    assert len(warnings) == 1  # once per journal
    assert "appendfsync everysec" in warnings[0].getMessage()


# -- Redis only: processes, loops, threads, clients ------------------------------------------------

RACER = """
import asyncio, json, sys, time
import redis.asyncio as redis_asyncio
from scaledmail_async._journal import DuplicatePurchaseError, new_entry
from scaledmail_async._journal_redis import RedisPurchaseJournal, _digest

async def main(url, run, tags, me):
    journal = RedisPurchaseJournal.from_url(url)
    barrier = redis_asyncio.Redis.from_url(url)
    won, lost = [], []
    for i in range(tags):
        # Both processes reach tag i before either claims it: every tag is a real race.
        await barrier.incr(f"race:{run}:{i}")
        while int(await barrier.get(f"race:{run}:{i}")) < 2:
            await asyncio.sleep(0.0005)
        entry = new_entry(operation="create_order", tag=f"sm-{run}-{i}", domains=(),
                          fingerprint=me * 64, key_id="k" * 32, organization_id=None)
        try:
            await journal.claim(entry)
            won.append(i)
        except DuplicatePurchaseError as exc:
            assert exc.entry.fingerprint == ("b" if me == "a" else "a") * 64
            lost.append(i)
    await barrier.aclose()
    await journal.aclose()
    print(json.dumps({"won": won, "lost": lost}))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""


async def test_two_processes_race_for_each_tag(redis_server: RedisServer) -> None:
    tags, run = 50, "r1"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RACER,
            redis_server.url,
            run,
            str(tags),
            me,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for me in ("a", "b")
    ]
    results = []
    for proc in procs:
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    won_a, won_b = set(results[0]["won"]), set(results[1]["won"])
    assert not won_a & won_b, "a tag was claimed twice"
    assert won_a | won_b == set(range(tags))
    assert set(results[0]["lost"]) == won_b
    assert set(results[1]["lost"]) == won_a
    journal = RedisPurchaseJournal.from_url(redis_server.url)
    try:
        entries = await journal.entries()
        assert sorted(e.tag or "" for e in entries) == sorted(f"sm-{run}-{i}" for i in range(tags))
        for i in range(tags):
            assert len(await journal.find_tag(f"sm-{run}-{i}")) == 1
    finally:
        await journal.aclose()


def test_several_event_loops_and_threads(redis_server: RedisServer) -> None:
    journal = RedisPurchaseJournal.from_url(redis_server.url)
    errors: list[BaseException] = []

    async def work(prefix: str, n: int) -> None:
        try:
            for i in range(n):
                entry = await journal.claim(make(tag=f"sm-{prefix}-{i}"))
                assert await journal.mark_sent(entry.id, time.time())
            with pytest.raises(DuplicatePurchaseError):
                await journal.claim(make(tag=f"sm-{prefix}-0"))
        finally:
            await journal.aclose()  # closes this loop's client only

    asyncio.run(work("loop1", 5))
    asyncio.run(work("loop2", 5))  # a new loop after the first closed: a new client

    def in_thread(prefix: str) -> None:
        try:
            asyncio.run(work(prefix, 20))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=in_thread, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors

    async def count() -> int:
        try:
            return len(await journal.entries(states=["pending"]))
        finally:
            await journal.aclose()

    assert asyncio.run(count()) == 5 + 5 + 4 * 20


async def connections(r: Any) -> int:
    """Client connections to the server, not counting ``r``'s own."""
    return len(await r.client_list()) - 1


async def test_aclose_closes_its_own_clients_never_yours(redis_server: RedisServer) -> None:
    probe = await raw_client(redis_server)
    mine: Any = redis_asyncio.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        await probe.ping()
        owned = RedisPurchaseJournal.from_url(redis_server.url)
        await asyncio.gather(*(owned.claim(make(tag=f"sm-OWN-{i}")) for i in range(20)))
        assert await connections(probe) >= 1
        await owned.aclose()
        for _ in range(100):
            if await connections(probe) == 0:
                break
            await asyncio.sleep(0.02)
        assert await connections(probe) == 0
        # Used again after aclose(): it opens a new client (as SQLite reopens its connection).
        assert len(await owned.entries()) == 20
        await owned.aclose()

        # A client you pass (here with decode_responses=True) is used, never closed.
        given = RedisPurchaseJournal(mine)
        assert "redis://127.0.0.1:" in repr(given)
        entry = await given.claim(make(tag="sm-MINE", domains=("m.com",)))
        assert await given.get(entry.id) == entry
        with pytest.raises(DuplicatePurchaseError):
            await given.claim(make(tag="sm-MINE"))
        assert [e.id for e in await given.find_tag("sm-MINE")] == [entry.id]
        assert await given.mark_sent(entry.id, 5.0)
        assert (await given.resolve(entry.id, "applied", order_id="o")).order_id == "o"
        await given.aclose()
        assert await mine.ping()
        assert len(await given.entries()) == 21
    finally:
        await mine.aclose()
        await probe.aclose()


async def test_cancelled_claims_leave_the_connections_in_step(redis_server: RedisServer) -> None:
    """redis-py #2624: a cancelled caller must not leave a connection mid-reply. A claim whose
    script call had started is shielded and completes (pending, never sent); one still waiting
    its turn is never written; every later reply belongs to its own request."""
    journal = RedisPurchaseJournal.from_url(redis_server.url)
    n = 60
    try:
        tasks = [asyncio.create_task(journal.claim(make(tag=f"sm-CANCEL-{i}"))) for i in range(n)]
        await asyncio.sleep(0)  # every task starts; the first few are in flight
        for t in tasks[::2]:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results[::2])
        assert all(isinstance(r, JournalEntry) for r in results[1::2])
        await asyncio.sleep(0.2)  # the shielded calls finish
        written = {e.tag: e for e in await journal.entries()}
        assert {f"sm-CANCEL-{i}" for i in range(1, n, 2)} <= set(written)
        assert any(f"sm-CANCEL-{i}" in written for i in range(0, n, 2)), "none was in flight"
        assert all(e.state == "pending" and e.sent_at is None for e in written.values())
        # Each reply answers its own request: a written tag is a duplicate naming its own entry,
        # a tag never written is claimed now.
        for i in range(n):
            tag = f"sm-CANCEL-{i}"
            if tag in written:
                with pytest.raises(DuplicatePurchaseError) as info:
                    await journal.claim(make(tag=tag))
                assert info.value.entry == written[tag]
            else:
                assert (await journal.claim(make(tag=tag))).tag == tag
    finally:
        await journal.aclose()


# -- Redis only: outages ---------------------------------------------------------------------------


def assert_clean(exc: JournalUnavailableError, *, secret: str | None = None) -> None:
    """No Redis exception is kept (it could hold connection details), no password is shown."""
    assert exc.__cause__ is None
    assert exc.__context__ is None
    if secret is not None:
        assert secret not in str(exc)
        assert secret not in repr(exc.args)


async def test_killed_redis_is_unavailable_at_once(redis_server: RedisServer) -> None:
    journal = RedisPurchaseJournal.from_url(redis_server.url, socket_timeout=1.0)
    try:
        entry = await journal.claim(make(tag="sm-KILL"))
        redis_server.kill()
        for call in (
            lambda: journal.claim(make(tag="sm-KILL2")),
            lambda: journal.mark_sent(entry.id, time.time()),
        ):
            start = time.monotonic()
            with pytest.raises(JournalUnavailableError) as info:
                await call()
            assert time.monotonic() - start < 2.0 + 0.5  # bounded by 2 x socket_timeout
            message = str(info.value)
            assert redis_server.url in message
            assert "Nothing was sent" in message
            assert_clean(info.value)
        for outcome in (
            journal.resolve(entry.id, "applied"),
            journal.resolve(entry.id, "not_applied"),
            journal.resolve_unsent(entry.id, "gave up"),
        ):
            with pytest.raises(JournalUnavailableError, match="outcome was not recorded") as info:
                await outcome
            assert_clean(info.value)
        for read in (journal.get(entry.id), journal.entries(), journal.find_tag("sm-KILL")):
            with pytest.raises(JournalUnavailableError) as info:
                await read
            assert_clean(info.value)
    finally:
        await journal.aclose()
    # A URL with a password: the error names the store without it.
    secret = "hunter2-PASS-word"
    host = redis_server.url.replace("redis://", f"redis://user:{secret}@")
    with_pw = RedisPurchaseJournal.from_url(host, socket_timeout=0.5)
    try:
        with pytest.raises(JournalUnavailableError) as info:
            await with_pw.claim(make(tag="sm-PW"))
        assert "redis://user@127.0.0.1:" in str(info.value)
        # A refused connect: nothing can have been written, and the message does not hedge.
        assert "reached Redis anyway" not in str(info.value)
        assert_clean(info.value, secret=secret)
    finally:
        await with_pw.aclose()


async def test_a_wrong_password_is_unavailable_and_not_shown(redis_server: RedisServer) -> None:
    r = await raw_client(redis_server)
    good, bad = "right-PASS-1234", "wrong-PASS-5678"
    try:
        await r.config_set("requirepass", good)
        right = RedisPurchaseJournal.from_url(redis_server.url.replace("//", f"//:{good}@"))
        wrong = RedisPurchaseJournal.from_url(redis_server.url.replace("//", f"//:{bad}@"))
        try:
            await right.claim(make(tag="sm-AUTH"))
            with pytest.raises(JournalUnavailableError) as info:
                await wrong.claim(make(tag="sm-AUTH2"))
            assert "Nothing was sent" in str(info.value)
            assert_clean(info.value, secret=bad)
        finally:
            await right.aclose()
            await wrong.aclose()
    finally:
        await r.aclose()


async def test_hung_redis_is_unavailable_within_the_deadline(redis_server: RedisServer) -> None:
    timeout = 0.3
    journal = RedisPurchaseJournal.from_url(redis_server.url, socket_timeout=timeout)
    fresh = RedisPurchaseJournal.from_url(redis_server.url, socket_timeout=timeout)
    try:
        await journal.claim(make(tag="sm-HANG0"))
        hung = make(tag="sm-HANG1")
        redis_server.stop_responding()
        try:
            # A connection that was open, and a journal that must connect first.
            for store, entry in ((journal, hung), (fresh, make(tag="sm-HANG2"))):
                start = time.monotonic()
                with pytest.raises(JournalUnavailableError, match="Nothing was sent") as info:
                    await asyncio.wait_for(store.claim(entry), 10)
                elapsed = time.monotonic() - start
                assert elapsed < 2 * timeout + 0.4, elapsed
                assert_clean(info.value)
                # The reply was lost, not the request: the message says which entry may exist.
                assert f"entry {entry.id} is pending and was never sent" in str(info.value)
        finally:
            redis_server.resume()
        # Back: the journal works again. The claim that timed out may still have reached Redis
        # (its bytes were in the server's socket buffer): then it is a pending entry that was
        # never sent, which resolve_unsent gives up so its tag can be bought.
        await asyncio.wait_for(journal.claim(make(tag="sm-HANG3")), 5)
        late = await journal.get(hung.id)
        if late is not None:
            assert (late.state, late.sent_at) == ("pending", None)
            with pytest.raises(DuplicatePurchaseError):
                await journal.claim(make(tag="sm-HANG1"))
            await journal.resolve_unsent(hung.id, "journal timed out before sending")
        await journal.claim(make(tag="sm-HANG1"))
    finally:
        await journal.aclose()
        await fresh.aclose()


async def test_a_deep_queue_on_a_hung_redis_fails_within_one_deadline(
    redis_server: RedisServer,
) -> None:
    """At most a few calls per loop are in flight; when they find Redis down, the calls queued
    behind them fail at once instead of each waiting out its own deadline."""
    timeout = 0.3
    journal = RedisPurchaseJournal.from_url(redis_server.url, socket_timeout=timeout)
    try:
        await journal.claim(make(tag="sm-Q"))
        redis_server.stop_responding()
        try:
            start = time.monotonic()
            results = await asyncio.wait_for(
                asyncio.gather(
                    *(journal.claim(make(tag=f"sm-Q{i}")) for i in range(200)),
                    return_exceptions=True,
                ),
                30,
            )
            elapsed = time.monotonic() - start
        finally:
            redis_server.resume()
        assert all(isinstance(r, JournalUnavailableError) for r in results), results[:3]
        assert elapsed < 2 * (2 * timeout) + 0.5, elapsed
        # Calls made after the outage try Redis again.
        await asyncio.wait_for(journal.claim(make(tag="sm-Q-after")), 5)
    finally:
        await journal.aclose()
