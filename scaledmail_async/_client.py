"""``ScaledmailClient``: configuration, lifecycle and the ``_execute`` entry of the generated code.

The client validates a call (path parameters, query, body) before anything is sent, injects the
``organization_id``, hands the request to :class:`~scaledmail_async._transport.Transport` (retries,
limiter, deadline, errors) and structures the 2xx body into the operation's response type.

Hot path (``bench/overhead.py``, a polling loop against a local server): a call without query or
body (``get_order_details``, ``get_mailboxes_by_domain_id``...) whose exact values were validated
before reuses the URL built then (:meth:`ScaledmailClient._call_key`, bounded cache); the body is
decoded once, from bytes, by msgspec's JSON decoder when the application has msgspec installed
(never a dependency; its result is exactly ``json.loads``'s, see :func:`_json_loads`), then
structured by the converter's generated fast path.

Its size (about 900 lines): the constructor's settings, the lifecycle that fails calls in flight on
``aclose()``, and the journaled-spend path with reconciliation (the purchase-journal methods are
the public ``reconcile`` API and share the call's lifecycle, so they stay on the client; their
mechanics live in ``_purchases`` and ``_reconcile``).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import aiohttp
import cattrs
from yarl import URL

from scaledmail_async._config import (
    call_flag_problem,
    check_call_seconds,
    check_choice,
    check_kind,
    check_setting,
    shown,
)
from scaledmail_async._converter import structure
from scaledmail_async._env import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    JOURNAL_ENV,
    ORGANIZATION_ENV,
    env_value,
    resolve,
)
from scaledmail_async._generated.client_methods import OperationsMixin, RawResponseOperations
from scaledmail_async._journal import (
    JournalEntry,
    PurchaseJournal,
    journal_from_setting,
    key_id,
)
from scaledmail_async._lanes import Priority
from scaledmail_async._limiter import (
    InProcessLimiter,
    PauseOnlyLimiter,
    RateLimiter,
    _key_id,
    pause_only_limiter,
    shared_limiter,
)
from scaledmail_async._limiter_redis import env_redis_limiter
from scaledmail_async._logging import logger, setup_from_env
from scaledmail_async._metadata import request_id_from
from scaledmail_async._operation import Operation
from scaledmail_async._prepare import RequestBuilder
from scaledmail_async._purchases import JournaledSpend, SpendWatch
from scaledmail_async._reconcile import (
    Reads,
    Reconciliation,
    evidence_kind,
    find_on_server,
    reconcile_entry,
)
from scaledmail_async._response import APIResponse
from scaledmail_async._retry import BackoffPolicy
from scaledmail_async._transport import (
    DEFAULT_MAX_RESPONSE_SIZE,
    RawResult,
    Transport,
    check_extra_headers,
    default_user_agent,
)
from scaledmail_async._types import UNSET, JSONValue, QueryValue, Unset
from scaledmail_async._urls import (
    validate_base_url,
)
from scaledmail_async._view import ClientView, check_view_options
from scaledmail_async.errors import (
    REDACTED,
    ClientClosedError,
    ConfigurationError,
    MissingAPIKeyError,
    OutcomeUnknownError,
    RequestValidationError,
    ResponseDecodeError,
)

if TYPE_CHECKING:  # OpenTelemetry (extra otel): imported only when a client enables it
    from scaledmail_async._otel import Telemetry

__all__ = ["DEFAULT_BASE_URL", "MissingAPIKeyError", "ScaledmailClient"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
#: At most this many sends of one exactly-once spend (each after a conclusive absence).
_MAX_SENDS = 3


class ScaledmailClient(OperationsMixin):
    """Async client of the Scaledmail API.

    Use it as ``async with ScaledmailClient() as client:`` (or call :meth:`aclose`); a client
    garbage-collected with its own session still open emits a ``ResourceWarning``. Every
    operation of the API is a method (``await client.get_orders()``);
    :meth:`request` reaches endpoints the spec does not have yet.

    Args:
        api_key: the API key (from https://app.scaledmail.com/settings); defaults to the
            ``SCALEDMAIL_API_KEY`` environment variable. Never shown in reprs, logs or errors.
        organization_id: sent as the ``organization_id`` query parameter on every operation except
            ``get_organizations``; defaults to ``SCALEDMAIL_ORGANIZATION_ID``. A per-call
            ``organization_id=`` overrides it (``None`` sends none). Operations the spec marks
            ``x-organization-id: required`` (all but ``get_organizations`` and ``get_packages``)
            raise ``MissingOrganizationError`` before sending when there is none.
        base_url: the API root; defaults to ``SCALEDMAIL_BASE_URL`` when set and not blank,
            else production (``https://server.scaledmail.com/api/v1``). ``http://`` is accepted
            only for loopback hosts, from the argument and the variable alike.
        timeout: per-attempt timeout in seconds (``None``: none). Time waiting in the rate limiter
            does not count against it.
        max_retries: retries after the first attempt. What is retried depends on the
            operation's retry class: ``safe`` operations on connection errors, timeouts, 408,
            429 and 500/502/503/504; spending (``pre-send-only``) operations only when the
            request provably was not processed (connection not opened, or 429); any other
            failure of a spending call raises :class:`OutcomeUnknownError`.
        rate_limit: requests per second for this key (the server allows 5); ``None`` turns the
            client-side pacing off. All clients of one key in a process share one limiter. The
            server's pause is honoured either way: with ``None``, a 429 still pauses every call
            of the key until its ``Retry-After`` (or body ``retryAfter``), then releases them
            spread out, and nothing is paced once they are released
            (:class:`~scaledmail_async._limiter.PauseOnlyLimiter`).
        session: an :class:`aiohttp.ClientSession` to use; the client never closes it. By default
            the client creates its own, lazily, in the running event loop, and closes it. (On its
            own session the client switches off aiohttp's silent one-time re-send of idempotent
            requests after a dropped connection, so every attempt goes through the limiter and
            counts against ``max_retries``; a session passed in is left as it is.)
        critical_rate_limit: requests per minute of the "critical" domain operations (search,
            suggest, buy; the server allows 15); ``None`` disables that extra limit.
        backoff_base: first retry's maximum backoff in seconds (full jitter, doubling per retry).
        backoff_max: the backoff cap in seconds.
        max_retry_after: the longest server-hinted wait (``Retry-After``, 429 ``retryAfter``) the
            client honours; a longer hint raises instead of retrying early.
        deadline: default overall budget in seconds per call (limiter waits, attempts and
            backoff), ``None`` for none; a per-call ``deadline=`` overrides it.
        connect_timeout: the part of ``timeout`` allowed for getting a connection.
        user_agent: text appended to the SDK's ``User-Agent``.
        trace_configs: aiohttp ``TraceConfig`` objects for the owned session; hooks see
            ``trace_request_ctx == {"attempt": n, "operation": operation_id}``.
        limiter: a :class:`~scaledmail_async._limiter.RateLimiter` to use instead of the shared
            in-process one, e.g. :class:`~scaledmail_async.RedisRateLimiter` (one limit for every
            process and host of the key). With none given, ``SCALEDMAIL_REDIS_URL`` (when set)
            makes every client of the process use a Redis limiter at that URL. A client never
            closes a limiter it was given.
        priority: the lane of this client's calls made outside ``with priority(...)``:
            ``"interactive"`` (default; served first) or ``"bulk"`` (a batch worker's client: its
            calls wait behind the key's interactive calls of this process, or of every process
            with a Redis limiter). The bulk helpers choose ``"bulk"`` themselves.
        max_response_size: the largest response body read, in bytes (default 16 MiB; ``None``:
            no limit). A declared ``Content-Length`` over it is refused before reading; a chunked
            or compressed body stops being read once over it. A 2xx over it raises
            :class:`ResponseTooLargeError` (for a spending call: the purchase went through); an
            error status keeps its own error, with the body cut.
        telemetry: OpenTelemetry spans and metrics of every call (extra ``otel``): ``True`` for
            the global tracer and meter providers, a :class:`scaledmail_async.otel.Telemetry` for
            others; ``None`` (default): off, and ``opentelemetry`` is never imported. See
            :func:`scaledmail_async.otel.instrument` for a client made elsewhere.
        sleep, clock, wall_clock, random: injectable ``asyncio.sleep``, ``time.monotonic``,
            ``time.time`` and ``random.random`` (tests).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        organization_id: str | None = None,
        base_url: str | None = None,
        timeout: float | None = 30.0,
        max_retries: int = 3,
        rate_limit: float | None = 5.0,
        session: aiohttp.ClientSession | None = None,
        critical_rate_limit: int | None = 15,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float = 60.0,
        deadline: float | None = None,
        connect_timeout: float = 10.0,
        user_agent: str | None = None,
        trace_configs: Iterable[aiohttp.TraceConfig] | None = None,
        limiter: RateLimiter | None = None,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
        priority: Priority = "interactive",
        journal: PurchaseJournal | None = None,
        settle_window: float = 300.0,
        clock_skew: float = 300.0,
        telemetry: bool | Telemetry | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        random: Callable[[], float] = random.random,
    ) -> None:
        setup_from_env()
        trace_configs = _check_options(
            api_key=api_key,
            organization_id=organization_id,
            base_url=base_url,
            session=session,
            user_agent=user_agent,
            trace_configs=trace_configs,
            limiter=limiter,
            sleep=sleep,
            clock=clock,
            wall_clock=wall_clock,
            random=random,
        )
        otel_settings = None
        if telemetry is not None and telemetry is not False:
            # OpenTelemetry (scaledmail_async._otel): imported only when asked for.
            try:
                from scaledmail_async._otel import check_telemetry
            except ImportError as exc:
                raise ConfigurationError(str(exc)) from None
            otel_settings = check_telemetry(telemetry)
        if api_key is None:
            api_key = env_value(API_KEY_ENV)
        if not isinstance(api_key, str) or not api_key.strip():
            raise MissingAPIKeyError(
                "no Scaledmail API key: pass ScaledmailClient(api_key=...) or set the "
                "SCALEDMAIL_API_KEY environment variable. Get a key at "
                "https://app.scaledmail.com/settings."
            )
        api_key = api_key.strip()
        if any(ch.isspace() or not ch.isprintable() for ch in api_key):
            raise MissingAPIKeyError(
                "the Scaledmail API key contains whitespace or control characters; copy it "
                "again from https://app.scaledmail.com/settings"
            )
        org = resolve(organization_id, argument_name="organization_id", env=ORGANIZATION_ENV)
        organization_id, org_source = org.value, org.source
        if organization_id is not None and not _is_text(organization_id):
            raise ConfigurationError(
                f"{org_source} must be a non-blank string of valid Unicode text (an organization "
                "id such as 'recXXXXXXXXXXXXXX', see get_organizations()), or unset"
            )
        if session is not None and trace_configs:
            raise ConfigurationError(
                "trace_configs apply to the client's own session; add them to yours"
            )
        _check_settings(
            timeout=timeout,
            connect_timeout=connect_timeout,
            deadline=deadline,
            rate_limit=rate_limit,
            critical_rate_limit=critical_rate_limit,
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            max_response_size=max_response_size,
            priority=priority,
        )
        url = resolve(
            base_url, argument_name="base_url", env=BASE_URL_ENV, default=DEFAULT_BASE_URL
        )
        assert url.value is not None
        self._base_url = validate_base_url(url.value, name=url.source)
        self._release_limiter: Callable[[], None] = _no_release
        self.organization_id: str | None = organization_id
        self.deadline = deadline
        if limiter is None and rate_limit is not None:
            limiter = env_redis_limiter(
                api_key, rate=rate_limit, critical_limit=critical_rate_limit
            )
        if limiter is None and rate_limit is not None:
            shared = shared_limiter(api_key, rate=rate_limit, critical_limit=critical_rate_limit)
            release = shared.lease(rate_limit, critical_rate_limit)
            self._release_limiter = release
            # A client dropped without aclose() must not keep its limits on the key forever.
            weakref.finalize(self, release)
            limiter = shared
        if limiter is None:
            # rate_limit=None turns the pacing off, not the server's pause: a 429 still pauses
            # the key's calls until the hint and releases them spread out, on this client's
            # clock and sleep (shared with the key's other clients on the same clock).
            limiter = pause_only_limiter(api_key, clock=clock, sleep=sleep)
        if limiter is not None:
            # A limiter shared beyond the process (Redis) keys its state by a hash of the key.
            bind = getattr(limiter, "for_api_key", None)
            if callable(bind):
                limiter = bind(_key_id(api_key))
        if journal is None:
            setting = env_value(JOURNAL_ENV)
            if setting is not None:
                journal = journal_from_setting(setting, source=f"the {JOURNAL_ENV} variable")
        if journal is not None and not isinstance(journal, PurchaseJournal):
            raise ConfigurationError(
                f"journal must be a PurchaseJournal (e.g. SQLitePurchaseJournal('purchases.db')),"
                f" not {type(journal).__name__}"
            )
        #: The purchase journal every spend of this client is recorded in (``None``: none).
        self.journal: PurchaseJournal | None = journal
        self.settle_window, self.clock_skew = _check_windows(settle_window, clock_skew)
        self._transport = Transport(
            api_key=api_key,
            user_agent=default_user_agent(user_agent),
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            backoff=BackoffPolicy(backoff_base, backoff_max, random),
            max_retry_after=max_retry_after,
            limiter=limiter,
            session=session,
            trace_configs=trace_configs,
            sleep=sleep,
            clock=clock,
            wall_clock=wall_clock,
            max_response_size=max_response_size,
            priority=priority,
        )
        self._clock = clock
        #: The request-preparation stage (validation, encoding, URLs; see ``_prepare``).
        self._requests = RequestBuilder(self._base_url)
        self._inflight: set[asyncio.Task[Any]] = set()
        self._close_cancelled: set[asyncio.Task[Any]] = set()
        self._drained: asyncio.Event | None = None
        self._closed = False
        if otel_settings is not None:  # OpenTelemetry: the hooks of the client and transport
            otel_settings._enable(self)

    # -- properties / lifecycle ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API root, without a trailing slash."""
        return self._base_url

    @property
    def limiter(self) -> RateLimiter | None:
        """The rate limiter in use (shared per API key); with ``rate_limit=None`` the
        :class:`~scaledmail_async._limiter.PauseOnlyLimiter` that only honours 429 pauses."""
        return self._transport.limiter

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._transport.max_retries

    @property
    def with_raw_response(self) -> RawResponseOperations:
        """The same operations, returning :class:`APIResponse` around the parsed model.

        The wrapper adds status, headers, retries taken, limiter wait and elapsed time:
        ``await client.with_raw_response.get_orders()``.
        """
        return RawResponseOperations(self)

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    def __repr__(self) -> str:
        limiter = self._transport.limiter
        pace = (
            "off"
            if limiter is None or isinstance(limiter, PauseOnlyLimiter)
            else (
                f"{limiter.current_rate():.3g}/s"
                if isinstance(limiter, InProcessLimiter)
                else type(limiter).__name__
            )
        )
        return (
            f"ScaledmailClient(base_url={self._base_url!r}, organization_id="
            f"{self.organization_id!r}, api_key={REDACTED}, rate_limit={pace}, "
            f"max_retries={self.max_retries}{', closed' if self._closed else ''})"
        )

    async def __aenter__(self) -> ScaledmailClient:
        if self._closed:
            raise ClientClosedError("this ScaledmailClient is closed; create a new one")
        self._transport.get_session()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        # A client dropped with its own aiohttp session still open leaks the session's
        # connections; aiohttp's own warning then points into the SDK's internals. Name the
        # client and the fix instead (never the API key). Bound as a default argument: module
        # globals may be gone at interpreter exit.
        transport = getattr(self, "_transport", None)
        if transport is None or not transport.owned_session_open():
            return
        _warn(
            f"Unclosed ScaledmailClient (base_url={self._base_url!r}): its aiohttp session is "
            "still open. Use `async with ScaledmailClient(...) as client:` or "
            "`await client.aclose()`",
            ResourceWarning,
            source=self,
        )

    async def aclose(self) -> None:
        """Close the client: fail calls still in flight with :class:`ClientClosedError`, then close
        the owned aiohttp session (a session passed in stays open). Idempotent.

        A spending call whose request may already have been written fails with
        :class:`ClientClosedOutcomeUnknownError` (also an :class:`OutcomeUnknownError`: reconcile
        by its tag); one still waiting for the rate limiter, a retry or a connection fails with a
        plain :class:`ClientClosedError`."""
        if self._closed:
            return
        self._closed = True
        self._transport.closed = True
        self._release_limiter()
        current = asyncio.current_task()
        pending = [t for t in self._inflight if t is not current and not t.done()]
        if pending:
            self._drained = asyncio.Event()
            for task in pending:
                self._close_cancelled.add(task)
                task.cancel()
            try:
                await asyncio.wait_for(self._drained.wait(), timeout=5.0)
            except TimeoutError:
                pass
        await self._transport.aclose()

    def _enter(self) -> asyncio.Task[Any] | None:
        if self._closed:
            raise ClientClosedError("this ScaledmailClient is closed; create a new one")
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        return task

    def _leave(self, task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            self._inflight.discard(task)
            if task in self._close_cancelled:
                # aclose() cancelled this call but something below absorbed the cancellation:
                # take the request back so the caller's task is not left "cancelling".
                self._close_cancelled.discard(task)
                if task.cancelling():
                    task.uncancel()
            if self._drained is not None and not (self._inflight - {asyncio.current_task()}):
                self._drained.set()

    def _cancelled_by_close(self) -> bool:
        """Whether :meth:`aclose` alone cancelled the current task (its call then fails with a
        :class:`ClientClosedError`, not a cancellation)."""
        task = asyncio.current_task()
        return task is not None and task in self._close_cancelled and task.cancelling() <= 1

    def _closed_error(
        self, task: asyncio.Task[Any] | None, operation: str
    ) -> ClientClosedError | None:
        """If ``task`` was cancelled by :meth:`aclose`, undo that cancel and return the error
        (:class:`ClientClosedOutcomeUnknownError` for a spend whose request may have been sent)."""
        interrupted = self._transport.take_interrupted(task)
        if task is not None and task in self._close_cancelled:
            self._close_cancelled.discard(task)
            if task.uncancel() > 0:
                return None  # someone else cancelled the task too: let the cancellation through
            if interrupted is not None:
                return interrupted
            return ClientClosedError(
                f"{operation}: the ScaledmailClient was closed while the call was in flight"
            )
        return None

    # -- calls ----------------------------------------------------------------------------------

    def _call_deadline(
        self, timeout: float | Unset | None, deadline: float | Unset | None, operation: str
    ) -> float | None:
        """The deadline of one call, after checking its ``timeout``/``deadline`` arguments
        (finite numbers > 0; :class:`RequestValidationError` otherwise, nothing sent).

        ``UNSET`` means the client's setting, ``None`` none (no per-attempt timeout, no overall
        deadline), as for ``organization_id``.
        """
        if timeout is not UNSET and timeout is not None:
            check_call_seconds("timeout", timeout, operation)
        if deadline is UNSET:
            return self.deadline
        if deadline is None:
            return None
        check_call_seconds("deadline", deadline, operation)
        return deadline

    async def _execute(
        self,
        op: Operation,
        *,
        path_params: Mapping[str, Any],
        query: Mapping[str, Any],
        body: Any,
        organization_id: str | Unset | None = UNSET,
        timeout: float | Unset | None = UNSET,  # noqa: ASYNC109
        deadline: float | Unset | None = UNSET,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue] | None = None,
        allow_duplicate: bool = False,
        exactly_once: bool = False,
        raw: bool = False,
        max_retries: int | None = None,
    ) -> Any:
        """Validate, send and decode one operation (the entry of the generated api functions).

        Returns the structured ``op.response_type`` value, or an :class:`APIResponse` with
        ``raw=True``. Raises :class:`RequestValidationError` before sending for bad input.
        ``organization_id``: ``UNSET`` = the client's, ``None`` = none. ``timeout`` (per attempt)
        and ``deadline`` (whole call, seconds): ``None``/``UNSET`` = the client's setting.
        ``extra_headers``/``extra_query``: sent besides the call's own (checked first);
        ``max_retries``: this call's (from :meth:`with_options`), ``None`` = the client's.
        """
        task = self._enter()
        watch: SpendWatch | None = None  # a spend without a journal: warn if cut off once sent
        otel = self._transport.otel  # OpenTelemetry: the call's span, ended in ``finally``
        otel_call = None if otel is None else otel.operation(op)
        try:
            if (
                allow_duplicate is not False
                or exactly_once is not False
                or (
                    type(organization_id) is not str
                    and organization_id is not UNSET
                    and organization_id is not None
                )
            ):
                _check_call_options(op.operation_id, organization_id, allow_duplicate, exactly_once)
            # (1) prepare: validate and build (cached for the polling GETs).
            if extra_headers is not None:
                extra_headers = check_extra_headers(extra_headers, op.operation_id)
            prepared = self._requests.prepare(
                op,
                path_params,
                query,
                body,
                organization_id,
                self.organization_id,
                extra_query,
            )
            url, shown = prepared.url, prepared.shown_url
            # (2) send.
            if timeout is UNSET and deadline is UNSET:
                call_deadline = self.deadline
            else:
                call_deadline = self._call_deadline(timeout, deadline, op.operation_id)
            if op.spends_money and (self.journal is not None or exactly_once):
                return await self._spend(
                    op,
                    url=url,
                    shown=shown,
                    data=prepared.data,
                    tag=prepared.tag,
                    wire=prepared.wire,
                    organization_id=organization_id,
                    timeout=timeout,
                    deadline=call_deadline,
                    allow_duplicate=allow_duplicate,
                    exactly_once=exactly_once,
                    raw=raw,
                    extra_headers=extra_headers,
                    max_retries=max_retries,
                )
            if op.spends_money:
                watch = SpendWatch(op, tag=prepared.tag, wire=prepared.wire)
            result = await self._transport.send(
                operation=op.operation_id,
                method=op.method,
                url=url,
                shown_url=shown,
                data=prepared.data,
                retry=op.retry,
                group=op.rate_limit_group,
                tag=prepared.tag,
                timeout=timeout,
                deadline=call_deadline,
                before_send=None if watch is None else watch.mark_sent,
                extra_headers=extra_headers,
                max_retries=max_retries,
            )
            watch = None  # answered: nothing to warn about
            # (3) decode.
            parsed = self._decode(op, result, shown)
            return self._answer(op, result, parsed, raw)
        except asyncio.CancelledError as exc:
            err = self._closed_error(task, op.operation_id)
            if err is not None:
                raise err from None
            if watch is not None:
                watch.interrupted(exc)
            raise
        except (KeyboardInterrupt, SystemExit) as exc:
            if watch is not None:
                watch.interrupted(exc)
            raise
        finally:
            self._leave(task)
            if otel_call is not None:  # OpenTelemetry: the outcome is the exception in flight
                otel_call.end()

    # -- purchases: the journal, reconciliation, exactly once -----------------------------------

    async def _spend(
        self,
        op: Operation,
        *,
        url: URL,
        shown: str,
        data: bytes | None,
        tag: str | None,
        wire: Any,
        organization_id: str | Unset | None,
        timeout: float | Unset | None,  # noqa: ASYNC109
        deadline: float | None,
        allow_duplicate: bool,
        exactly_once: bool,
        raw: bool,
        extra_headers: Mapping[str, str] | None,
        max_retries: int | None,
    ) -> Any:
        """A spend through the purchase journal (see :mod:`scaledmail_async._purchases`).
        ``extra_headers`` (checked) and ``max_retries`` go to the transport as given."""
        journal = self.journal
        if journal is None:
            raise ConfigurationError(
                f"{op.operation_id}: exactly_once=True needs a purchase journal: pass "
                "ScaledmailClient(journal=SQLitePurchaseJournal('purchases.db')) or set "
                "SCALEDMAIL_JOURNAL"
            )
        if exactly_once and raw:
            raise ConfigurationError(
                f"{op.operation_id}: exactly_once=True is not available through "
                "with_raw_response (a purchase found by reconciliation has no HTTP response)"
            )
        org: str | None = None
        if op.sends_organization_id:
            org = self.organization_id if organization_id is UNSET else organization_id
        start = self._clock()
        sends = 0
        while True:
            spend = JournaledSpend(
                journal,
                op,
                api_key=self._transport.api_key,
                wire=wire,
                tag=tag,
                organization_id=org,
            )
            await spend.claim(allow_duplicate=allow_duplicate)
            sends += 1
            try:
                result = await self._transport.send(
                    operation=op.operation_id,
                    method=op.method,
                    url=url,
                    shown_url=shown,
                    data=data,
                    retry=op.retry,
                    group=op.rate_limit_group,
                    tag=tag,
                    timeout=timeout,
                    deadline=deadline,
                    before_send=spend.mark_sent,
                    extra_headers=extra_headers,
                    max_retries=max_retries,
                )
            except Exception as exc:
                await spend.failed(exc)
                if not (exactly_once and isinstance(exc, OutcomeUnknownError)):
                    raise
                outcome = await self._settle(spend.entry, start, deadline)
                if outcome.state == "applied":
                    return self._reconciled(op, outcome)
                if outcome.state == "not_applied" and sends < _MAX_SENDS:
                    logger.info(
                        "%s: reconciliation found the purchase absent (%s): sending it again",
                        op.operation_id,
                        outcome.evidence,
                    )
                    continue
                exc.entry = outcome.entry or spend.entry
                raise
            except BaseException as exc:  # cancelled, interrupted: record, then let it through
                try:
                    await spend.interrupted(exc, closing=self._cancelled_by_close())
                except BaseException:
                    pass
                raise
            try:
                parsed = self._decode(op, result, shown)
            except ResponseDecodeError as exc:
                await spend.failed(exc)
                raise
            await spend.applied(parsed)
            return self._answer(op, result, parsed, raw)

    async def _settle(
        self, entry: JournalEntry, start: float, deadline: float | None
    ) -> Reconciliation:
        """Reconcile ``entry`` until conclusive, or until the call's deadline."""
        while True:
            outcome = await reconcile_entry(
                self,
                entry,
                Reads(self),
                settle_window=self.settle_window,
                clock_skew=self.clock_skew,
            )
            if outcome.state != "unknown" or outcome.conclusive_at is None:
                return outcome
            entry = outcome.entry or entry
            wait = min(
                max(outcome.conclusive_at - time.time(), 0.0), max(1.0, self.settle_window / 10)
            )
            if deadline is not None and self._clock() - start + wait > deadline:
                return outcome
            await self._transport.sleep(wait + 0.01)

    def _reconciled(self, op: Operation, outcome: Reconciliation) -> Any:
        """The answer of a purchase found by reconciliation: the response model with the order
        id (``id``/``payment_id``) and ``reconciled``/``evidence`` in its extra fields."""
        found: dict[str, Any] = {"reconciled": True, "evidence": outcome.evidence}
        if outcome.order_id:
            found.update(id=outcome.order_id, payment_id=outcome.order_id)
        if op.response_type is None:
            return found
        try:
            return structure(found, op.response_type)
        except Exception:
            return structure({}, op.response_type)

    def _windows(
        self, settle_window: float | None, clock_skew: float | None
    ) -> tuple[float, float]:
        """One reconciliation's settle window and clock-skew allowance: the client's unless
        given."""
        return _check_windows(
            self.settle_window if settle_window is None else settle_window,
            self.clock_skew if clock_skew is None else clock_skew,
        )

    async def reconcile(
        self,
        tag_or_entry: str | JournalEntry,
        *,
        settle_window: float | None = None,
        clock_skew: float | None = None,
    ) -> Reconciliation:
        """Find out on the server whether a spend happened, and record it in the journal.

        ``tag_or_entry``: a :class:`JournalEntry`, an entry id, or an order tag (the journal's
        newest unresolved entry with that tag; with no journal, or no entry, the orders are
        searched for the tag without a time bound, and a tag not found stays ``"unknown"``).
        How each spend is found (by tag in order details, or by domain names in the purchased
        domains) comes from the spec's ``x-reconcile``; see :mod:`scaledmail_async._reconcile`.
        Not found within ``settle_window`` seconds (default: the client's, 300) after the
        request was sent stays ``"unknown"``; after it, ``"not_applied"``. Never re-sends.
        """
        settle, skew = self._windows(settle_window, clock_skew)
        journal = self.journal
        entry: JournalEntry | None = None
        if isinstance(tag_or_entry, JournalEntry):
            entry = tag_or_entry
            if journal is not None:
                entry = await journal.get(entry.id) or entry
        elif isinstance(tag_or_entry, str) and tag_or_entry.strip():
            if journal is not None:
                entry = await journal.get(tag_or_entry)
                if entry is None:
                    tagged = await journal.find_tag(tag_or_entry)
                    unresolved = [e for e in tagged if e.state in ("pending", "unknown")]
                    chosen = unresolved or tagged
                    entry = chosen[0] if chosen else None
        else:
            raise RequestValidationError(
                "must be a JournalEntry, an entry id or an order tag", field="tag_or_entry"
            )
        reads = Reads(self)
        if entry is None or journal is None:
            tag = tag_or_entry if isinstance(tag_or_entry, str) else tag_or_entry.tag
            found = await find_on_server(
                reads,
                by=evidence_kind(entry.operation) if entry is not None else "tag",
                tag=tag,
                domains=entry.domains if entry is not None else (),
                organization_id=(
                    entry.organization_id if entry is not None else self.organization_id
                ),
                since=None,
                clock_skew=skew,
            )
            now = time.time()
            if found is not None:
                return Reconciliation("applied", found[0], found[1], entry, now)
            return Reconciliation(
                "unknown", None, f"no order with tag {tag!r} (no journal entry)", entry, now
            )
        return await reconcile_entry(self, entry, reads, settle_window=settle, clock_skew=skew)

    async def reconcile_pending(
        self, *, settle_window: float | None = None, clock_skew: float | None = None
    ) -> list[Reconciliation]:
        """Reconcile every ``pending`` and ``unknown`` journal entry of this client's API key
        (what a restarted job calls first); returns one :class:`Reconciliation` per entry,
        oldest first. Lists are read once for all entries."""
        journal = self.journal
        if journal is None:
            raise ConfigurationError(
                "reconcile_pending() needs a purchase journal: pass "
                "ScaledmailClient(journal=...) or set SCALEDMAIL_JOURNAL"
            )
        settle, skew = self._windows(settle_window, clock_skew)
        mine = key_id(self._transport.api_key)
        reads = Reads(self)
        results = []
        for entry in await journal.entries(states=("pending", "unknown")):
            if entry.key_id == mine:
                results.append(
                    await reconcile_entry(self, entry, reads, settle_window=settle, clock_skew=skew)
                )
        return results

    @staticmethod
    def _answer(op: Operation, result: RawResult, parsed: Any, raw: bool) -> Any:
        """The call's return value: ``parsed``, or with ``raw`` the :class:`APIResponse`."""
        if not raw:
            return parsed
        return APIResponse(
            parsed=parsed,
            status_code=result.status,
            headers=result.headers,
            retries_taken=result.retries,
            limiter_wait=result.limiter_wait,
            elapsed=result.elapsed,
            operation=op.operation_id,
            request_id=request_id_from(result.headers),
            limiter_state=result.limiter_state(),
        )

    def _decode(self, op: Operation, result: RawResult, shown: str) -> Any:
        body = result.body
        try:
            data = _json_loads(body) if body and body.strip() else None
        except ValueError as exc:
            raise self._decode_error(op, result, shown, f"the body is not JSON ({exc})") from exc
        if op.response_type is None:
            return data
        if data is None:
            # A 2xx with no body (204, or an empty 200) from a write whose answer is undocumented
            # is a success: it becomes the model with every field UNSET when the model allows it.
            try:
                return structure({}, op.response_type)
            except Exception:
                raise self._decode_error(op, result, shown, "the body is empty") from None
        try:
            return structure(data, op.response_type)
        except Exception as exc:
            if isinstance(exc, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
                detail = "; ".join(cattrs.transform_error(exc))
            else:
                detail = f"{type(exc).__name__}: {exc}"
            detail = self._transport.redact(detail)
            raise self._decode_error(
                op, result, shown, f"the body does not have the documented shape: {detail}"
            ) from exc

    def _decode_error(
        self, op: Operation, result: RawResult, shown: str, why: str
    ) -> ResponseDecodeError:
        text = self._transport.redact(result.body.decode("utf-8", errors="replace"))
        if op.spends_money:
            why += (
                ". The server accepted the request (HTTP 2xx): the purchase went through. Do not"
                " retry it; find the order by its tag with get_orders / get_order_details"
            )
        return ResponseDecodeError(
            f"{op.operation_id}: HTTP {result.status} from {op.method} {shown}: {why}",
            method=op.method,
            url=shown,
            status_code=result.status,
            text=text,
            operation=op.operation_id,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: object = None,
        retry: Literal["safe", "pre-send-only"] | None = None,
        organization_id: str | Unset | None = UNSET,
        timeout: float | Unset | None = UNSET,  # noqa: ASYNC109
        deadline: float | Unset | None = UNSET,
    ) -> JSONValue:
        """Call an endpoint the spec does not describe yet; return the parsed JSON (or ``None``).

        The result is typed :data:`~scaledmail_async.JSONValue` (what JSON can hold): narrow it
        (``isinstance(data, dict)``) or ``cast`` it to the shape you expect.

        Same auth, limiter, retries and errors as the generated operations. ``path`` is relative to
        ``base_url`` (``"/domain-masking"``) and used as given (encode ids yourself). GET, HEAD,
        OPTIONS and DELETE are retried as ``"safe"``; other methods only when the request provably
        was not sent (``"pre-send-only"``) unless ``retry="safe"`` is passed. ``organization_id``
        is added to ``params`` like for the operations (client default unless overridden, not
        added when ``params`` already has one).
        """
        return await self._request(
            method,
            path,
            params=params,
            json=json,
            retry=retry,
            organization_id=organization_id,
            timeout=timeout,
            deadline=deadline,
        )

    def with_options(
        self,
        *,
        timeout: float | Unset | None = UNSET,
        deadline: float | Unset | None = UNSET,
        max_retries: int | Unset = UNSET,
        priority: Priority | Unset = UNSET,
        organization_id: str | Unset | None = UNSET,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ClientView:
        """This client with other defaults for the calls made through the result.

        ``await client.with_options(timeout=5, max_retries=0).get_orders()``. The view shares
        this client's session, rate limiter, purchase journal and lifecycle (no new connection;
        make one per call if you like; closing the client closes it). Each option left out
        keeps the client's; ``None`` means none (``timeout``, ``deadline``, ``organization_id``),
        as for a call's own arguments, which still win. ``priority`` is the lane of the view's
        calls (an enclosing ``with priority(...)`` wins); ``extra_headers`` are sent besides
        the client's own headers (``Authorization``, which carries the API key, cannot be
        replaced). Bad values raise :class:`ConfigurationError` here.
        """
        options = check_view_options(
            timeout=timeout,
            deadline=deadline,
            max_retries=max_retries,
            priority=priority,
            organization_id=organization_id,
            extra_headers=extra_headers,
        )
        return ClientView(self, options)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None,
        json: object,
        retry: Literal["safe", "pre-send-only"] | None,
        organization_id: str | Unset | None,
        timeout: float | Unset | None,  # noqa: ASYNC109
        deadline: float | Unset | None,
        extra_headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
    ) -> JSONValue:
        """:meth:`request`, with a view's ``extra_headers`` / ``max_retries``."""
        shown_path = path if isinstance(path, str) else repr(path)
        operation = f"{str(method).upper()} {shown_path}"
        task = self._enter()
        otel = self._transport.otel  # OpenTelemetry: the call's span, ended in ``finally``
        otel_call = None if otel is None else otel.request(str(method))
        try:
            _check_call_options(operation, organization_id, retry=retry)
            method, prepared = self._requests.prepare_raw(
                method, path, params, json, organization_id, self.organization_id
            )
            call_deadline = self._call_deadline(timeout, deadline, operation)
            url, shown, data = prepared.url, prepared.shown_url, prepared.data
            result = await self._transport.send(
                operation=operation,
                method=method,
                url=url,
                shown_url=shown,
                data=data,
                retry=retry or ("safe" if method in _SAFE_METHODS else "pre-send-only"),
                group=None,
                timeout=timeout,
                deadline=call_deadline,
                max_retries=max_retries,
                extra_headers=extra_headers,
            )
            if not result.body:
                return None
            try:
                return cast(JSONValue, _json_loads(result.body))
            except ValueError as exc:
                raise ResponseDecodeError(
                    f"{operation}: HTTP {result.status}: the body is not JSON ({exc})",
                    method=method,
                    url=shown,
                    status_code=result.status,
                    text=self._transport.redact(result.body.decode("utf-8", errors="replace")),
                    operation=operation,
                ) from exc
        except asyncio.CancelledError:
            err = self._closed_error(task, operation)
            if err is not None:
                raise err from None
            raise
        finally:
            self._leave(task)
            if otel_call is not None:  # OpenTelemetry: the outcome is the exception in flight
                otel_call.end()


try:  # optional: never a dependency of the SDK, used when the application has it installed
    from msgspec.json import Decoder as _MsgspecDecoder
except ImportError:  # pragma: no cover - depends on the environment
    _fast_loads: Callable[[bytes], Any] | None = None
else:
    _fast_loads = _MsgspecDecoder().decode


def _json_loads(body: bytes) -> Any:
    """``json.loads(body)``, computed by msgspec's decoder when it is installed (2-3x faster on
    API bodies). Anything msgspec refuses or reads differently from ``json.loads`` (``NaN``,
    out-of-range numbers, lone surrogates, a UTF-16 or BOM-prefixed body, invalid JSON) makes
    it raise, and ``json.loads`` then gives its own result or error, so the result is always
    exactly ``json.loads``'s."""
    if _fast_loads is not None:
        try:
            return _fast_loads(body)
        except Exception:  # json.loads decides: its own result, or its own error
            pass
    try:
        return json.loads(body)
    except ValueError:
        raise
    except Exception as exc:  # RecursionError: nested too deeply; the callers expect ValueError
        raise ValueError(f"{type(exc).__name__}: {exc}") from None


def _check_options(
    *,
    api_key: object,
    organization_id: object,
    base_url: object,
    session: object,
    user_agent: object,
    trace_configs: object,
    limiter: object,
    sleep: object,
    clock: object,
    wall_clock: object,
    random: object,
) -> tuple[aiohttp.TraceConfig, ...] | None:
    """Refuse a constructor option of the wrong type (``ConfigurationError`` naming it, what it
    takes and what was given: a number as given, anything else by its type only, as an API key
    may be in the wrong argument). Returns ``trace_configs`` as a tuple (an iterator is read
    once, here)."""
    if api_key is not None and not isinstance(api_key, str):
        raise ConfigurationError(
            "api_key must be a str (your key, from https://app.scaledmail.com/settings), or None "
            f"to read SCALEDMAIL_API_KEY; got {type(api_key).__name__}"
        )
    check_kind(
        "organization_id",
        organization_id,
        lambda v: isinstance(v, str),
        what="a str (an organization id such as 'recXXXXXXXXXXXXXX', see get_organizations())",
        none="for SCALEDMAIL_ORGANIZATION_ID (or no organization)",
    )
    check_kind(
        "base_url",
        base_url,
        lambda v: isinstance(v, str),
        what="a str such as 'https://server.scaledmail.com/api/v1'",
        none="for SCALEDMAIL_BASE_URL (or production)",
    )
    check_kind(
        "session",
        session,
        lambda v: isinstance(v, aiohttp.ClientSession),
        what="an aiohttp.ClientSession",
        none="for the client's own",
    )
    check_kind(
        "user_agent",
        user_agent,
        lambda v: isinstance(v, str),
        what="a str (appended to the SDK's User-Agent)",
        none="for the SDK's alone",
    )
    configs: tuple[aiohttp.TraceConfig, ...] | None = None
    if trace_configs is not None:
        given = shown(trace_configs)
        if isinstance(trace_configs, Iterable) and not isinstance(trace_configs, str | bytes):
            configs = tuple(trace_configs)
            wrong = sorted({type(t).__name__ for t in configs if not _is_trace_config(t)})
            given = f"a {type(trace_configs).__name__} holding {', '.join(wrong)}"
        if configs is None or not all(_is_trace_config(t) for t in configs):
            raise ConfigurationError(
                f"trace_configs must be a list of aiohttp.TraceConfig, or None for none; "
                f"got {given}"
            )
    check_kind(
        "limiter",
        limiter,
        lambda v: (
            isinstance(v, RateLimiter)
            or (
                callable(getattr(v, "acquire", None))
                and callable(getattr(v, "report_rate_limited", None))
            )
        ),
        what="a RateLimiter (InProcessLimiter, RedisRateLimiter or your own implementation)",
        none="for the key's shared in-process limiter (or SCALEDMAIL_REDIS_URL)",
    )
    for name, value, like in (
        ("sleep", sleep, "asyncio.sleep"),
        ("clock", clock, "time.monotonic"),
        ("wall_clock", wall_clock, "time.time"),
        ("random", random, "random.random"),
    ):
        check_kind(name, value, callable, what=f"a callable like {like}")
    return configs


def _check_settings(
    *,
    timeout: object,
    connect_timeout: object,
    deadline: object,
    rate_limit: object,
    critical_rate_limit: object,
    max_retries: object,
    max_retry_after: object,
    max_response_size: object,
    priority: object,
) -> None:
    """Refuse a constructor setting that is not a finite number in range (``_config``): an
    infinite timeout or rate would only fail later, on every call, with an ``OverflowError``."""
    check_setting(
        "max_response_size",
        max_response_size,
        what="an int of bytes > 0",
        none="for no limit",
        integer=True,
    )
    check_choice("priority", priority, ("interactive", "bulk"))
    seconds = "a finite number of seconds > 0"
    check_setting("timeout", timeout, what=seconds, none="for no per-attempt timeout")
    check_setting("connect_timeout", connect_timeout, what=seconds)
    check_setting("deadline", deadline, what=seconds, none="for no overall deadline")
    check_setting(
        "rate_limit",
        rate_limit,
        what="a finite number of requests per second > 0 (the API allows 5)",
        none="to turn the client-side limiter off",
    )
    check_setting(
        "critical_rate_limit",
        critical_rate_limit,
        what="an int >= 1 of requests per minute (the API allows 15)",
        none="to turn the critical group's limit off",
        integer=True,
    )
    check_setting("max_retries", max_retries, what="an int >= 0", zero_ok=True, integer=True)
    check_setting(
        "max_retry_after",
        max_retry_after,
        what="a finite number of seconds >= 0 (the longest server-hinted wait honoured)",
        zero_ok=True,
    )


def _check_call_options(
    operation: str,
    organization_id: object,
    allow_duplicate: object = False,
    exactly_once: object = False,
    retry: object = None,
) -> None:
    """Refuse a per-call option of the wrong type (:class:`RequestValidationError` naming it,
    before anything is sent); ``timeout``/``deadline`` are checked by ``_call_deadline``."""
    if retry is not None and retry not in ("safe", "pre-send-only"):
        raise RequestValidationError(
            "must be 'safe' or 'pre-send-only', or None for the method's default; "
            f"got {shown(retry, word=True)}",
            field="retry",
            operation=operation,
        )
    if not (
        organization_id is UNSET or organization_id is None or isinstance(organization_id, str)
    ):
        raise RequestValidationError(
            "must be a str (an organization id such as 'recXXXXXXXXXXXXXX'), None to send none, "
            f"or left out for the client's; got {type(organization_id).__name__}",
            field="organization_id",
            operation=operation,
        )
    for name, value in (("allow_duplicate", allow_duplicate), ("exactly_once", exactly_once)):
        problem = call_flag_problem(value)
        if problem is not None:
            raise RequestValidationError(problem, field=name, operation=operation)


def _is_trace_config(value: object) -> bool:
    return isinstance(value, aiohttp.TraceConfig)


def _is_text(value: object) -> bool:
    """A non-blank ``str`` that can be sent (UTF-8 encodable: no lone surrogate)."""
    if not isinstance(value, str) or not value.strip():
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_windows(settle_window: float, clock_skew: float) -> tuple[float, float]:
    """Check reconciliation's ``settle_window`` and ``clock_skew`` (finite seconds >= 0)."""
    for name, value in (("settle_window", settle_window), ("clock_skew", clock_skew)):
        check_setting(name, value, what="a finite number of seconds >= 0", zero_ok=True)
    return float(settle_window), float(clock_skew)


def _no_release() -> None:
    """The limiter release of a client that holds no shared-limiter lease."""
