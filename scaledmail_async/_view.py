"""``client.with_options(...)``: the same client with other per-call defaults.

A :class:`ClientView` owns nothing: it shares its client's session (connections), rate limiter,
purchase journal and lifecycle (closing the client closes every view), so making one per call
costs a small object and no connection (openai-python's ``with_options`` built a new HTTP client
per call until its issue 865). What it changes is what a call uses when the call itself does not
say: ``timeout``, ``deadline``, ``max_retries``, the lane (``priority``), ``organization_id`` and
headers sent besides the client's own (``extra_headers``; never ``Authorization``). A call's own
arguments still win; ``extra_headers`` of the view and of the call are merged (the call's win).

Every option is checked when the view is made (:class:`~scaledmail_async.ConfigurationError`), so
a bad value fails where it was written, before any request.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

from scaledmail_async._config import check_kind, check_setting
from scaledmail_async._generated.client_methods import OperationsMixin, RawResponseOperations
from scaledmail_async._lanes import Priority, check_priority, current_priority, priority
from scaledmail_async._transport import check_extra_headers
from scaledmail_async._types import UNSET, JSONValue, QueryValue, Unset
from scaledmail_async.errors import ConfigurationError, RequestValidationError

if TYPE_CHECKING:
    from scaledmail_async._client import ScaledmailClient
    from scaledmail_async._operation import Operation

__all__ = ["ClientView", "check_view_options"]


class _Options:
    """A view's settings; ``UNSET`` = the client's."""

    __slots__ = (
        "deadline",
        "extra_headers",
        "max_retries",
        "organization_id",
        "priority",
        "timeout",
    )

    def __init__(
        self,
        *,
        timeout: float | Unset | None,
        deadline: float | Unset | None,
        max_retries: int | Unset,
        priority: Priority | Unset,
        organization_id: str | Unset | None,
        extra_headers: Mapping[str, str],
    ) -> None:
        self.timeout = timeout
        self.deadline = deadline
        self.max_retries = max_retries
        self.priority = priority
        self.organization_id = organization_id
        self.extra_headers = extra_headers

    def merged(self, other: _Options) -> _Options:
        """These settings with ``other``'s set ones on top."""
        return _Options(
            timeout=self.timeout if other.timeout is UNSET else other.timeout,
            deadline=self.deadline if other.deadline is UNSET else other.deadline,
            max_retries=self.max_retries if other.max_retries is UNSET else other.max_retries,
            priority=self.priority if other.priority is UNSET else other.priority,
            organization_id=(
                self.organization_id if other.organization_id is UNSET else other.organization_id
            ),
            extra_headers={**self.extra_headers, **other.extra_headers},
        )


def check_view_options(
    *,
    timeout: object,
    deadline: object,
    max_retries: object,
    priority: object,
    organization_id: object,
    extra_headers: object,
) -> _Options:
    """The options of :meth:`ScaledmailClient.with_options`, checked with the client's own
    setting checks (:class:`ConfigurationError` naming ``with_options(<option>=...)``)."""
    seconds = "a finite number of seconds > 0"
    if timeout is not UNSET:
        check_setting(
            "with_options(timeout=...)", timeout, what=seconds, none="for no per-attempt timeout"
        )
    if deadline is not UNSET:
        check_setting(
            "with_options(deadline=...)", deadline, what=seconds, none="for no overall deadline"
        )
    if max_retries is not UNSET:
        check_setting(
            "with_options(max_retries=...)",
            max_retries,
            what="an int >= 0",
            zero_ok=True,
            integer=True,
        )
    lane: Priority | Unset = UNSET
    if priority is not UNSET:
        lane = check_priority(priority, field="with_options(priority=...)")
    if organization_id is not UNSET:
        check_kind(
            "with_options(organization_id=...)",
            organization_id,
            lambda v: isinstance(v, str) and bool(v.strip()),
            what="a non-blank str (an organization id, see get_organizations())",
            none="to send none",
        )
    try:
        headers = check_extra_headers(extra_headers) or {}
    except RequestValidationError as exc:
        raise ConfigurationError(f"with_options(extra_headers=...): {exc.message}") from None
    return _Options(
        timeout=cast("float | Unset | None", timeout),  # checked above
        deadline=cast("float | Unset | None", deadline),
        max_retries=cast("int | Unset", max_retries),
        priority=lane,
        organization_id=cast("str | Unset | None", organization_id),
        extra_headers=headers,
    )


async def _in_lane(lane: Priority, call: Coroutine[Any, Any, Any]) -> Any:
    with priority(lane):
        return await call


class ClientView(OperationsMixin):
    """A :class:`~scaledmail_async.ScaledmailClient` with other per-call defaults
    (``client.with_options(...)``). Every operation, ``request()``, ``with_raw_response`` and
    ``with_options()`` work as on the client; the rest (``journal``, ``limiter``,
    ``reconcile()``...) is the client's. Not a context manager: close the client."""

    __slots__ = ("_client", "_options")

    def __init__(self, client: ScaledmailClient, options: _Options) -> None:
        self._client = client
        self._options = options

    def __repr__(self) -> str:
        set_ = {
            name: getattr(self._options, name)
            for name in ("timeout", "deadline", "max_retries", "priority", "organization_id")
            if getattr(self._options, name) is not UNSET
        }
        if self._options.extra_headers:
            set_["extra_headers"] = sorted(self._options.extra_headers)
        shown = ", ".join(f"{k}={v!r}" for k, v in set_.items())
        return f"<ClientView of {self._client!r} with {shown or 'no changes'}>"

    def __getattr__(self, name: str) -> Any:
        # Everything a view does not change is its client's (journal, limiter, reconcile...).
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._client, name)

    @property
    def client(self) -> ScaledmailClient:
        """The client this view calls through."""
        return self._client

    @property
    def organization_id(self) -> str | None:
        """The organization calls use when they do not say."""
        org = self._options.organization_id
        return self._client.organization_id if org is UNSET else org

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        retries = self._options.max_retries
        return self._client.max_retries if retries is UNSET else retries

    @property
    def with_raw_response(self) -> RawResponseOperations:
        """The same operations returning :class:`~scaledmail_async.APIResponse`."""
        return RawResponseOperations(self)

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
        """This view with more options changed (see :meth:`ScaledmailClient.with_options`)."""
        more = check_view_options(
            timeout=timeout,
            deadline=deadline,
            max_retries=max_retries,
            priority=priority,
            organization_id=organization_id,
            extra_headers=extra_headers,
        )
        return ClientView(self._client, self._options.merged(more))

    def _headers(self, extra_headers: Mapping[str, str] | None) -> Mapping[str, str] | None:
        mine = self._options.extra_headers
        if not mine:
            return extra_headers
        if not extra_headers:
            return mine
        if not isinstance(extra_headers, Mapping):
            return extra_headers  # refused by the client's check, with its message
        return {**mine, **extra_headers}

    def _lane(self, call: Coroutine[Any, Any, Any]) -> Coroutine[Any, Any, Any]:
        lane = self._options.priority
        if lane is UNSET or current_priority() is not None:
            return call
        return _in_lane(lane, call)

    def _execute(
        self,
        op: Operation,
        *,
        path_params: dict[str, str],
        query: dict[str, Any],
        body: Any,
        organization_id: str | Unset | None = UNSET,
        timeout: float | Unset | None = UNSET,
        deadline: float | Unset | None = UNSET,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue] | None = None,
        allow_duplicate: bool = False,
        exactly_once: bool = False,
        raw: bool = False,
    ) -> Coroutine[Any, Any, Any]:
        """The client's ``_execute`` with this view's defaults filled in."""
        options = self._options
        retries = options.max_retries
        return self._lane(
            self._client._execute(
                op,
                path_params=path_params,
                query=query,
                body=body,
                organization_id=(
                    options.organization_id if organization_id is UNSET else organization_id
                ),
                timeout=options.timeout if timeout is UNSET else timeout,
                deadline=options.deadline if deadline is UNSET else deadline,
                extra_headers=self._headers(extra_headers),
                extra_query=extra_query,
                allow_duplicate=allow_duplicate,
                exactly_once=exactly_once,
                raw=raw,
                max_retries=None if retries is UNSET else retries,
            )
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
        """:meth:`ScaledmailClient.request` with this view's defaults (its ``extra_headers``
        and ``max_retries`` included)."""
        options = self._options
        retries = options.max_retries
        result: JSONValue = await self._lane(
            self._client._request(
                method,
                path,
                params=params,
                json=json,
                retry=retry,
                organization_id=(
                    options.organization_id if organization_id is UNSET else organization_id
                ),
                timeout=options.timeout if timeout is UNSET else timeout,
                deadline=options.deadline if deadline is UNSET else deadline,
                extra_headers=options.extra_headers or None,
                max_retries=None if retries is UNSET else retries,
            )
        )
        return result
